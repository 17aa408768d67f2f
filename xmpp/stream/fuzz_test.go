package stream_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// fuzzLimits are small, so that the fuzzer reaches every limit (and the
// Decoder's replacing of encoding/xml's decoder after a quarter of
// MaxStanza).
var fuzzLimits = stream.Limits{MaxStanza: 1024, MaxDepth: 8, MaxAttrs: 8}

// FuzzDecoder feeds bytes to a Decoder as a whole stream (header, then
// stanzas). Whatever the input, the Decoder must not panic, must fail
// only with a stream error, an unexpected EOF or ErrClosed, must respect
// its limits, and every element it returns must encode to XML that decodes
// again to the same tree.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(header + notifyIQ + " " + `<iq type="result" id="88-0"/>` + stream.CloseTag))
	f.Add([]byte(header + `<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls></stream:features>`))
	f.Add([]byte(billionLaughs + streamHeader + `<message><body>&lol9;</body></message>`))
	f.Add([]byte(header + `<p:message xmlns:p="jabber:client" xmlns:q="urn:q" q:a="1" a="&amp;&#x9;"><q:x/><![CDATA[<&>]]></p:message>`))
	f.Add([]byte(header + "<a>\r\n<b>x</b>y</a>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Split reads: a byte at a time exercises every refill.
		var r io.Reader = bytes.NewReader(in)
		if len(in) > 0 && in[0]&1 == 1 {
			r = iotest.OneByteReader(r)
		}
		d := stream.NewDecoder(r, fuzzLimits)
		_, err := d.ReadHeader()
		var els []*stanza.Element
		if err == nil {
			els, err = readAll(d)
		}
		if !errors.Is(err, stream.Error{}) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("unexpected kind of error %T: %v", err, err)
		}
		if d.Offset() > int64(len(in)) {
			t.Fatalf("Offset %d past the input's %d bytes", d.Offset(), len(in))
		}
		for _, e := range els {
			checkLimits(t, e, 1)
		}
		if len(els) == 0 {
			return
		}

		// Round trip: encode what was decoded and decode it again. The
		// encoding may be larger than the input (declarations repeated
		// on each element), so the limits are lifted.
		enc := stream.AppendHeader(nil, stream.Header{NS: stanza.NSClient})
		for _, e := range els {
			enc = e.AppendXML(enc, stanza.NSClient)
		}
		enc = append(enc, stream.CloseTag...)
		d2 := stream.NewDecoder(bytes.NewReader(enc), stream.Limits{MaxStanza: 64 << 20, MaxDepth: 1000, MaxAttrs: 1000})
		if _, err := d2.ReadHeader(); err != nil {
			t.Fatalf("re-encoded header: %v\n%q", err, enc)
		}
		again, err := readAll(d2)
		if !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("re-encoding does not decode: %v\ninput %q\nencoding %q", err, in, enc)
		}
		if len(again) != len(els) {
			t.Fatalf("re-encoding gives %d elements, want %d\n%q", len(again), len(els), enc)
		}
		for i := range els {
			if !equal(els[i], again[i]) {
				t.Fatalf("element %d changes in a round trip:\ninput %q\nencoding %q\n first %#v\nsecond %#v", i, in, enc, els[i], again[i])
			}
		}
	})
}

// checkLimits checks that e, at depth, is within fuzzLimits and carries no
// namespace declarations.
func checkLimits(t *testing.T, e *stanza.Element, depth int) {
	t.Helper()
	if depth > fuzzLimits.MaxDepth || len(e.Attr) > fuzzLimits.MaxAttrs {
		t.Fatalf("element %v at depth %d with %d attributes passed the limits", e.Name, depth, len(e.Attr))
	}
	for _, a := range e.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			t.Fatalf("namespace declaration %v kept as an attribute", a.Name)
		}
	}
	for _, c := range e.Children {
		checkLimits(t, c, depth+1)
	}
}
