package stream_test

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

func TestReadHeader(t *testing.T) {
	const streamNS = `xmlns:stream="http://etherx.jabber.org/streams"`
	tests := []struct {
		name string
		in   string
		want stream.Header
		err  error
	}{{
		name: "paper client with declaration",
		in:   header,
		want: stream.Header{To: "127.0.0.1", Version: "1.0", NS: stanza.NSClient},
	}, {
		name: "server answer, all attributes",
		in:   `<?xml version="1.0"?><stream:stream from="example.org" to="sam@example.org" id="c2s-9f" version="1.0" xml:lang="en" xmlns="jabber:client" ` + streamNS + `>`,
		want: stream.Header{From: "example.org", To: "sam@example.org", ID: "c2s-9f", Version: "1.0", Lang: "en", NS: stanza.NSClient},
	}, {
		name: "no declaration",
		in:   `<stream:stream xmlns="jabber:component:accept" ` + streamNS + ` to="push.example.org">`,
		want: stream.Header{To: "push.example.org", NS: stanza.NSComponent},
	}, {
		name: "lower-case utf-8 in single quotes",
		in:   `<?xml version='1.0' encoding='utf-8'?><stream:stream xmlns='jabber:client' ` + streamNS + `>`,
		want: stream.Header{NS: stanza.NSClient},
	}, {
		name: "whitespace before the header, none after the declaration",
		in:   "\r\n  <stream:stream " + streamNS + ` xmlns="jabber:client">`,
		want: stream.Header{NS: stanza.NSClient},
	}, {
		name: "whitespace between declaration and header",
		in:   "<?xml version='1.0'?>\n\n<stream:stream " + streamNS + ` xmlns="jabber:client">`,
		want: stream.Header{NS: stanza.NSClient},
	}, {
		name: "another prefix for the streams namespace",
		in:   `<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns="jabber:client" id="x">`,
		want: stream.Header{ID: "x", NS: stanza.NSClient},
	}, {
		name: "no content namespace",
		in:   `<stream:stream ` + streamNS + `>`,
		want: stream.Header{},
	}, {
		name: "escaped values and an unknown attribute",
		in:   `<stream:stream ` + streamNS + ` id="a&amp;b&#x41;&lt;" foo="bar" xmlns="jabber:client">`,
		want: stream.Header{ID: "a&bA<", NS: stanza.NSClient},
	}, {
		name: "self-closed header",
		in:   `<stream:stream ` + streamNS + ` xmlns="jabber:client"/>`,
		want: stream.Header{NS: stanza.NSClient},
	}, {
		name: "ISO-8859-1",
		in:   `<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream ` + streamNS + `>`,
		err:  stream.UnsupportedEncoding,
	}, {
		name: "UTF-16",
		in:   `<?xml version="1.0" encoding="UTF-16"?><stream:stream ` + streamNS + `>`,
		err:  stream.UnsupportedEncoding,
	}, {
		name: "XML 1.1",
		in:   `<?xml version="1.1"?><stream:stream ` + streamNS + `>`,
		err:  stream.NotWellFormed,
	}, {
		name: "declaration after whitespace",
		in:   ` <?xml version="1.0"?><stream:stream ` + streamNS + `>`,
		err:  stream.RestrictedXML,
	}, {
		name: "two declarations",
		in:   `<?xml version="1.0"?><?xml version="1.0"?><stream:stream ` + streamNS + `>`,
		err:  stream.RestrictedXML,
	}, {
		name: "processing instruction",
		in:   `<?xml-stylesheet href="x"?><stream:stream ` + streamNS + `>`,
		err:  stream.RestrictedXML,
	}, {
		name: "comment",
		in:   `<!-- hi --><stream:stream ` + streamNS + `>`,
		err:  stream.RestrictedXML,
	}, {
		name: "doctype",
		in:   `<!DOCTYPE stream><stream:stream ` + streamNS + `>`,
		err:  stream.RestrictedXML,
	}, {
		name: "text before the header",
		in:   `hello<stream:stream ` + streamNS + `>`,
		err:  stream.NotWellFormed,
	}, {
		name: "an HTTP request",
		in:   "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
		err:  stream.NotWellFormed,
	}, {
		name: "a TLS client hello",
		in:   "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		err:  stream.NotWellFormed,
	}, {
		name: "not a stream element",
		in:   `<message xmlns="jabber:client"/>`,
		err:  stream.InvalidXML,
	}, {
		name: "wrong streams namespace",
		in:   `<stream:stream xmlns:stream="urn:wrong">`,
		err:  stream.InvalidNamespace,
	}, {
		name: "unbound stream prefix",
		in:   `<stream:stream xmlns="jabber:client">`,
		err:  stream.InvalidNamespace,
	}, {
		name: "closing tag first",
		in:   `</stream:stream>`,
		err:  stream.NotWellFormed,
	}, {
		name: "attribute given twice",
		in:   `<stream:stream ` + streamNS + ` to="a" to="b">`,
		err:  stream.NotWellFormed,
	}, {
		name: "too many attributes",
		in:   `<stream:stream ` + streamNS + manyAttrs(40) + `>`,
		err:  stream.PolicyViolation,
	}, {
		name: "header larger than 4 KiB",
		in:   `<stream:stream ` + streamNS + ` id="` + strings.Repeat("x", 5000) + `">`,
		err:  stream.PolicyViolation,
	}, {
		name: "empty input",
		in:   "",
		err:  io.ErrUnexpectedEOF,
	}, {
		name: "cut in the header",
		in:   `<stream:stream ` + streamNS,
		err:  io.ErrUnexpectedEOF,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := stream.NewDecoder(strings.NewReader(tt.in), stream.Limits{})
			h, err := d.ReadHeader()
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ReadHeader: error %v, want %v", err, tt.err)
				}
				// It stays that way.
				if _, err2 := d.Next(); err2 != err {
					t.Errorf("Next after a failed ReadHeader: %v, want %v", err2, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadHeader: %v", err)
			}
			if h != tt.want {
				t.Errorf("ReadHeader:\n got %+v\nwant %+v", h, tt.want)
			}
		})
	}
}

