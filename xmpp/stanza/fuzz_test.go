package stanza_test

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
)

// FuzzElementEncode checks that any strings put into text and attribute
// values encode to XML that encoding/xml decodes, strictly, back to the
// same strings once the characters XML cannot carry are replaced by
// U+FFFD.
func FuzzElementEncode(f *testing.F) {
	f.Add("hello world ", "sam@127.0.0.1/AndroidpnClient")
	f.Add(`a&b<c>d"e'f]]>`, `a&b<c>d"e'f`)
	f.Add("a\r\nb\rc\td\n", " a\r\nb\tc ")
	f.Add("\x00\x01\x1f\x7f", "\xff\xfe")
	f.Add("\xed\xa0\x80\uFFFE\uFFFF\uFFFD", "\U0010FFFF")
	f.Fuzz(func(t *testing.T, text, value string) {
		body := &stanza.Element{
			Name: xml.Name{Space: stanza.NSClient, Local: "body"},
			Attr: []xml.Attr{attr("", "v", value), attr(stanza.NSXML, "lang", value), attr("urn:x", "v", value)},
			Text: text,
		}
		msg := stanza.New(stanza.NSClient, "message").Add(body)
		msg.Attr = []xml.Attr{attr("", "to", value)}
		enc := msg.AppendXML(nil, "")

		back := decodeXML(t, string(enc), "")
		wantText, wantValue := xmlSafe(text), xmlSafe(value)
		b := back.Child(stanza.NSClient, "body")
		if b == nil {
			t.Fatalf("no body in %q", enc)
		}
		if b.Text != wantText {
			t.Errorf("text %q encoded as %q decodes to %q, want %q", text, enc, b.Text, wantText)
		}
		if back.AttrValue("to") != wantValue || b.AttrValue("v") != wantValue || b.Lang() != wantValue {
			t.Errorf("value %q encoded as %q decodes to %q, %q, %q; want %q",
				value, enc, back.AttrValue("to"), b.AttrValue("v"), b.Lang(), wantValue)
		}
		if len(b.Attr) != 3 || b.Attr[2].Name.Space != "urn:x" || b.Attr[2].Value != wantValue {
			t.Errorf("namespaced attribute lost in %q: %v", enc, b.Attr)
		}
		// The replacement is all the encoder changes: encoding the
		// already safe strings gives the same bytes.
		body.Text = wantText
		for i := range body.Attr {
			body.Attr[i].Value = wantValue
		}
		msg.Attr[0].Value = wantValue
		if again := msg.AppendXML(nil, ""); !bytes.Equal(again, enc) {
			t.Errorf("encoding the replaced strings differs:\n%q\n%q", enc, again)
		}
	})
}
