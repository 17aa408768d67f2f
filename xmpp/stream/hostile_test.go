package stream_test

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// The tests in this file feed the Decoder what an attacker would, and
// check both the stream error it answers with and that the memory it
// takes stays bounded: allocated() counts every byte allocated while
// decoding, garbage included.

const streamNS = `xmlns:stream="http://etherx.jabber.org/streams"`

// billionLaughs is the classic entity bomb: expanded, &lol9; is 10^9
// "lol"s.
const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
`

// bombDTD is the DTD of billionLaughs alone, for use inside a stream.
var bombDTD = strings.TrimPrefix(billionLaughs, `<?xml version="1.0"?>`+"\n")

const streamHeader = `<stream:stream xmlns="jabber:client" ` + streamNS + ` to="example.org" version="1.0">`

func TestHostileHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error
	}{
		{"billion laughs", billionLaughs + streamHeader + `<message><body>&lol9;</body></message>`, stream.RestrictedXML},
		{"external entity (XXE)", `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + streamHeader + `<message><body>&xxe;</body></message>`, stream.RestrictedXML},
		{"external parameter entity", `<!DOCTYPE foo [<!ENTITY % xxe SYSTEM "http://127.0.0.1:1/evil.dtd"> %xxe;]>` + streamHeader, stream.RestrictedXML},
		{"external DTD", `<!DOCTYPE stream SYSTEM "http://127.0.0.1:1/evil.dtd">` + streamHeader, stream.RestrictedXML},
		{"huge DTD", `<!DOCTYPE foo [` + strings.Repeat(`<!ENTITY a "b">`, 1000) + `]>` + streamHeader, stream.PolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() {
				_, err = stream.NewDecoder(strings.NewReader(tt.in), stream.Limits{}).ReadHeader()
			})
			if !errors.Is(err, tt.err) {
				t.Fatalf("ReadHeader: %v, want %v", err, tt.err)
			}
			if alloc > 64<<10 {
				t.Errorf("allocated %d bytes", alloc)
			}
		})
	}
}

