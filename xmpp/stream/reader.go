package stream

import (
	"errors"
	"io"
	"sync"
)

// smallBuf is what a reader keeps inline for the read that waits on an
// idle stream; bulk reads borrow a pooled bufSize buffer instead.
const (
	smallBuf = 64
	bufSize  = 4096
)

// errLimit is returned by the reader when the current stanza's byte budget
// is spent; the decoder turns it into a policy-violation.
var errLimit = errors.New("stream: byte limit reached")

// ErrWouldBlock is what the reader under a [Decoder] returns (or an error
// that matches it with errors.Is) when it has no bytes now and would have
// to wait for them. During [Decoder.Fill], and only there, it does not end
// the stream: Fill returns it, keeps what was read before it, and a later
// read tries again. A caller that makes its connection answer so can wait
// for input in a frame of its own choosing (see [Decoder.Buffered]).
var ErrWouldBlock = errors.New("stream: read would block")

// bufPool is shared by every reader of a process. Buffers hold no state
// between borrowers, so sharing them is safe.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// reader is an io.ByteReader over a connection that holds a pooled buffer
// only while unread bytes are in it, counts what it hands out, and refuses
// to hand out more than limit bytes. encoding/xml reads through it byte by
// byte without adding a bufio.Reader of its own.
type reader struct {
	r     io.Reader
	small [smallBuf]byte
	big   *[]byte
	buf   []byte // unread bytes, inside small or *big
	// wantBig is set after a read filled the small buffer: more bytes are
	// probably waiting, so the next fill borrows a big buffer.
	wantBig bool
	// tryFill is set during Decoder.Fill: ErrWouldBlock does not end the
	// stream then.
	tryFill bool
	n       int64 // bytes handed out
	limit   int64 // n may not pass limit
	err     error
	// beforeRead, when set, runs before every read of the underlying
	// reader (the session sets the read deadline there).
	beforeRead func()
}

func (r *reader) ReadByte() (byte, error) {
	// The limit first: a stanza that spent its budget cannot use more
	// input, so it is not worth a read (which could block).
	if r.n >= r.limit {
		return 0, errLimit
	}
	if len(r.buf) == 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	c := r.buf[0]
	r.buf = r.buf[1:]
	r.n++
	return c, nil
}

// Read is here for io.Reader; encoding/xml only calls ReadByte.
func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

func (r *reader) fill() error {
	r.release()
	if r.err != nil {
		return r.err
	}
	dst := r.small[:]
	if r.wantBig {
		r.big = bufPool.Get().(*[]byte)
		dst = *r.big
	}
	if r.beforeRead != nil {
		r.beforeRead()
	}
	n, err := r.r.Read(dst)
	r.buf = dst[:n]
	r.wantBig = n == len(dst)
	if err != nil && r.tryFill && errors.Is(err, ErrWouldBlock) {
		if n > 0 {
			return nil // bytes to work on; the next read tries again
		}
		r.release()
		return err
	}
	if n == 0 {
		r.release()
		if err == nil {
			err = io.ErrNoProgress
		}
	}
	if err != nil {
		r.err = err
		if n == 0 {
			return err
		}
	}
	return nil
}

// skipSpace drops the XML whitespace at the start of the buffer without
// counting it against limit, and reports whether another byte follows it
// there (false: the buffer is empty).
func (r *reader) skipSpace() bool {
	for len(r.buf) > 0 {
		switch r.buf[0] {
		case ' ', '\t', '\r', '\n':
			r.buf = r.buf[1:]
			r.n++
		default:
			return true
		}
	}
	return false
}

// release gives the big buffer back once it is drained.
func (r *reader) release() {
	if r.big != nil && len(r.buf) == 0 {
		bufPool.Put(r.big)
		r.big = nil
		r.buf = nil
	}
}
