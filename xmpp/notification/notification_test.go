package notification_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

const streamHeader = `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" version="1.0">`

// decodeAll decodes the top-level elements of data inside a client stream
// with the default limits; it stops at the first error.
func decodeAll(data []byte) ([]*stanza.Element, error) {
	in := append([]byte(streamHeader), data...)
	dec := stream.NewDecoder(bytes.NewReader(in), stream.Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		return nil, err
	}
	var els []*stanza.Element
	for len(els) < 64 {
		el, err := dec.Next()
		if err != nil {
			return els, err
		}
		els = append(els, el)
	}
	return els, nil
}

// decode decodes exactly one element.
func decode(t *testing.T, xml string) *stanza.Element {
	t.Helper()
	els, _ := decodeAll([]byte(xml))
	if len(els) != 1 {
		t.Fatalf("%s: decoded %d elements", xml, len(els))
	}
	return els[0]
}

func TestParseIQ(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name    string
		xml     string
		schemes []string
		want    notification.Notification
		wantErr bool
	}{
		{
			name: "the paper's push",
			xml: `<iq type="set" id="88-0" to="sam@127.0.0.1/AndroidpnClient"><notification xmlns="androidpn:iq:notification">` +
				`<id>ffe31f20</id><title>Hello World</title><message>hello world </message><uri></uri></notification></iq>`,
			want: notification.Notification{ID: "ffe31f20", Title: "Hello World", Message: "hello world", Kind: "iq", StanzaID: "88-0"},
		},
		{
			name: "all fields, trimmed",
			xml: `<iq type="set" id="i" from="push.example.org"><notification xmlns="androidpn:iq:notification">` +
				"<id> n1 </id><title>\n  T  \n</title><message>\n line one\n line two\n</message><uri> https://example.org/p.png </uri></notification></iq>",
			want: notification.Notification{
				ID: "n1", Title: "T", Message: "line one\n line two", URI: "https://example.org/p.png",
				From: "push.example.org", Kind: "iq", StanzaID: "i",
			},
		},
		{
			name: "escapes",
			xml:  `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>a&amp;b</id><title>&lt;b&gt;bold&lt;/b&gt;</title><message>&#x1F600; &quot;q&quot;</message></notification></iq>`,
			want: notification.Notification{ID: "a&b", Title: "<b>bold</b>", Message: "\U0001F600 \"q\"", Kind: "iq", StanzaID: "i"},
		},
		{
			name: "title only",
			xml:  `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><title>t</title></notification></iq>`,
			want: notification.Notification{ID: "1", Title: "t", Kind: "iq", StanzaID: "i"},
		},
		{
			name: "message only, unsafe uri",
			xml:  `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><message>m</message><uri>javascript:alert(1)</uri></notification></iq>`,
			want: notification.Notification{ID: "1", Message: "m", URI: "javascript:alert(1)", URIUnsafe: true, Kind: "iq", StanzaID: "i"},
		},
		{
			name:    "custom schemes",
			xml:     `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><message>m</message><uri>https://example.org/</uri></notification></iq>`,
			schemes: []string{"mailto"},
			want:    notification.Notification{ID: "1", Message: "m", URI: "https://example.org/", URIUnsafe: true, Kind: "iq", StanzaID: "i"},
		},
		{
			name: "fields in another namespace are not ours",
			xml:  `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><title xmlns="urn:other">x</title><message>m</message></notification></iq>`,
			want: notification.Notification{ID: "1", Message: "m", Kind: "iq", StanzaID: "i"},
		},
		{
			name: "limits at the edge",
			xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>` + long(notification.MaxIDLen) + `</id><title>` +
				long(notification.MaxTitleLen) + `</title></notification></iq>`,
			want: notification.Notification{ID: long(notification.MaxIDLen), Title: long(notification.MaxTitleLen), Kind: "iq", StanzaID: "i"},
		},
		{name: "no id", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><title>t</title></notification></iq>`, wantErr: true},
		{name: "blank id", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id> </id><title>t</title></notification></iq>`, wantErr: true},
		{name: "nothing to show", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><uri>https://example.org/</uri></notification></iq>`, wantErr: true},
		{name: "no payload", xml: `<iq type="set" id="i"/>`, wantErr: true},
		{name: "wrong namespace", xml: `<iq type="set" id="i"><notification xmlns="urn:other"><id>1</id><title>t</title></notification></iq>`, wantErr: true},
		{name: "not an iq", xml: `<message><notification xmlns="androidpn:iq:notification"><id>1</id><title>t</title></notification></message>`, wantErr: true},
		{name: "id too long", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>` + long(notification.MaxIDLen+1) + `</id><title>t</title></notification></iq>`, wantErr: true},
		{name: "title too long", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><title>` + long(notification.MaxTitleLen+1) + `</title></notification></iq>`, wantErr: true},
		{name: "message too long", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><message>` + long(notification.MaxMessageLen+1) + `</message></notification></iq>`, wantErr: true},
		{name: "uri too long", xml: `<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"><id>1</id><title>t</title><uri>https://example.org/` + long(notification.MaxURILen) + `</uri></notification></iq>`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el := decode(t, tc.xml)
			if tc.xml != "" && notification.IsIQ(el) != (el.Name.Local == "iq" && el.Child(notification.NS, "notification") != nil) {
				t.Errorf("IsIQ = %v", notification.IsIQ(el))
			}
			n, err := notification.ParseIQ(el, tc.schemes)
			if tc.wantErr {
				if err == nil || !errors.Is(err, notification.ErrMalformed) {
					t.Fatalf("got %+v, %v; want ErrMalformed", n, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *n != tc.want {
				t.Errorf("got  %+v\nwant %+v", *n, tc.want)
			}
		})
	}
}

func TestParseIQInvalidUTF8(t *testing.T) {
	// The decoder refuses invalid UTF-8; an element built in code may
	// still carry it.
	n := &notification.Notification{ID: "1", Title: "bad \xff"}
	if _, err := notification.ParseIQ(n.AsIQ("i", "", ""), nil); !errors.Is(err, notification.ErrMalformed) {
		t.Errorf("invalid UTF-8 accepted: %v", err)
	}
}

func TestIsIQ(t *testing.T) {
	for xml, want := range map[string]bool{
		`<iq type="set" id="i"><notification xmlns="androidpn:iq:notification"/></iq>`:                true,
		`<iq type="get" id="i"><notification xmlns="androidpn:iq:notification"/></iq>`:                false,
		`<iq type="result" id="i"><notification xmlns="androidpn:iq:notification"/></iq>`:             false,
		`<iq type="set" id="i"><ping xmlns="urn:xmpp:ping"/></iq>`:                                    false,
		`<message type="set"><notification xmlns="androidpn:iq:notification"/></message>`:             false,
		`<iq type="set" id="i"><x/><notification xmlns="androidpn:iq:notification"/></iq>`:            true,
		`<iq type="set" id="i"><notification xmlns="androidpn:iq:notification:v2"/></iq>`:             false,
		`<iq type="set" id="i"><notification xmlns="ANDROIDPN:IQ:NOTIFICATION"/></iq>`:                false,
		`<iq xmlns="jabber:server" type="set"><notification xmlns="androidpn:iq:notification"/></iq>`: true,
	} {
		if got := notification.IsIQ(decode(t, xml)); got != want {
			t.Errorf("IsIQ(%s) = %v, want %v", xml, got, want)
		}
	}
}

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		xml     string
		want    notification.Notification
		wantErr bool
	}{
		{
			name: "headline with subject, body and OOB url",
			xml: `<message type="headline" from="ci.example.org" id="m1"><subject>Build</subject><body> passed </body>` +
				`<x xmlns="jabber:x:oob"><url>https://ci.example.org/42</url><desc>ignored</desc></x></message>`,
			want: notification.Notification{Title: "Build", Message: "passed", URI: "https://ci.example.org/42", From: "ci.example.org", Kind: "message", StanzaID: "m1"},
		},
		{
			name: "OOB desc as title",
			xml:  `<message id="m1"><x xmlns="jabber:x:oob"><url>https://example.org/v.mp4</url><desc>A movie</desc></x></message>`,
			want: notification.Notification{Title: "A movie", URI: "https://example.org/v.mp4", Kind: "message", StanzaID: "m1"},
		},
		{
			name: "url only, unsafe",
			xml:  `<message><x xmlns="jabber:x:oob"><url>file:///etc/passwd</url></x></message>`,
			want: notification.Notification{URI: "file:///etc/passwd", URIUnsafe: true, Kind: "message"},
		},
		{
			name: "notification id rides along",
			xml:  `<message id="m1"><body>b</body><notification xmlns="androidpn:iq:notification"><id>n7</id></notification></message>`,
			want: notification.Notification{ID: "n7", Message: "b", Kind: "message", StanzaID: "m1"},
		},
		{
			name: "origin-id when there is no stanza id",
			xml:  `<message><body>b</body><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`,
			want: notification.Notification{Message: "b", Kind: "message", StanzaID: "o1"},
		},
		{
			name: "stanza id wins over origin-id",
			xml:  `<message id="m1"><body>b</body><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`,
			want: notification.Notification{Message: "b", Kind: "message", StanzaID: "m1"},
		},
		{name: "chat state", xml: `<message type="chat"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`, wantErr: true},
		{name: "receipt", xml: `<message id="r"><received xmlns="urn:xmpp:receipts" id="m1"/></message>`, wantErr: true},
		{name: "blank body", xml: `<message><body>   </body></message>`, wantErr: true},
		{name: "not a message", xml: `<presence><status>s</status></presence>`, wantErr: true},
		{name: "subject too long", xml: `<message><subject>` + strings.Repeat("s", notification.MaxTitleLen+1) + `</subject></message>`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := notification.ParseMessage(decode(t, tc.xml), nil)
			if tc.wantErr {
				if !errors.Is(err, notification.ErrMalformed) {
					t.Fatalf("got %+v, %v; want ErrMalformed", n, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *n != tc.want {
				t.Errorf("got  %+v\nwant %+v", *n, tc.want)
			}
		})
	}
}

func TestCheckURI(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		schemes []string
		ok      bool
	}{
		{"http://example.org/", nil, true},
		{"https://example.org/a/b?c=d#e", nil, true},
		{"HTTP://EXAMPLE.ORG/", nil, true},
		{"HtTpS://example.org", nil, true},
		{"https://[2001:db8::1]:8443/x", nil, true},
		{"https://example.org/" + strings.Repeat("a", 100_000), nil, true}, // length is the parser's concern
		{"javascript:alert(1)", nil, false},
		{"JAVASCRIPT:alert(1)", nil, false},
		{" javascript:alert(1)", nil, false},
		{"java\tscript:alert(1)", nil, false},
		{"file:///etc/passwd", nil, false},
		{"data:text/html,<script>alert(1)</script>", nil, false},
		{"vbscript:x", nil, false},
		{"ftp://example.org/f", nil, false},
		{"/relative/path", nil, false},
		{"example.org/page", nil, false},
		{"//example.org/protocol-relative", nil, false},
		{"", nil, false},
		{"http:", nil, false},
		{"http:opaque", nil, false},
		{"https:///no-host", nil, false},
		{"https://user:pass@example.org/", nil, false},
		{"https://user@example.org/", nil, false},
		{"https://exa mple.org/", nil, false},
		{"http://%zz/", nil, false},
		{"ftp://example.org/f", []string{"ftp"}, true},
		{"https://example.org/", []string{"ftp"}, false},
		{"zoommtg://zoom.us/join", []string{"zoommtg"}, true},
		{"zoommtg:", []string{"zoommtg"}, true}, // hosts are required of http(s) only
		{"https://example.org/", []string{}, false},
	} {
		err := notification.CheckURI(tc.uri, tc.schemes)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURI(%.60q, %q) = %v, want ok %v", tc.uri, tc.schemes, err, tc.ok)
		}
	}
}

