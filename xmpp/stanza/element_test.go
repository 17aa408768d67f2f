package stanza_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xpush/xpush/xmpp/stanza"
)

const (
	nsNotify = "androidpn:iq:notification"
	nsOOB    = "jabber:x:oob"
	nsTLS    = "urn:ietf:params:xml:ns:xmpp-tls"
)

// decodeXML decodes one element from s with encoding/xml (strict, no
// entities), the way the stream decoder builds trees: namespaces resolved,
// xmlns declarations dropped, text kept when there are no children or it
// is not only whitespace. Elements whose name has the stream prefix need
// it declared, so s is wrapped in a root that declares it and has parentNS
// as its default namespace.
func decodeXML(t testing.TB, s, parentNS string) *stanza.Element {
	t.Helper()
	root := `<root xmlns:stream="` + stanza.NSStream + `"`
	if parentNS != "" {
		root += ` xmlns="` + parentNS + `"`
	}
	root += ">" + s + "</root>"
	d := xml.NewDecoder(strings.NewReader(root))
	d.Strict = true
	if _, err := d.Token(); err != nil { // <root>
		t.Fatalf("decode %q: %v", s, err)
	}
	tok, err := d.Token()
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		t.Fatalf("decode %q: got %T, want an element", s, tok)
	}
	e, err := decodeElement(d, start)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	if tok, err := d.Token(); err != nil || tok.(xml.EndElement).Name.Local != "root" {
		t.Fatalf("decode %q: trailing %v %v", s, tok, err)
	}
	return e
}

func decodeElement(d *xml.Decoder, start xml.StartElement) (*stanza.Element, error) {
	e := &stanza.Element{Name: start.Name}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		e.Attr = append(e.Attr, a)
	}
	var text []byte
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.StartElement:
			c, err := decodeElement(d, t)
			if err != nil {
				return nil, err
			}
			e.Children = append(e.Children, c)
		case xml.EndElement:
			if len(e.Children) == 0 || len(bytes.TrimSpace(text)) != 0 {
				e.Text = string(text)
			}
			return e, nil
		default:
			return nil, fmt.Errorf("unexpected %T", tok)
		}
	}
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

func attr(space, local, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: space, Local: local}, Value: value}
}

