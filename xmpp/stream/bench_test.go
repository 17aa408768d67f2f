package stream_test

import (
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// loopReader yields head once, then body over and over, filling every
// read like a busy socket.
type loopReader struct {
	head string
	body string
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if len(l.head) > 0 {
		n := copy(p, l.head)
		l.head = l.head[n:]
		return n, nil
	}
	total := 0
	for len(p) > 0 {
		n := copy(p, l.body[l.off:])
		p = p[n:]
		total += n
		l.off = (l.off + n) % len(l.body)
	}
	return total, nil
}

// BenchmarkDecodeNotification reads the paper's notification iq off a
// stream that carries nothing else, one per op.
func BenchmarkDecodeNotification(b *testing.B) {
	body := notifyIQ + " "
	d := stream.NewDecoder(&loopReader{head: header, body: body}, stream.Limits{})
	if _, err := d.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		e, err := d.Next()
		if err != nil || e.Name.Local != "iq" {
			b.Fatal(e, err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "stanzas/s")
}

// BenchmarkEncodeNotification writes the paper's notification iq into a
// reused buffer, as a session's writer does.
func BenchmarkEncodeNotification(b *testing.B) {
	n := stanza.New("androidpn:iq:notification", "notification").
		AddText("id", "ffe31f20").AddText("title", "Hello World").AddText("message", "hello world ").
		Add(stanza.New("androidpn:iq:notification", "uri"))
	iq := stanza.IQ(stanza.TypeSet, "88-0", "sam@127.0.0.1/AndroidpnClient", n)
	buf := iq.AppendXML(nil, stanza.NSClient)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	count := 0
	for b.Loop() {
		buf = iq.AppendXML(buf[:0], stanza.NSClient)
		count++
	}
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "stanzas/s")
}

// blockReader yields data, then blocks until stop is closed, like a
// connection whose peer has gone quiet.
type blockReader struct {
	data []byte
	stop <-chan struct{}
}

func (r *blockReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.stop
	return 0, io.EOF
}

// idleSignal calls idle.Done when the Decoder reads again after it has
// had all of want bytes: it is about to block.
type idleSignal struct {
	r         io.Reader
	want, got int
	idle      *sync.WaitGroup
	signaled  bool
}

func (s *idleSignal) Read(p []byte) (int, error) {
	if s.got >= s.want && !s.signaled {
		s.signaled = true
		s.idle.Done()
	}
	n, err := s.r.Read(p)
	s.got += n
	return n, err
}

// idleHeap starts n decoders that each read a stream header and one
// stanza (st) and then block waiting for more, and returns the heap and
// the goroutine stack they hold, per decoder. The goroutines, readers and
// pipes exist before the first measurement, so only what the codec
// allocates is counted as heap (and the runtime's record of each blocked
// goroutine, about a hundred bytes).
//
// With release, each decoder waits the way a server that waits outside the
// Decoder does: Release, then Fill.
func idleHeap(tb testing.TB, n int, pipe, release bool, st string) (heap, stack float64) {
	data := []byte(header + "\n" + st)
	var (
		start   = make(chan struct{})
		stop    = make(chan struct{})
		idle    sync.WaitGroup
		done    sync.WaitGroup
		conns   []net.Conn
		readers = make([]*idleSignal, n)
	)
	idle.Add(n)
	for i := range readers {
		var src io.Reader
		if pipe {
			c1, c2 := net.Pipe()
			conns = append(conns, c1, c2)
			src = c2
			done.Add(1)
			go func() {
				defer done.Done()
				<-start
				c1.Write(data) // returns once the decoder has read it all
			}()
		} else {
			src = &blockReader{data: data, stop: stop}
		}
		readers[i] = &idleSignal{r: src, want: len(data), idle: &idle}
	}
	errs := make(chan error, n)
	done.Add(n)
	for _, r := range readers {
		go func() {
			defer done.Done()
			<-start
			d := stream.NewDecoder(r, stream.Limits{})
			if _, err := d.ReadHeader(); err != nil {
				errs <- err
				idle.Done()
				return
			}
			if _, err := d.Next(); err != nil {
				errs <- err
				idle.Done()
				return
			}
			if release {
				if d.Buffered() {
					errs <- errors.New("bytes buffered after the stanza")
				}
				d.Release()
				d.Fill() // blocks until the end of the test
				return
			}
			d.Next() // blocks until the end of the test
		}()
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	close(start)
	idle.Wait()
	runtime.GC()
	runtime.GC() // the second drops what sync.Pool kept
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(data) // counted in both measurements, not freed between

	close(stop)
	for _, c := range conns {
		c.Close()
	}
	done.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("decoder: %v", err)
	}
	heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	stack = float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	return heap, stack
}

// BenchmarkIdleDecoderHeap reports the heap that an idle session's
// Decoder holds (heap-B/idle-decoder) after a stream header and the
// paper's notification, read from a blocking reader or a net.Pipe. The
// goroutine stack of the blocked reader is reported apart
// (stack-B/idle-decoder): it is not the codec's. The pipe's writer
// goroutines end during the measurement, which makes its stack figure
// meaningless.
func BenchmarkIdleDecoderHeap(b *testing.B) {
	const n = 10000
	for _, mode := range []struct {
		name          string
		pipe, release bool
	}{{"reader", false, false}, {"pipe", true, false}, {"reader-released", false, true}, {"pipe-released", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			var heap, stack float64
			for b.Loop() {
				heap, stack = idleHeap(b, n, mode.pipe, mode.release, notifyIQ)
			}
			b.ReportMetric(heap, "heap-B/idle-decoder")
			b.ReportMetric(stack, "stack-B/idle-decoder")
		})
	}
}

// bigStanzas are stanzas after which encoding/xml holds much more than an
// idle session should (its buffer and its stack): the Decoder must shed
// that before it waits.
var bigStanzas = map[string]string{
	"200 KiB of text":   `<message><body>` + strings.Repeat("a", 200<<10) + `</body></message>`,
	"200 KiB attribute": `<message id="` + strings.Repeat("a", 200<<10) + `"/>`,
	"namespace declarations 32 deep": strings.Repeat(`<a`+strings.ReplaceAll(manyAttrs(31), " a", " xmlns:a")+`>`, 32) +
		strings.Repeat(`</a>`, 32),
}

// TestIdleDecoderHeap holds the codec to its budget: under 4 KiB of heap
// per idle session waiting in Next, and under 1 KiB per session waiting
// after Release, after the paper's notification and after stanzas that
// made encoding/xml grow.
func TestIdleDecoderHeap(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("starts thousands of goroutines; the race detector changes what they allocate")
	}
	const budget, releasedBudget = 4096, 1024
	cases := map[string]string{"notification": notifyIQ}
	for name, st := range bigStanzas {
		cases[name] = st
	}
	for name, st := range cases {
		for _, pipe := range []bool{false, true} {
			for _, release := range []bool{false, true} {
				n := 1000
				if len(st) > 100<<10 {
					n = 50
				}
				heap, stack := idleHeap(t, n, pipe, release, st)
				t.Logf("%s, pipe=%v, released=%v: %.0f bytes of heap and %.0f of stack per idle decoder", name, pipe, release, heap, stack)
				b := budget
				if release {
					b = releasedBudget
				}
				if heap > float64(b) {
					t.Errorf("%s, pipe=%v, released=%v: an idle decoder holds %.0f bytes of heap, budget %d", name, pipe, release, heap, b)
				}
			}
		}
	}
}
