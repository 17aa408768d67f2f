package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/faultproxy"
)

// patience bounds every wait in these tests.
const patience = 10 * time.Second

// backend is an echo server that reports each connection's end.
type backend struct {
	l     net.Listener
	wg    sync.WaitGroup
	ended chan struct{} // one value per connection that ended
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{l: l, ended: make(chan struct{}, 64)}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
				b.ended <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		b.wg.Wait()
	})
	return b
}

func newProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial connects through p and waits until the proxy holds the pair.
func dial(t *testing.T, p *faultproxy.Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	echo(t, c, r, "hello\n") // a round trip: the pair exists
	return c, r
}

// echo writes line and wants it back.
func echo(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(patience))
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != line {
		t.Fatalf("echo: got %q, %v; want %q", got, err, line)
	}
}

// wantEOF waits for the proxy to close c.
func wantEOF(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	if b, err := r.ReadByte(); err == nil {
		t.Fatalf("read %q, want the connection closed", b)
	} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the proxy did not close the connection")
	}
}

// wantSilence checks that nothing arrives on c for a moment. It can only
// pass wrongly (too short a look), never fail wrongly.
func wantSilence(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b, err := r.ReadByte()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read %q, %v through a stalled link", b, err)
	}
	_ = c.SetReadDeadline(time.Time{})
}

func TestForwardAndDrop(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.l.Addr().String())
	c1, r1 := dial(t, p)
	c2, r2 := dial(t, p)
	if n := p.Count(); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	ids := p.Conns()
	if len(ids) != 2 || ids[0] >= ids[1] {
		t.Fatalf("Conns = %v, want two ids oldest first", ids)
	}
	if n := p.Drop(ids[0]); n != 1 {
		t.Fatalf("Drop = %d, want 1", n)
	}
	wantEOF(t, c1, r1)
	<-b.ended
	echo(t, c2, r2, "still here\n")
	if n := p.Drop(ids[0]); n != 0 {
		t.Fatalf("a second Drop of the same connection = %d, want 0", n)
	}
	if n := p.DropAll(); n != 1 {
		t.Fatalf("DropAll = %d, want 1", n)
	}
	wantEOF(t, c2, r2)
	if st := p.Stats(); st.Accepted != 2 || st.Dropped != 2 || st.DialFailed != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	// New connections are accepted after drops.
	c3, r3 := dial(t, p)
	echo(t, c3, r3, "again\n")
}

func TestStallConnsHoldsDataAndClose(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.l.Addr().String())
	c1, r1 := dial(t, p)
	c2, r2 := dial(t, p)
	id1 := p.Conns()[0]
	if n := p.StallConns(id1); n != 1 {
		t.Fatalf("StallConns = %d, want 1", n)
	}
	if n := p.StallConns(id1); n != 0 {
		t.Fatalf("stalling a stalled connection = %d, want 0", n)
	}
	if _, err := io.WriteString(c1, "held\n"); err != nil {
		t.Fatal(err)
	}
	wantSilence(t, c1, r1)
	echo(t, c2, r2, "the other one flows\n") // only c1 is stalled
	p.ResumeConns(id1)
	got, err := r1.ReadString('\n')
	if err != nil || got != "held\n" {
		t.Fatalf("after resuming: %q, %v", got, err)
	}

	// A close on a stalled link is held as well: a dead link carries
	// no FIN. The backend sees it once the link carries again.
	p.StallConns(id1)
	c1.Close()
	select {
	case <-b.ended:
		t.Fatal("the backend saw the close through a stalled link")
	case <-time.After(200 * time.Millisecond):
	}
	p.ResumeConns(id1)
	select {
	case <-b.ended:
	case <-time.After(patience):
		t.Fatal("the backend never saw the close after the link came back")
	}
	if st := p.Stats(); st.Stalled != 2 {
		t.Fatalf("Stats.Stalled = %d, want 2", st.Stalled)
	}
}

func TestStallEverythingThenDrop(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.l.Addr().String())
	c1, r1 := dial(t, p)
	p.Stall()
	if _, err := io.WriteString(c1, "lost\n"); err != nil {
		t.Fatal(err)
	}
	wantSilence(t, c1, r1)
	// A connection made while stalled is stalled too.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if _, err := io.WriteString(c2, "also lost\n"); err != nil {
		t.Fatal(err)
	}
	wantSilence(t, c2, r2)
	waitCount(t, p, 2)
	// Dropping a stalled link closes it at once.
	p.DropAll()
	wantEOF(t, c1, r1)
	wantEOF(t, c2, r2)
	p.Resume()
	c3, r3 := dial(t, p)
	echo(t, c3, r3, "flowing\n")
}

// waitCount waits until p holds n connections (they are set up on
// goroutines of their own).
func waitCount(t *testing.T, p *faultproxy.Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for p.Count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy holds %d connections, want %d", p.Count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPick(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.l.Addr().String())
	r := rand.New(rand.NewPCG(1, 2))
	if ids := p.Pick(r, 0.5); ids != nil {
		t.Fatalf("Pick with nothing open = %v", ids)
	}
	for range 10 {
		dial(t, p)
	}
	for _, tc := range []struct {
		share float64
		want  int
	}{{0, 0}, {0.01, 1}, {0.5, 5}, {1, 10}, {3, 10}} {
		ids := p.Pick(r, tc.share)
		if len(ids) != tc.want {
			t.Errorf("Pick(%v) picked %d, want %d", tc.share, len(ids), tc.want)
		}
		seen := map[faultproxy.ID]bool{}
		for i, id := range ids {
			if seen[id] || i > 0 && ids[i-1] > id {
				t.Errorf("Pick(%v) = %v: not distinct and sorted", tc.share, ids)
			}
			seen[id] = true
		}
	}
	// The same seed picks the same connections.
	a := p.Pick(rand.New(rand.NewPCG(7, 7)), 0.3)
	c := p.Pick(rand.New(rand.NewPCG(7, 7)), 0.3)
	if len(a) != len(c) || len(a) != 3 {
		t.Fatalf("picks %v and %v", a, c)
	}
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("the same seed picked %v and %v", a, c)
		}
	}
}

func TestTargetDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := l.Addr().String()
	l.Close() // nothing listens there now
	p := newProxy(t, target)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantEOF(t, c, bufio.NewReader(c))
	if st := p.Stats(); st.Accepted != 1 || st.DialFailed != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	b := newBackend(t)
	p, err := faultproxy.NewWith(b.l.Addr().String(), faultproxy.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	c, r := dial(t, p)
	p.Stall() // stalled goroutines must end too
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantEOF(t, c, r)
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("the proxy accepts after Close")
	}
	if st := p.Stats(); st.Dropped != 0 {
		t.Fatalf("Close counted %d drops as faults", st.Dropped)
	}
}

func TestKeepClientIP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	p, err := faultproxy.NewWith(l.Addr().String(), faultproxy.Options{KeepClientIP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7)}}
	c, err := d.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case ip := <-seen:
		if ip != "127.0.0.7" {
			t.Fatalf("the target saw %s, want the client's 127.0.0.7", ip)
		}
	case <-time.After(patience):
		t.Fatal("the target saw no connection")
	}
}