func TestAppendXML(t *testing.T) {
	withText := func(e *stanza.Element, text string) *stanza.Element { e.Text = text; return e }
	tests := []struct {
		name     string
		el       *stanza.Element
		parentNS string
		want     string
		lossy    bool // the tree holds what the encoding leaves out
	}{{
		name:     "namespace inherited from the stream",
		el:       stanza.New(stanza.NSClient, "presence"),
		parentNS: stanza.NSClient,
		want:     `<presence/>`,
	}, {
		name:     "namespace declared when it differs from the parent",
		el:       stanza.New(stanza.NSClient, "presence"),
		parentNS: stanza.NSComponent,
		want:     `<presence xmlns="jabber:client"/>`,
	}, {
		name:     "namespace declared at the top with no parent",
		el:       stanza.New(stanza.NSClient, "presence"),
		parentNS: "",
		want:     `<presence xmlns="jabber:client"/>`,
	}, {
		name: "children inherit a payload namespace",
		el: stanza.New(stanza.NSClient, "iq", "type", "set", "id", "1").Add(
			stanza.New(nsNotify, "notification").AddText("id", "x").AddText("title", "T")),
		parentNS: stanza.NSClient,
		want:     `<iq type="set" id="1"><notification xmlns="androidpn:iq:notification"><id>x</id><title>T</title></notification></iq>`,
	}, {
		name: "child back in the parent's parent namespace is declared again",
		el: stanza.New(stanza.NSClient, "message").Add(
			stanza.New(nsOOB, "x").Add(stanza.New(stanza.NSClient, "body"))),
		parentNS: stanza.NSClient,
		want:     `<message><x xmlns="jabber:x:oob"><body xmlns="jabber:client"/></x></message>`,
	}, {
		name:     "child in no namespace",
		el:       stanza.New(stanza.NSClient, "iq").Add(stanza.New("", "query")),
		parentNS: stanza.NSClient,
		want:     `<iq><query xmlns=""/></iq>`,
	}, {
		name: "stream prefix, children in the enclosing namespace",
		el: stanza.New(stanza.NSStream, "features").Add(
			stanza.New(nsTLS, "starttls"), stanza.New(stanza.NSClient, "register")),
		parentNS: stanza.NSClient,
		want:     `<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/><register/></stream:features>`,
	}, {
		name:     "xml:lang",
		el:       &stanza.Element{Name: xml.Name{Space: stanza.NSClient, Local: "message"}, Attr: []xml.Attr{attr(stanza.NSXML, "lang", "en")}},
		parentNS: stanza.NSClient,
		want:     `<message xml:lang="en"/>`,
	}, {
		name: "xmlns attributes are not copied",
		el: &stanza.Element{Name: xml.Name{Space: stanza.NSClient, Local: "iq"}, Attr: []xml.Attr{
			attr("", "xmlns", "evil"), attr("xmlns", "p", "urn:p"), attr("", "id", "1"),
		}},
		parentNS: stanza.NSClient,
		want:     `<iq id="1"/>`,
		lossy:    true,
	}, {
		name: "namespaced attributes get a declared prefix",
		el: &stanza.Element{Name: xml.Name{Space: stanza.NSClient, Local: "iq"}, Attr: []xml.Attr{
			attr("", "id", "1"), attr("urn:a", "x", "2"), attr("urn:b", "x", "3"), attr("urn:a", "y", "4"),
		}},
		parentNS: stanza.NSClient,
		want:     `<iq id="1" xmlns:ns1="urn:a" ns1:x="2" xmlns:ns2="urn:b" ns2:x="3" ns1:y="4"/>`,
	}, {
		name:     "text only",
		el:       withText(stanza.New(stanza.NSClient, "body"), "hi"),
		parentNS: stanza.NSClient,
		want:     `<body>hi</body>`,
	}, {
		name:     "text and children",
		el:       withText(stanza.New(stanza.NSClient, "a"), "t").Add(stanza.New(stanza.NSClient, "b")),
		parentNS: stanza.NSClient,
		want:     `<a>t<b/></a>`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.el.AppendXML([]byte("prefix:"), tt.parentNS))
			if got != "prefix:"+tt.want {
				t.Fatalf("AppendXML:\n got %s\nwant prefix:%s", got, tt.want)
			}
			// The encoding decodes back to the same tree.
			if back := decodeXML(t, tt.want, tt.parentNS); !tt.lossy && !equal(back, tt.el) {
				t.Errorf("decoded back to %s, want %s", back, tt.el)
			}
		})
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantText string
		wantAttr string
	}{
		{"plain", "hello", "hello", "hello"},
		{"specials", `a&b<c>d"e'f`, `a&amp;b&lt;c&gt;d"e'f`, `a&amp;b&lt;c&gt;d&quot;e&apos;f`},
		{"CDATA end", "]]>", "]]&gt;", "]]&gt;"},
		{"whitespace", "a\tb\nc\rd", "a\tb\nc&#xD;d", "a&#x9;b&#xA;c&#xD;d"},
		{"CRLF", "a\r\nb", "a&#xD;\nb", "a&#xD;&#xA;b"},
		{"control chars", "a\x00b\x01c\x1bd\x7f", "a\uFFFDb\uFFFDc\uFFFDd\x7f", "a\uFFFDb\uFFFDc\uFFFDd\x7f"},
		{"invalid UTF-8", "a\xffb\xc3", "a\uFFFDb\uFFFD", "a\uFFFDb\uFFFD"},
		{"surrogate", "\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD", "\uFFFD\uFFFD\uFFFD"},
		{"non-characters", "\uFFFE\uFFFF", "\uFFFD\uFFFD", "\uFFFD\uFFFD"},
		{"valid multi-byte", "é€😀\uFFFD\U0010FFFF", "é€😀\uFFFD\U0010FFFF", "é€😀\uFFFD\U0010FFFF"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(stanza.AppendEscaped(nil, tt.in, false)); got != tt.wantText {
				t.Errorf("text: got %q, want %q", got, tt.wantText)
			}
			if got := string(stanza.AppendEscaped(nil, tt.in, true)); got != tt.wantAttr {
				t.Errorf("attr: got %q, want %q", got, tt.wantAttr)
			}
			// As text and as an attribute value, the output is
			// well-formed and decodes to the input with the characters
			// XML cannot carry replaced.
			el := stanza.New(stanza.NSClient, "a", "v", tt.in)
			el.Text = tt.in
			enc := el.String()
			back := decodeXML(t, enc, stanza.NSClient)
			want := xmlSafe(tt.in)
			if back.Text != want {
				t.Errorf("text decodes to %q, want %q", back.Text, want)
			}
			if want != "" && back.AttrValue("v") != want {
				t.Errorf("attribute decodes to %q, want %q", back.AttrValue("v"), want)
			}
		})
	}
}