func TestHostileStanza(t *testing.T) {
	const max = stream.DefaultMaxStanza
	// sized returns a message of exactly n bytes.
	sized := func(n int) string {
		const open, end = `<message><body>`, `</body></message>`
		return open + strings.Repeat("a", n-len(open)-len(end)) + end
	}
	tests := []struct {
		name string
		in   string // after the stream header
		err  error  // nil: one stanza, then the stream's end
		// alloc bounds the bytes allocated while decoding.
		alloc uint64
	}{
		{"billion laughs inside the stream", bombDTD + `<message><body>&lol9;</body></message>`, stream.RestrictedXML, 64 << 10},
		{"entity reference, no DTD", `<message><body>&lol9;</body></message>`, stream.RestrictedXML, 64 << 10},
		{"XXE inside the stream", `<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><message><body>&xxe;</body></message>`, stream.RestrictedXML, 64 << 10},
		{"entity in an attribute", `<message to="&xxe;"/>`, stream.RestrictedXML, 64 << 10},
		{"stanza at the limit", sized(max) + stream.CloseTag, nil, 2 << 20},
		{"stanza at the limit after keepalives", "\n \n" + sized(max) + " " + stream.CloseTag, nil, 2 << 20},
		{"stanza one byte over the limit", sized(max+1) + stream.CloseTag, stream.PolicyViolation, 2 << 20},
		{"depth bomb", strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000), stream.PolicyViolation, 64 << 10},
		{"depth bomb with namespaces", strings.Repeat(`<a xmlns="urn:a">`, 10000), stream.PolicyViolation, 64 << 10},
		{"depth at the limit", strings.Repeat("<a>", stream.DefaultMaxDepth) + strings.Repeat("</a>", stream.DefaultMaxDepth) + stream.CloseTag, nil, 64 << 10},
		{"10,000 attributes", `<message` + manyAttrs(10000) + `/>`, stream.PolicyViolation, 4 << 20},
		{"10,000 namespace declarations", `<message` + strings.ReplaceAll(manyAttrs(10000), " a", " xmlns:a") + `/>`, stream.PolicyViolation, 8 << 20},
		{"attributes at the limit", `<message` + manyAttrs(stream.DefaultMaxAttrs) + `/>` + stream.CloseTag, nil, 64 << 10},
		{"attribute given twice", `<message to="alice@example.org" to="bob@example.org"/>`, stream.NotWellFormed, 64 << 10},
		{"attribute given twice through prefixes", `<message xmlns:a="urn:x" xmlns:b="urn:x" a:to="1" b:to="2"/>`, stream.NotWellFormed, 64 << 10},
		{"comment between stanzas", `<presence/><!-- hi --><presence/>`, stream.RestrictedXML, 64 << 10},
		{"comment in a stanza", `<message><!-- hi --></message>`, stream.RestrictedXML, 64 << 10},
		{"processing instruction between stanzas", `<?php echo 1; ?>`, stream.RestrictedXML, 64 << 10},
		{"processing instruction in a stanza", `<message><?pi x?></message>`, stream.RestrictedXML, 64 << 10},
		{"XML declaration in the stream", `<?xml version="1.0"?><message/>`, stream.RestrictedXML, 64 << 10},
		{"EOF in a stanza", `<message><body>hel`, io.ErrUnexpectedEOF, 64 << 10},
		{"EOF in a tag", `<message><bo`, io.ErrUnexpectedEOF, 64 << 10},
		{"EOF in CDATA", `<message><body><![CDATA[x`, io.ErrUnexpectedEOF, 64 << 10},
		{"EOF between stanzas", `<presence/>  `, io.ErrUnexpectedEOF, 64 << 10},
		{"garbage", "\x00\x01\x02\x03", stream.NotWellFormed, 64 << 10},
		{"text between stanzas", `<presence/>hello<presence/>`, stream.NotWellFormed, 64 << 10},
		{"angle brackets", `<<<>>>`, stream.NotWellFormed, 64 << 10},
		{"mismatched end tag", `<message></iq>`, stream.NotWellFormed, 64 << 10},
		{"end tag alone", `</message>`, stream.NotWellFormed, 64 << 10},
		{"invalid UTF-8", "<message><body>\xff\xfe</body></message>", stream.NotWellFormed, 64 << 10},
		{"NUL character reference", `<message><body>&#0;</body></message>`, stream.NotWellFormed, 64 << 10},
		{"character reference out of range", `<message><body>&#x110000;</body></message>`, stream.NotWellFormed, 64 << 10},
		{"bare ampersand", `<message><body>AT&T</body></message>`, stream.NotWellFormed, 64 << 10},
		{"unquoted attribute", `<message to=alice/>`, stream.NotWellFormed, 64 << 10},
		// Names encoding/xml accepts but XML namespaces does not, and that
		// re-encoded without their prefix would not be names at all.
		{"local name starting with a digit", `<a:0 xmlns:a="urn:a"/>`, stream.NotWellFormed, 64 << 10},
		{"local name starting with a hyphen", `<message><a:-b xmlns:a="urn:a"/></message>`, stream.NotWellFormed, 64 << 10},
		{"local name starting with an Arabic-Indic digit", "<a:\u0660 xmlns:a=\"urn:a\"/>", stream.NotWellFormed, 64 << 10},
		{"local name starting with a combining mark", "<a:\u0301 xmlns:a=\"urn:a\"/>", stream.NotWellFormed, 64 << 10},
		{"attribute local name starting with a digit", `<message xmlns:a="urn:a" a:1="x"/>`, stream.NotWellFormed, 64 << 10},
		{"empty prefix", `<:message/>`, stream.NotWellFormed, 64 << 10},
		{"empty local name", `<message a:="1"/>`, stream.NotWellFormed, 64 << 10},
		{"unbound prefix on an end tag", `<a:b xmlns:a="urn:a"></c:b>`, stream.NotWellFormed, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := streamHeader + tt.in
			d := stream.NewDecoder(strings.NewReader(in), stream.Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatalf("ReadHeader: %v", err)
			}
			var (
				els []*stanza.Element
				err error
			)
			alloc := allocated(func() { els, err = readAll(d) })
			if tt.err == nil {
				if !errors.Is(err, stream.ErrClosed) || len(els) != 1 {
					t.Fatalf("got %d elements, %v; want 1 and the stream's end", len(els), err)
				}
			} else if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if alloc > tt.alloc {
				t.Errorf("allocated %d bytes, want at most %d", alloc, tt.alloc)
			}
			t.Logf("%v; allocated %d bytes", err, alloc)
		})
	}
}

