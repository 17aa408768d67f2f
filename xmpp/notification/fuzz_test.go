package notification_test

import (
	"testing"

	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
)

// FuzzParseNotification feeds arbitrary bytes, wrapped in a client stream,
// through the stream decoder to ParseIQ and ParseMessage. Nothing may
// panic, and whatever parses must survive its own encoding: AsIQ (for a
// notification with an id) and AsMessage parse back to the same fields.
// The seed corpus is in testdata/fuzz/FuzzParseNotification.
func FuzzParseNotification(f *testing.F) {
	for _, s := range []string{
		`<iq type="set" id="88-0" to="sam@127.0.0.1/AndroidpnClient"><notification xmlns="androidpn:iq:notification"><id>ffe31f20</id><title>Hello World</title><message>hello world </message><uri></uri></notification></iq>`,
		`<message type="headline" id="m1"><subject>s</subject><body>b</body><x xmlns="jabber:x:oob"><url>https://example.org/</url></x></message>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		els, _ := decodeAll(data)
		for _, el := range els {
			if n, err := notification.ParseIQ(el, nil); err == nil {
				checkIQ(t, n)
				checkMessage(t, n)
			}
			if n, err := notification.ParseMessage(el, nil); err == nil {
				if n.ID != "" && (n.Title != "" || n.Message != "") {
					checkIQ(t, n)
				}
				checkMessage(t, n)
			}
		}
	})
}

// same reports whether the fields a notification carries on the wire are
// equal.
func same(a, b *notification.Notification) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Message == b.Message && a.URI == b.URI && a.URIUnsafe == b.URIUnsafe
}

func reparse(t *testing.T, el *stanza.Element) *stanza.Element {
	t.Helper()
	els, err := decodeAll(el.AppendXML(nil, stanza.NSClient))
	if len(els) != 1 {
		t.Fatalf("%s does not decode: %v", el, err)
	}
	return els[0]
}

func checkIQ(t *testing.T, n *notification.Notification) {
	t.Helper()
	iq := n.AsIQ("id", "from@example.org", "to@example.org/r")
	back, err := notification.ParseIQ(reparse(t, iq), nil)
	if err != nil {
		t.Fatalf("%+v: AsIQ %s does not parse: %v", *n, iq, err)
	}
	if !same(n, back) {
		t.Fatalf("AsIQ round trip:\n got %+v\nwant %+v\nvia %s", *back, *n, iq)
	}
}

func checkMessage(t *testing.T, n *notification.Notification) {
	t.Helper()
	m := n.AsMessage("headline", "id", "from@example.org", "to@example.org")
	back, err := notification.ParseMessage(reparse(t, m), nil)
	if err != nil {
		t.Fatalf("%+v: AsMessage %s does not parse: %v", *n, m, err)
	}
	if !same(n, back) {
		t.Fatalf("AsMessage round trip:\n got %+v\nwant %+v\nvia %s", *back, *n, m)
	}
}