// TestRoundTrip: AsIQ and AsMessage produce what ParseIQ and ParseMessage
// read back, through the encoder and the decoder.
func TestRoundTrip(t *testing.T) {
	for _, n := range []notification.Notification{
		{ID: "ffe31f20", Title: "Hello World", Message: "hello world", URI: ""},
		{ID: "1", Title: "T", Message: "line one\nline two", URI: "https://example.org/p.png?a=1&b=2"},
		{ID: "a&b<c>", Title: "\"quoted\" 'apos'", Message: "tab\there, cr\rthere, \U0001F600", URI: "javascript:alert('x')"},
		{ID: "x", Message: "]]> <!-- not a comment -->"},
		{ID: "u", Title: strings.Repeat("é", notification.MaxTitleLen/2)},
	} {
		iq := n.AsIQ("iq1", "push.example.org", "alice@example.org/desk")
		got, err := notification.ParseIQ(decode(t, iq.String()), nil)
		if err != nil {
			t.Fatalf("%+v: %v", n, err)
		}
		want := n
		want.URIUnsafe = n.URI != "" && notification.CheckURI(n.URI, nil) != nil
		want.Kind, want.StanzaID, want.From = "iq", "iq1", "push.example.org"
		if *got != want {
			t.Errorf("iq round trip:\n got %+v\nwant %+v\nvia %s", *got, want, iq)
		}

		msg := n.AsMessage("headline", "m1", "push.example.org", "alice@example.org")
		got, err = notification.ParseMessage(decode(t, msg.String()), nil)
		if err != nil {
			t.Fatalf("%+v: %v", n, err)
		}
		want.Kind, want.StanzaID = "message", "m1"
		if *got != want {
			t.Errorf("message round trip:\n got %+v\nwant %+v\nvia %s", *got, want, msg)
		}
	}
}

func TestDedupeKey(t *testing.T) {
	for _, tc := range []struct {
		n    notification.Notification
		want string
	}{
		{notification.Notification{ID: "1", Kind: "iq", StanzaID: "s"}, "iq:1"},
		{notification.Notification{ID: "1", Kind: "message", StanzaID: "s"}, "message:1"},
		{notification.Notification{Kind: "message", StanzaID: "s"}, "message:sid::s"},
		{notification.Notification{Kind: "message", StanzaID: "s", From: "a@example.org/r"}, "message:sid:a@example.org/r:s"},
		{notification.Notification{ID: "1", Kind: "message", StanzaID: "s", From: "a@example.org/r"}, "message:1"},
		{notification.Notification{Kind: "message"}, ""},
	} {
		if got := tc.n.DedupeKey(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.n, got, tc.want)
		}
	}
}