// TestHugeStanzaStreamed sends 10 MiB stanzas of several shapes from a
// reader that makes them up as it goes: the Decoder must refuse each after
// reading little more than the limit, never holding it whole.
func TestHugeStanzaStreamed(t *testing.T) {
	const huge = 10 << 20
	tests := []struct {
		name         string
		prefix       string
		fill         byte
		suffix       string
		wantInHeader bool
	}{
		{"text", `<message><body>`, 'a', `</body></message>`, false},
		{"whitespace inside a stanza", `<message>`, ' ', `</message>`, false},
		{"attribute value", `<message to="`, 'a', `"/>`, false},
		{"element name", `<m`, 'a', `/>`, false},
		{"CDATA", `<message><body><![CDATA[`, 'a', `]]></body></message>`, false},
		{"comment", `<!--`, 'a', `-->`, false},
		{"many elements", `<message>`, 0, `</message>`, false},
		{"header attribute", `<stream:stream ` + streamNS + ` id="`, 'a', `">`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src io.Reader
			prefix := streamHeader + tt.prefix
			if tt.wantInHeader {
				prefix = tt.prefix
			}
			if tt.fill == 0 {
				src = io.MultiReader(strings.NewReader(prefix), &repeatReader{s: "<a/>", n: huge / 4}, strings.NewReader(tt.suffix))
			} else {
				src = &lazyReader{prefix: prefix, fill: tt.fill, n: huge, suffix: tt.suffix}
			}
			cr := &countingReader{r: src}
			d := stream.NewDecoder(cr, stream.Limits{})
			var err error
			alloc := allocated(func() {
				if _, err = d.ReadHeader(); err == nil {
					_, err = d.Next()
				}
			})
			if !errors.Is(err, stream.PolicyViolation) {
				t.Fatalf("error %v, want policy-violation", err)
			}
			// At most the limit, the header and one read's worth of
			// buffer are read before the Decoder gives up.
			limit := int64(len(streamHeader) + stream.DefaultMaxStanza + 4096)
			if cr.n > limit {
				t.Errorf("read %d bytes, want at most %d", cr.n, limit)
			}
			// encoding/xml grows its buffer by doubling to hold the
			// largest token: twice the limit, plus the copies left
			// behind. The many-elements shape builds a tree instead.
			if max := uint64(2 << 20); tt.fill != 0 && alloc > max {
				t.Errorf("allocated %d bytes, want at most %d", alloc, max)
			}
			t.Logf("%v; read %d bytes, allocated %d", err, cr.n, alloc)
		})
	}
}

// repeatReader yields s n times.
type repeatReader struct {
	s   string
	n   int
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	total := 0
	for len(p) > 0 && r.n > 0 {
		c := copy(p, r.s[r.off:])
		p = p[c:]
		total += c
		r.off += c
		if r.off == len(r.s) {
			r.off = 0
			r.n--
		}
	}
	return total, nil
}

// TestElementFlood measures the worst case of what one stanza under the
// limit makes the Decoder hold: a stanza made only of the smallest
// elements. It is bounded by MaxStanza, but each 4-byte <a/> becomes an
// Element of about 100 bytes. Recorded here so that a change shows.
func TestElementFlood(t *testing.T) {
	in := streamHeader + `<message>` + strings.Repeat("<a/>", (stream.DefaultMaxStanza-20)/4) + `</message>`
	d := open(t, in, stream.Limits{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, err := d.Next()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d elements from a %d-byte stanza hold %d bytes (%.0fx)", len(e.Children), stream.DefaultMaxStanza, held, float64(held)/stream.DefaultMaxStanza)
	if held > 48*stream.DefaultMaxStanza {
		t.Errorf("a %d-byte stanza holds %d bytes", stream.DefaultMaxStanza, held)
	}
	runtime.KeepAlive(e)
}

// TestDataWithEOF checks that the bytes a reader returns together with
// io.EOF are judged before the EOF: garbage is not-well-formed, not a cut
// stream.
func TestDataWithEOF(t *testing.T) {
	d := openReader(t, iotest.DataErrReader(strings.NewReader(streamHeader+`<presence/><<<`)), stream.Limits{})
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); !errors.Is(err, stream.NotWellFormed) {
		t.Fatalf("Next: %v, want not-well-formed", err)
	}
}

// TestSlowloris shows that BeforeRead runs before every read of the
// connection, so a read deadline set there ends a peer that sends one byte
// and then nothing.
func TestSlowloris(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	const sent = 10
	go func() {
		// One byte per write (net.Pipe hands each to one read), then
		// silence: the connection stays open.
		for i := range sent {
			if _, err := client.Write([]byte{streamHeader[i]}); err != nil {
				return
			}
		}
	}()
	cr := &countingReader{r: server}
	d := stream.NewDecoder(cr, stream.Limits{})
	hooks := 0
	d.BeforeRead(func() {
		if hooks != cr.reads {
			t.Errorf("BeforeRead call %d came after read %d", hooks+1, cr.reads)
		}
		hooks++
		if err := server.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	_, err := d.ReadHeader()
	elapsed := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadHeader: %v, want a deadline error", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a net.Error timeout", err)
	}
	if errors.Is(err, stream.Error{}) {
		t.Errorf("a dead connection is not the peer's XML: %v", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("ReadHeader took %v", elapsed)
	}
	if hooks != cr.reads || cr.n != sent || cr.reads != sent+1 {
		t.Errorf("%d BeforeRead calls, %d reads, %d bytes; want %d, %d, %d", hooks, cr.reads, cr.n, sent+1, sent+1, sent)
	}
	// The failure is final.
	if _, err2 := d.Next(); err2 != err {
		t.Errorf("Next after the timeout: %v", err2)
	}
}
