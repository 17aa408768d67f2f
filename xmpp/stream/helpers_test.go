package stream_test

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// header is a client's stream header as the paper's clients send it.
const header = `<?xml version='1.0' encoding='UTF-8'?>` +
	`<stream:stream to="127.0.0.1" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" version="1.0">`

// notifyIQ is the paper's push (section "a push"), as one line.
const notifyIQ = `<iq type="set" id="88-0" to="sam@127.0.0.1/AndroidpnClient">` +
	`<notification xmlns="androidpn:iq:notification"><id>ffe31f20</id><title>Hello World</title>` +
	`<message>hello world </message><uri></uri></notification></iq>`

// open returns a Decoder over s that has read the stream header.
func open(t testing.TB, s string, lim stream.Limits) *stream.Decoder {
	t.Helper()
	return openReader(t, strings.NewReader(s), lim)
}

func openReader(t testing.TB, r io.Reader, lim stream.Limits) *stream.Decoder {
	t.Helper()
	d := stream.NewDecoder(r, lim)
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	return d
}

// readAll returns the elements up to the first error, and that error.
func readAll(d *stream.Decoder) ([]*stanza.Element, error) {
	var els []*stanza.Element
	for {
		e, err := d.Next()
		if err != nil {
			return els, err
		}
		els = append(els, e)
	}
}

// decodeOne decodes the single stanza s, sent in a jabber:client stream.
func decodeOne(t testing.TB, s string) *stanza.Element {
	t.Helper()
	els, err := readAll(open(t, header+s+stream.CloseTag, stream.Limits{}))
	if !errors.Is(err, stream.ErrClosed) || len(els) != 1 {
		t.Fatalf("decoding %q: %d elements, %v", s, len(els), err)
	}
	return els[0]
}

// equal reports whether two trees are the same, treating nil and empty
// slices alike.
func equal(a, b *stanza.Element) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Name != b.Name || a.Text != b.Text || len(a.Attr) != len(b.Attr) || len(a.Children) != len(b.Children) {
		return false
	}
	for i := range a.Attr {
		if a.Attr[i] != b.Attr[i] {
			return false
		}
	}
	for i := range a.Children {
		if !equal(a.Children[i], b.Children[i]) {
			return false
		}
	}
	return true
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r     io.Reader
	n     int64
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// lazyReader yields prefix, then n copies of fill, then suffix, making the
// middle up as it is read so that a test can send gigabytes without
// holding them.
type lazyReader struct {
	prefix string
	fill   byte
	n      int64
	suffix string
}

func (l *lazyReader) Read(p []byte) (int, error) {
	switch {
	case len(l.prefix) > 0:
		n := copy(p, l.prefix)
		l.prefix = l.prefix[n:]
		return n, nil
	case l.n > 0:
		n := min(int64(len(p)), l.n)
		for i := range n {
			p[i] = l.fill
		}
		l.n -= n
		return int(n), nil
	case len(l.suffix) > 0:
		n := copy(p, l.suffix)
		l.suffix = l.suffix[n:]
		return n, nil
	}
	return 0, io.EOF
}

// allocated returns the bytes of heap that f allocates in total, garbage
// included: an upper bound of what it can hold at any time.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