// manyAttrs returns n distinct attributes.
func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	return b.String()
}

// TestNext reads several stanzas with whitespace keepalives between them,
// whatever way the reader splits the bytes.
func TestNext(t *testing.T) {
	in := header + "\n" + notifyIQ + " " + "\n\t\r\n" +
		`<iq type="result" id="88-0"/>` + " " + " " + " " +
		`<message type="headline"><body>a &amp; b</body></message>` + "   " + stream.CloseTag
	readers := map[string]func(io.Reader) io.Reader{
		"whole":        func(r io.Reader) io.Reader { return r },
		"one byte":     iotest.OneByteReader,
		"halves":       iotest.HalfReader,
		"data and EOF": iotest.DataErrReader,
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			d := openReader(t, wrap(strings.NewReader(in)), stream.Limits{})
			els, err := readAll(d)
			if !errors.Is(err, stream.ErrClosed) {
				t.Fatalf("after %d elements: %v, want ErrClosed", len(els), err)
			}
			if len(els) != 3 {
				t.Fatalf("got %d elements, want 3", len(els))
			}
			n := els[0].Child("androidpn:iq:notification", "notification")
			if !els[0].Is(stanza.NSClient, "iq") || n == nil || n.ChildText("", "title") != "Hello World" ||
				n.Child("", "message").Text != "hello world " || n.Child("", "uri") == nil {
				t.Errorf("notification: %s", els[0])
			}
			if !els[1].Is(stanza.NSClient, "iq") || els[1].AttrValue("type") != "result" {
				t.Errorf("result: %s", els[1])
			}
			if got := els[2].ChildText(stanza.NSClient, "body"); got != "a & b" {
				t.Errorf("body: %q", got)
			}
			// The closed stream stays closed.
			if _, err := d.Next(); !errors.Is(err, stream.ErrClosed) {
				t.Errorf("Next after close: %v", err)
			}
			if d.Offset() != int64(len(in)) {
				t.Errorf("Offset %d, want %d", d.Offset(), len(in))
			}
		})
	}
}

// TestKeepalivesNotCounted checks that whitespace keepalives do not count
// against MaxStanza: a session that idles for months sending one space
// every minute must not be cut off for it.
func TestKeepalivesNotCounted(t *testing.T) {
	lim := stream.Limits{MaxStanza: 1024}
	r := io.MultiReader(
		strings.NewReader(header+`<presence/>`),
		&lazyReader{fill: ' ', n: 1 << 20},
		strings.NewReader("\n"+`<presence type="unavailable"/>`+stream.CloseTag))
	d := openReader(t, r, lim)
	var els []*stanza.Element
	var err error
	alloc := allocated(func() { els, err = readAll(d) })
	if !errors.Is(err, stream.ErrClosed) || len(els) != 2 {
		t.Fatalf("got %d elements, %v", len(els), err)
	}
	// A MiB of keepalives is dropped as it comes, not collected (the
	// race detector's sync.Pool drops buffers, which are then allocated
	// again).
	max := uint64(64 << 10)
	if raceEnabled {
		max = 512 << 10
	}
	if alloc > max {
		t.Errorf("reading 1 MiB of keepalives allocated %d bytes, want at most %d", alloc, max)
	}
}

