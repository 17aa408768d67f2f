package delivery

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
)

// BenchmarkLoopbackFloor measures what a broadcast costs below xpushd:
// for each of 1,000 loopback TCP connections, the "server" writes a
// notification-sized message, the "client" reads it and writes an
// ack-sized answer, and the server reads that: the syscalls of one
// delivery and its ack, with no XML, no store and no TLS, server and
// client in one process on the same cores as a load tool would be. Its
// deliveries/s is a ceiling for xpush-bench's broadcast figure on this
// machine:
//
//	go test -run '^$' -bench LoopbackFloor ./server/delivery
func BenchmarkLoopbackFloor(b *testing.B) {
	const conns = 1000
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	note := bytes.Repeat([]byte("n"), 400) // a notification IQ is ~400 bytes
	ack := bytes.Repeat([]byte("a"), 100)  // its result ~100
	servers := make([]net.Conn, conns)
	var clients sync.WaitGroup
	for i := range conns {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		servers[i] = s
		clients.Go(func() { // the client: read a notification, ack it
			defer c.Close()
			buf := make([]byte, len(note))
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(ack); err != nil {
					return
				}
			}
		})
	}
	// The server reads acks on a goroutine per connection, as xpushd does.
	acks := make(chan struct{}, conns)
	var readers sync.WaitGroup
	for _, s := range servers {
		readers.Go(func() {
			buf := make([]byte, len(ack))
			for {
				if _, err := io.ReadFull(s, buf); err != nil {
					return
				}
				acks <- struct{}{}
			}
		})
	}
	parts := runtime.GOMAXPROCS(0)
	for b.Loop() {
		var push sync.WaitGroup
		for p := range parts {
			push.Go(func() {
				for _, s := range servers[p*conns/parts : (p+1)*conns/parts] {
					if _, err := s.Write(note); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		push.Wait()
		for range conns {
			<-acks
		}
	}
	b.ReportMetric(float64(b.N*conns)/b.Elapsed().Seconds(), "deliveries/s")
	for _, s := range servers {
		s.Close()
	}
	readers.Wait()
	clients.Wait()
}
