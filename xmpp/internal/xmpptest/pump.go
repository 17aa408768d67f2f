package xmpptest

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// errPumpClosed is returned by a pump's Read after Server.Close.
var errPumpClosed = errors.New("xmpptest: server closed")

// pump drains one direction of a connection into memory from its own
// goroutine, so that the writer never blocks on net.Pipe, and hands the
// bytes out one at a time: the decoder reading through it never holds a
// byte the script has not asked for, which lets ExpectWhitespace look at
// what comes next.
type pump struct {
	mu       sync.Mutex
	buf      []byte // received, not yet read
	taken    []byte // read since the last take
	err      error  // the connection's read error, once it failed
	closed   bool
	discard  bool // drop what arrives (benchmarks)
	deadline time.Time
	wake     chan struct{} // signalled when buf or err changes
	done     chan struct{} // closed when the goroutine returns
}

func newPump(r io.Reader) *pump {
	p := &pump{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go p.run(r)
	return p
}

func (p *pump) run(r io.Reader) {
	defer close(p.done)
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		p.mu.Lock()
		if !p.discard {
			p.buf = append(p.buf, chunk[:n]...)
		}
		if err != nil {
			p.err = err
		}
		p.mu.Unlock()
		p.signal()
		if err != nil {
			return
		}
	}
}

func (p *pump) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// setDeadline bounds the reads that follow.
func (p *pump) setDeadline(t time.Time) {
	p.mu.Lock()
	p.deadline = t
	p.mu.Unlock()
}

// wait blocks until bytes are buffered, the connection failed or the
// deadline passed, and returns with p.mu held when bytes are there.
func (p *pump) wait() error {
	p.mu.Lock()
	dl := p.deadline
	p.mu.Unlock()
	return p.waitUntil(dl)
}

// waitUntil is wait with the deadline dl; a zero dl waits until the pump
// is closed or the connection fails.
func (p *pump) waitUntil(dl time.Time) error {
	for {
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			return errPumpClosed
		case len(p.buf) > 0:
			return nil
		case p.err != nil:
			err := p.err
			p.mu.Unlock()
			return err
		}
		p.mu.Unlock()
		if dl.IsZero() {
			<-p.wake
			continue
		}
		d := time.Until(dl)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		select {
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// readAny reads what is buffered, up to len(b), waiting for at least one
// byte with no deadline and without recording it: it feeds a TLS server
// whose own reads are bounded by the handshake's context, and later by
// Close.
func (p *pump) readAny(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := p.waitUntil(time.Time{}); err != nil {
		return 0, err
	}
	defer p.mu.Unlock()
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

// Read returns one byte.
func (p *pump) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := p.wait(); err != nil {
		return 0, err
	}
	defer p.mu.Unlock()
	b[0] = p.buf[0]
	p.buf = p.buf[1:]
	p.taken = append(p.taken, b[0])
	return 1, nil
}

// skipSpace consumes the whitespace at the head of the buffer, waiting for
// the first byte. It reports how many bytes it skipped; zero means the next
// byte is something else.
func (p *pump) skipSpace() (int, error) {
	if err := p.wait(); err != nil {
		return 0, err
	}
	defer p.mu.Unlock()
	n := 0
	for n < len(p.buf) && isSpace(p.buf[n]) {
		n++
	}
	p.buf = p.buf[n:]
	return n, nil
}

// peek returns up to n buffered bytes without consuming them.
func (p *pump) peek(n int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.buf[:min(n, len(p.buf))]...)
}

// take returns what was read since the last take.
func (p *pump) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.taken
	p.taken = nil
	return b
}

// setDiscard makes the pump drop everything, buffered or to come.
func (p *pump) setDiscard() {
	p.mu.Lock()
	p.discard = true
	p.buf = nil
	p.taken = nil
	p.mu.Unlock()
}

func (p *pump) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.signal()
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