func TestNextBeforeHeader(t *testing.T) {
	d := stream.NewDecoder(strings.NewReader(header), stream.Limits{})
	_, err := d.Next()
	if err == nil || errors.Is(err, stream.Error{}) {
		t.Fatalf("Next before ReadHeader: %v, want a usage error", err)
	}
	// That was the caller's mistake, not the stream's end.
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
}

// TestReset restarts the stream as after STARTTLS or SASL: bytes buffered
// from the old stream are dropped, the new one starts with a header.
func TestReset(t *testing.T) {
	old := header + `<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>` +
		`<message><body>injected before TLS</body></message>`
	d := open(t, old, stream.Limits{})
	e, err := d.Next()
	if err != nil || !e.Is("urn:ietf:params:xml:ns:xmpp-tls", "proceed") {
		t.Fatalf("Next: %v, %v", e, err)
	}
	off := d.Offset()
	restarted := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s2' from='example.org' version='1.0'>` +
		`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`
	d.Reset(iotest.OneByteReader(strings.NewReader(restarted)))
	h, err := d.ReadHeader()
	if err != nil || h.ID != "s2" || h.From != "example.org" {
		t.Fatalf("ReadHeader after Reset: %+v, %v", h, err)
	}
	e, err = d.Next()
	if err != nil || !e.Is(stanza.NSStream, "features") || e.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
		t.Fatalf("Next after Reset: %v, %v", e, err)
	}
	if _, err := d.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("end of the restarted stream: %v", err)
	}
	if got := d.Offset(); got != off+int64(len(restarted)) {
		t.Errorf("Offset after Reset: %d, want %d", got, off+int64(len(restarted)))
	}

	// Reset also clears an error that ended the previous stream.
	d.Reset(strings.NewReader(header + `<presence/>`))
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("ReadHeader after Reset from an error: %v", err)
	}
	if e, err := d.Next(); err != nil || !e.Is(stanza.NSClient, "presence") {
		t.Fatalf("Next: %v, %v", e, err)
	}
}

