package c2s

import (
	"errors"
	"net"
	"runtime/debug"
	"time"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// A link is a bound session's reading side on one connection. It is read
// by a chain of goroutines, one at a time, each started by the one before
// it and counted in Server.wg:
//
//   - A goroutine starts on a fresh, smallest (2 KiB) stack. It waits until
//     the connection is readable (pollConn.wait: a few small frames, no
//     buffer), then reads and handles what came in, which can grow its
//     stack to 8 KiB (encoding/xml, the handlers, TLS).
//   - When the decoder has nothing buffered and the connection nothing to
//     read right now, it releases the decoder's memory
//     (stream.Decoder.Release), starts the next goroutine and ends, freeing
//     its grown stack. The garbage collector would shrink the stack of a
//     parked goroutine too, but only by half per cycle, and cycles are
//     rare on an idle server.
//
// So an idle session costs one goroutine on 2 KiB of stack and a few
// hundred bytes of decoder, instead of the 8 KiB stack that negotiation
// (SCRAM, TLS) grows and the 1.5 KiB that encoding/xml keeps. The price is
// paid per wake-up that brings a stanza: a goroutine, the stack growing
// again, encoding/xml's decoder rebuilt from the stream header (the
// largest part) and a peek at the socket. A ping's round trip over
// loopback, client included, takes about 40 µs of CPU instead of 26
// (BenchmarkWake); at 10,000 sessions a broadcast's acks cost about 0.15
// s more, which the broadcast figures of xpush-bench do not show.
//
// "Nothing to read right now": above a plain socket nothing is buffered,
// so the next wait's first peek says it. crypto/tls may hold plaintext or
// whole records the socket no longer shows, so under TLS the decoder
// reads through it once with the pollConn in probe mode: crypto/tls
// returns what it holds without reading the socket, and when it needs
// the socket and that has nothing, hands errWouldBlock back without
// keeping it as the connection's error (a temporary net.Error).
// Connections that are not TCP (net.Pipe in tests) and systems without
// pollConn take the plain path: the link's single goroutine waits in
// Decoder.Next.
type link struct {
	s   *Session
	raw net.Conn  // as accepted: the key in Server.conns
	nc  net.Conn  // what is read and written: pc, or TLS over it, or raw
	pc  *pollConn // nil: no shallow waits
	tls bool      // nc is TLS over pc
	dec *stream.Decoder
	gen int // the session's attach generation this link serves
}

// errIdle ends a goroutine of a link whose connection has nothing to read
// now: the next one waits.
var errIdle = errors.New("c2s: idle")

// errWouldBlock is what a pollConn's read answers when probed and nothing
// has arrived. It is a temporary net.Error so that crypto/tls passes it on
// without keeping it as the connection's error, and it matches
// stream.ErrWouldBlock so that the decoder does not end the stream.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string        { return "c2s: nothing to read yet" }
func (wouldBlock) Timeout() bool        { return false }
func (wouldBlock) Temporary() bool      { return true }
func (wouldBlock) Is(target error) bool { return target == stream.ErrWouldBlock }

var _ net.Error = wouldBlock{}

// start runs the link's next goroutine: it waits first if wait is set.
func (l *link) start(wait bool) {
	l.s.srv.wg.Add(1)
	go l.run(wait)
}

// run is one goroutine of the link: wait for input (shallow), handle it,
// and hand over to the next goroutine or end the session.
func (l *link) run(wait bool) {
	defer l.s.srv.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			l.s.srv.opts.Logger.Error("c2s: panic", "panic", r, "stack", string(debug.Stack()))
			l.finish(stream.InternalServerError)
		}
	}()
	var err error
	if wait {
		l.setReadDeadline()
		err = l.pc.wait()
	}
	if err == nil {
		err = l.read(wait)
	}
	if err == errIdle {
		l.dec.Release()
		l.start(true)
		return
	}
	l.finish(err)
}

// read handles the stanzas that came in, after a wait if woke is set. It
// returns errIdle once the decoder has nothing buffered and the
// connection nothing to read, or the error that ends the stream.
func (l *link) read(woke bool) error {
	for {
		for l.pc == nil || l.dec.Buffered() {
			el, err := l.dec.Next()
			if err != nil {
				return err
			}
			if err := l.s.handleElement(el); err != nil {
				return err
			}
		}
		// Nothing left in the decoder. On a read error below, Buffered
		// is true, and Next returns the error as the stream's end.
		switch {
		case l.tls:
			// crypto/tls may hold plaintext, or whole records, that
			// the socket no longer shows: read through it, and wait
			// only if it needs the socket and the socket has nothing.
			l.pc.probe = true
			err := l.dec.Fill()
			l.pc.probe = false
			if errors.Is(err, stream.ErrWouldBlock) {
				return errIdle
			}
		case woke:
			// The wait saw a byte, the end or an error in the socket:
			// this read does not wait.
			woke = false
			_ = l.dec.Fill()
		default:
			// Nothing is buffered above a plain socket: the next
			// wait's first peek is the probe.
			return errIdle
		}
	}
}

func (l *link) setReadDeadline() {
	l.s.srv.setReadDeadline(l.nc, time.Now().Add(l.s.srv.opts.IdleTimeout))
}

// finish ends the link after err: the session is detached (and kept for
// resumption) or ended, unless another connection took it over meanwhile.
// It closes the connection.
func (l *link) finish(err error) {
	s := l.s
	defer l.close()
	s.mu.Lock()
	if s.gen != l.gen || s.gone {
		s.mu.Unlock()
		return // resumed on another connection, or replaced
	}
	s.nc = nil
	resumable := s.smID != "" && !errors.Is(err, stream.ErrClosed) && !s.srv.isClosed()
	if resumable {
		s.expiry = time.AfterFunc(s.srv.opts.ResumeWindow, s.expire)
		s.mu.Unlock()
		s.srv.mu.Lock()
		s.srv.resumable[s.smID] = s
		s.srv.mu.Unlock()
		s.srv.opts.Logger.Debug("c2s: session detached, resumable", "jid", s.JID(), "err", err)
		return
	}
	s.mu.Unlock()
	var se stream.Error
	switch {
	case errors.Is(err, stream.ErrClosed):
		writeFinal(l.nc, []byte(stream.CloseTag))
	case errors.As(err, &se) && !se.Remote:
		writeFinal(l.nc, streamError(se))
	case s.srv.isClosed():
		writeFinal(l.nc, streamError(stream.SystemShutdown))
	case isTimeout(err):
		writeFinal(l.nc, streamError(stream.ConnectionTimeout))
	}
	s.end(err)
}

// close closes the connection and forgets it.
func (l *link) close() {
	l.nc.Close()
	l.s.srv.untrack(l.raw)
}

// streamError returns e and the stream's closing tag, for a stream whose
// header was sent.
func streamError(e stream.Error) []byte {
	return append(e.Element().AppendXML(nil, stanza.NSClient), stream.CloseTag...)
}

// writeFinal writes the last bytes of a stream, with a short deadline.
func writeFinal(nc net.Conn, b []byte) {
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write(b)
}