// xmlSafe is what encoding s keeps: characters XML 1.0 cannot carry (and
// each byte of invalid UTF-8) become U+FFFD.
func xmlSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		switch {
		case r == utf8.RuneError && w == 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r == 0xFFFE, r == 0xFFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestElementHelpers(t *testing.T) {
	e := stanza.New(stanza.NSClient, "message", "type", "headline", "to", "a@b", "odd")
	if got := e.String(); got != `<message type="headline" to="a@b"/>` {
		t.Fatalf("New: %s", got)
	}
	if !e.Is(stanza.NSClient, "message") || e.Is(stanza.NSServer, "message") || e.Is(stanza.NSClient, "iq") {
		t.Error("Is")
	}
	var nilEl *stanza.Element
	if nilEl.Is(stanza.NSClient, "message") || nilEl.AttrValue("to") != "" || nilEl.Lang() != "" ||
		nilEl.Child("", "x") != nil || nilEl.ChildText("", "x") != "" || nilEl.First() != nil {
		t.Error("methods on a nil element")
	}
	e.SetAttr("to", "c@d").SetAttr("id", "1").SetAttr("type", "")
	if got := e.String(); got != `<message to="c@d" id="1"/>` {
		t.Errorf("SetAttr: %s", got)
	}
	e.SetAttr("absent", "")
	e.Attr = append(e.Attr, attr(stanza.NSXML, "lang", "de"), attr("urn:x", "id", "2"))
	if e.Lang() != "de" || e.AttrValue("id") != "1" || e.AttrValue("lang") != "" {
		t.Errorf("Lang %q, AttrValue(id) %q", e.Lang(), e.AttrValue("id"))
	}
	if (&stanza.Element{Attr: []xml.Attr{attr("xml", "lang", "fr")}}).Lang() != "fr" {
		t.Error(`Lang with the "xml" prefix as namespace`)
	}
	oob := stanza.New(nsOOB, "x").AddText("url", " https://example.org/a ").AddText("desc", "")
	e.Add(nil, stanza.New("urn:other", "url"), oob)
	if len(e.Children) != 2 || e.First().Name.Space != "urn:other" {
		t.Fatalf("Add: %s", e)
	}
	if e.Child(nsOOB, "x") != oob || e.Child("", "x") != oob || e.Child(stanza.NSClient, "x") != nil {
		t.Error("Child")
	}
	if got := e.Child(nsOOB, "x").ChildText("", "url"); got != "https://example.org/a" {
		t.Errorf("ChildText: %q", got)
	}
	if len(oob.Children) != 1 || oob.Children[0].Name.Space != nsOOB {
		t.Errorf("AddText: %s", oob)
	}
	if (&stanza.Element{}).First() != nil {
		t.Error("First of an empty element")
	}
}

// TestEncodeWellFormed checks that whatever goes into text and attribute
// values, the output is well-formed XML for a strict parser.
func TestEncodeWellFormed(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	inputs := []string{string(all), "\xef\xbf\xbe\xef\xbf\xbf", "&amp;&lt;&#0;&#x1;<![CDATA[x]]>", "<!--c--><?pi?>"}
	for _, in := range inputs {
		el := stanza.New(stanza.NSClient, "a", "v", in).AddText("b", in)
		el.Text = in
		d := xml.NewDecoder(bytes.NewReader(el.AppendXML(nil, "")))
		d.Strict = true
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("encoding of %q is not well-formed: %v", in, err)
			}
		}
	}
}