// TestDecodeTree checks how input XML becomes an element tree.
func TestDecodeTree(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *stanza.Element
	}{{
		name: "prefixes resolved, declarations dropped",
		in:   `<c:iq xmlns:c="jabber:client" xmlns:n="androidpn:iq:notification" id="1"><n:notification><n:id>x</n:id></n:notification></c:iq>`,
		want: stanza.New(stanza.NSClient, "iq", "id", "1").Add(stanza.New("androidpn:iq:notification", "notification").AddText("id", "x")),
	}, {
		name: "stream namespace inside the stream",
		in:   `<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls></stream:features>`,
		want: stanza.New(stanza.NSStream, "features").Add(stanza.New("urn:ietf:params:xml:ns:xmpp-tls", "starttls").Add(stanza.New("urn:ietf:params:xml:ns:xmpp-tls", "required"))),
	}, {
		name: "xml:lang and a namespaced attribute",
		in:   `<message xml:lang="de" xmlns:x="urn:x" x:a="1" a="2"/>`,
		want: &stanza.Element{Name: xml.Name{Space: stanza.NSClient, Local: "message"}, Attr: []xml.Attr{
			{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: "de"},
			{Name: xml.Name{Space: "urn:x", Local: "a"}, Value: "1"},
			{Name: xml.Name{Local: "a"}, Value: "2"},
		}},
	}, {
		name: "references, CDATA and line ends",
		in:   "<body a='&apos;&quot;&#x9;'>&lt;&#233;&#x1F600;<![CDATA[<&>]]>\r\n\r</body>",
		want: &stanza.Element{
			Name: xml.Name{Space: stanza.NSClient, Local: "body"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "a"}, Value: "'\"\t"}}, Text: "<é😀<&>\n\n",
		},
	}, {
		name: "whitespace between children dropped, other text kept",
		in:   "<a>\n  <b>\n</b>\n  <c/>\n</a>",
		want: stanza.New(stanza.NSClient, "a").Add(&stanza.Element{Name: xml.Name{Space: stanza.NSClient, Local: "b"}, Text: "\n"}, stanza.New(stanza.NSClient, "c")),
	}, {
		name: "mixed content concatenated",
		in:   "<a>x<b/>y</a>",
		want: (&stanza.Element{Name: xml.Name{Space: stanza.NSClient, Local: "a"}, Text: "xy"}).Add(stanza.New(stanza.NSClient, "b")),
	}, {
		name: "no namespace",
		in:   `<a xmlns=""><b/></a>`,
		want: stanza.New("", "a").Add(stanza.New("", "b")),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeOne(t, tt.in); !equal(got, tt.want) {
				t.Errorf("decoded\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestRoundTrip decodes stanzas, encodes them with AppendXML and decodes
// the encoding again: the trees must be equal.
func TestRoundTrip(t *testing.T) {
	tests := []string{
		notifyIQ,
		`<iq type="result" id="88-0"/>`,
		`<message type="headline" xml:lang="en"><subject>s</subject><body>a &amp; b &lt; c &gt; d " e ' f</body><x xmlns="jabber:x:oob"><url>https://example.org/?a=1&amp;b=2</url></x></message>`,
		`<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">Replaced by new connection</text></stream:error>`,
		`<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-256</mechanism></mechanisms><auth xmlns="http://jabber.org/features/iq-auth"/></stream:features>`,
		`<p:message xmlns:p="jabber:client" xmlns:q="urn:q" q:attr="&quot;x&quot;" xmlns:r="urn:q" r:other="y"><q:x><body xmlns="jabber:client">z</body></q:x></p:message>`,
		`<a xmlns="urn:a"><b xmlns="urn:b"><c xmlns="urn:a"/><d xmlns=""/></b></a>`,
		`<body v="a&#xA;b&#x9;c&#xD;d">line 1&#xD;&#xA;line 2&#x9;tab</body>`,
		`<x xmlns="http://etherx.jabber.org/streams"><y/></x>`,
		`<unbound:x/>`,
		`<a:名字 xmlns:a="urn:a" a:ÿ="1"><ünïcode/></a:名字>`,
	}
	for _, in := range tests {
		first := decodeOne(t, in)
		enc := string(first.AppendXML(nil, stanza.NSClient))
		second := decodeOne(t, enc)
		if !equal(first, second) {
			t.Errorf("round trip of %s\nencoded as %s\n first %#v\nsecond %#v", in, enc, first, second)
		}
	}
}

// chunkReader returns one chunk per read, like a peer that writes each
// chunk at its own time.
type chunkReader struct{ chunks []string }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// TestAfterLargeStanza reads stanzas after one large enough for the
// Decoder to replace encoding/xml's decoder while it waits: the namespaces
// the stream header declared, and its closing tag, still work.
func TestAfterLargeStanza(t *testing.T) {
	large := `<message><body>` + strings.Repeat("a", 8<<10) + `</body></message>`
	tests := []struct{ name, header, close string }{
		{"stream prefix", header, stream.CloseTag},
		{"other prefix, more declarations", `<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns="jabber:client" xmlns:db="jabber:server:dialback" xmlns:x="urn:x" id="a&amp;b">`, `</s:stream>`},
		{"two prefixes for the streams namespace", `<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns:t="http://etherx.jabber.org/streams" xmlns="jabber:client" xmlns:db="jabber:server:dialback" xmlns:x="urn:x">`, `</s:stream>`},
		{"streams namespace as default", `<stream xmlns="http://etherx.jabber.org/streams" xmlns:c="jabber:client" xmlns:db="jabber:server:dialback" xmlns:x="urn:x">`, `</stream>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := `<db:result xmlns:db="jabber:server:dialback" x:a="1" xmlns:x="urn:x"/>`
			if tt.header != header {
				after = `<db:result x:a="1"/>`
			}
			chunks := []string{tt.header, large, "  ", large + " " + after, " ", `<presence/>`, tt.close}
			total := 0
			for _, c := range chunks {
				total += len(c)
			}
			for _, r := range []io.Reader{&chunkReader{chunks: chunks}, iotest.OneByteReader(strings.NewReader(strings.Join(chunks, "")))} {
				d := openReader(t, r, stream.Limits{})
				els, err := readAll(d)
				if !errors.Is(err, stream.ErrClosed) || len(els) != 4 {
					t.Fatalf("%d elements, %v", len(els), err)
				}
				res := els[2]
				if !res.Is("jabber:server:dialback", "result") || len(res.Attr) != 1 || res.Attr[0].Name.Space != "urn:x" {
					t.Errorf("after the large stanzas: %#v", res)
				}
				if want := els[0].Name.Space; els[3].Name.Space != want || els[3].Name.Local != "presence" {
					t.Errorf("last stanza %v, want {%s}presence", els[3].Name, want)
				}
				if d.Offset() != int64(total) {
					t.Errorf("Offset %d, want %d", d.Offset(), total)
				}
			}
		})
	}
}
