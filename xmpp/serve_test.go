package xmpp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// TestPingAnswered: the client answers the server's XEP-0199 ping.
func TestPingAnswered(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	srv.Sendf(`<iq type="get" id="p1" from="%s"><ping xmlns="urn:xmpp:ping"/></iq>`, testDomain)
	if res := srv.ExpectResult("p1"); res.AttrValue("to") != testDomain || len(res.Children) != 0 {
		t.Errorf("ping answered with %s", res)
	}
	check(t, srv)
	p.noEvent()
}

// TestPingTimeout: the client pings a server that has been silent for
// PingInterval; answered pings keep the link, an unanswered one declares
// it dead after PingTimeout, and the client reconnects. PingTimeout is
// generous so that a loaded machine answers in time.
func TestPingTimeout(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PingTimeout = 500 * time.Millisecond
	})
	srv := p.online(onlineOpts{})
	for range 2 {
		ping := srv.ExpectIQ(stanza.TypeGet, NSPing, "ping")
		if ping.AttrValue("to") != testDomain {
			t.Errorf("ping to %q", ping.AttrValue("to"))
		}
		srv.Sendf(`<iq type="result" id="%s" from="%s"/>`, ping.AttrValue("id"), testDomain)
	}
	srv.ExpectIQ(stanza.TypeGet, NSPing, "ping") // left unanswered
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	if !errors.Is(sc.Err, ErrPingTimeout) || !sc.Retry {
		t.Fatalf("offline with %v (retry %v), want ErrPingTimeout, retried", sc.Err, sc.Retry)
	}
	if got := Explain(sc.Err); got != "The server stopped answering." {
		t.Errorf("Explain: %q", got)
	}
	p.online(onlineOpts{})
}

// TestPingErrorIsAnswer: an error reply to a ping (a server without
// XEP-0199) still shows the link is alive.
func TestPingErrorIsAnswer(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PingTimeout = time.Minute
	})
	srv := p.online(onlineOpts{})
	for range 3 {
		ping := srv.ExpectIQ(stanza.TypeGet, NSPing, "ping")
		srv.Sendf(`<iq type="error" id="%s"><error type="cancel"><service-unavailable xmlns="%s"/></error></iq>`, ping.AttrValue("id"), stanza.NSStanzas)
	}
	check(t, srv)
	p.noEvent()
}

// TestReconnectWhileOnline: Reconnect on a live session checks the link
// with a ping instead of dropping it.
func TestReconnectWhileOnline(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	p.c.Reconnect()
	ping := srv.ExpectIQ(stanza.TypeGet, NSPing, "ping")
	srv.Sendf(`<iq type="result" id="%s"/>`, ping.AttrValue("id"))
	// Still the same session: a push goes through.
	srv.Send(xmpptest.Notification("n1", testFull, "a", "still here", "", ""))
	srv.ExpectResult("n1")
	check(t, srv)
	if n := p.notified(); n.ID != "a" {
		t.Errorf("notification %+v", *n)
	}
	p.d.ExpectNoDial(quiet)
}

// TestKeepalive: a quiet stream gets a single space every Keepalive.
func TestKeepalive(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) { c.Keepalive = 20 * time.Millisecond })
	srv := p.online(onlineOpts{})
	for range 3 {
		srv.ExpectWhitespace()
	}
	check(t, srv)
}

// TestNotificationIQ: the fields arrive as sent, and the acknowledgement
// goes out only once the event is on the channel.
func TestNotificationIQ(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	srv.Sendf(`<iq type="set" id="n1" from="%s" to="%s"><notification xmlns="androidpn:iq:notification">`+
		`<id>ffe31f20</id><title> Hello World </title><message>hello &amp; welcome</message><uri>https://example.org/pic.png</uri>`+
		`</notification></iq>`, testDomain, testFull)
	if res := srv.ExpectResult("n1"); res.AttrValue("to") != testDomain {
		t.Errorf("ack %s not addressed to the sender", res)
	}
	check(t, srv)
	select {
	case ev := <-p.c.Events():
		n, ok := ev.(*Notified)
		if !ok {
			t.Fatalf("got %s", describe(ev))
		}
		want := notification.Notification{
			ID: "ffe31f20", Title: "Hello World", Message: "hello & welcome", URI: "https://example.org/pic.png",
			From: testDomain, Kind: notification.KindIQ, StanzaID: "n1",
		}
		got := *n.Notification
		if got.Received.IsZero() {
			t.Error("Received not set")
		}
		got.Received = time.Time{}
		if got != want {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	default:
		t.Fatal("acknowledged before the event was on the channel")
	}
}

// TestMalformedNotification: a notification the client cannot use gets a
// bad-request error and no event.
func TestMalformedNotification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, payload string
	}{
		{"no id", `<title>t</title><message>m</message>`},
		{"blank id", `<id>  </id><title>t</title>`},
		{"nothing to show", `<id>x</id>`},
		{"title too long", `<id>x</id><title>` + strings.Repeat("t", notification.MaxTitleLen+1) + `</title>`},
		{"id too long", `<id>` + strings.Repeat("i", notification.MaxIDLen+1) + `</id><title>t</title>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, nil)
			srv := p.online(onlineOpts{})
			srv.Sendf(`<iq type="set" id="bad" from="%s"><notification xmlns="androidpn:iq:notification">%s</notification></iq>`, testDomain, tc.payload)
			reply := srv.ExpectError("bad", "bad-request")
			if e, _ := stanza.ParseError(reply); e.Type != stanza.ErrorModify || reply.AttrValue("to") != testDomain {
				t.Errorf("error reply %s", reply)
			}
			// The next good one is the first event.
			srv.Send(xmpptest.Notification("good", testFull, "ok", "fine", "", ""))
			srv.ExpectResult("good")
			check(t, srv)
			if n := p.notified(); n.ID != "ok" {
				t.Errorf("first event is %+v, want the good notification", *n)
			}
		})
	}
}

// TestUnsafeURI: a notification whose uri must not be opened is kept and
// flagged.
func TestUnsafeURI(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	for i, tc := range []struct {
		uri    string
		unsafe bool
	}{
		{"https://example.org/a", false},
		{"http://example.org/b", false},
		{"javascript:alert(1)", true},
		{"JavaScript:alert(1)", true},
		{"file:///etc/passwd", true},
		{"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", true},
		{"/relative/path", true},
		{"https://user:pass@example.org/", true},
		{"vbscript:msgbox", true},
	} {
		id := fmt.Sprint("u", i)
		srv.Send(xmpptest.Notification(id, testFull, id, "t", "", tc.uri))
		srv.ExpectResult(id)
		check(t, srv)
		n := p.notified()
		if n.URI != tc.uri || n.URIUnsafe != tc.unsafe {
			t.Errorf("%s: uri %q unsafe %v, want unsafe %v", tc.uri, n.URI, n.URIUnsafe, tc.unsafe)
		}
	}
}

// TestURISchemes: Config.URISchemes replaces the default list.
func TestURISchemes(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) { c.URISchemes = []string{"https", "zoommtg"} })
	srv := p.online(onlineOpts{})
	for i, tc := range []struct {
		uri    string
		unsafe bool
	}{
		{"https://example.org/", false},
		{"http://example.org/", true},
		{"zoommtg://zoom.us/join?confno=1", false},
	} {
		id := fmt.Sprint("u", i)
		srv.Send(xmpptest.Notification(id, testFull, id, "t", "", tc.uri))
		srv.ExpectResult(id)
		check(t, srv)
		if n := p.notified(); n.URIUnsafe != tc.unsafe {
			t.Errorf("%s: unsafe %v, want %v", tc.uri, n.URIUnsafe, tc.unsafe)
		}
	}
}

// TestAllowedSenders: who may notify, by stanza kind, with and without an
// allow-list. Each row sends one stanza followed by a headline from the
// server itself; the first event tells whether the row's stanza got
// through.
func TestAllowedSenders(t *testing.T) {
	t.Parallel()
	allow := []string{"boss@example.org", "news.example.net"}
	for _, tc := range []struct {
		name    string
		allow   []string
		typ     string // message type; "iq" for a notification IQ
		from    string
		allowed bool
	}{
		{"headline from anyone, no list", nil, "headline", "eve@evil.example", true},
		{"iq from anyone, no list", nil, "iq", "eve@evil.example", true},
		{"chat from a stranger, no list", nil, "chat", "eve@evil.example/x", false},
		{"normal from a stranger, no list", nil, "normal", "eve@evil.example", false},
		{"untyped (normal) from a stranger, no list", nil, "", "eve@evil.example", false},
		{"chat from the own server, no list", nil, "chat", testDomain, true},
		{"chat without from, no list", nil, "chat", "", true},
		{"chat from a user of the own server, no list", nil, "chat", "bob@" + testDomain, false},
		{"chat from a listed JID", allow, "chat", "boss@example.org/phone", true},
		{"chat from a listed JID, other case", allow, "chat", "Boss@Example.org", true},
		{"normal from a listed domain", allow, "normal", "news.example.net", true},
		{"normal from a user of a listed domain", allow, "normal", "bot@news.example.net", true},
		{"headline from a stranger, with list", allow, "headline", "eve@evil.example", false},
		{"iq from a stranger, with list", allow, "iq", "eve@evil.example", false},
		{"iq from a listed JID", allow, "iq", "boss@example.org/x", true},
		{"groupchat is never a notification", allow, "groupchat", "boss@example.org", false},
		{"error is never a notification", allow, "error", "boss@example.org", false},
		{"from that does not parse", allow, "chat", "@@", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, func(c *Config) { c.AllowedSenders = tc.allow })
			srv := p.online(onlineOpts{})
			from := ""
			if tc.from != "" {
				from = fmt.Sprintf(` from="%s"`, tc.from)
			}
			if tc.typ == "iq" {
				srv.Sendf(`<iq type="set" id="row"%s><notification xmlns="androidpn:iq:notification"><id>row</id><title>row</title></notification></iq>`, from)
				if tc.allowed {
					srv.ExpectResult("row")
				} else {
					srv.ExpectError("row", "forbidden")
				}
			} else {
				typ := ""
				if tc.typ != "" {
					typ = fmt.Sprintf(` type="%s"`, tc.typ)
				}
				srv.Sendf(`<message%s%s id="row"><body>row</body></message>`, typ, from)
			}
			srv.Sendf(`<message type="headline" from="%s" id="sentinel"><body>sentinel</body></message>`, testDomain)
			check(t, srv)
			first := p.notified()
			if got := first.StanzaID == "row"; got != tc.allowed {
				t.Errorf("row's stanza delivered: %v, want %v", got, tc.allowed)
			}
			if tc.allowed && p.notified().StanzaID != "sentinel" {
				t.Error("sentinel missing")
			}
		})
	}
}

// TestDedupeAcrossReconnects: a notification pushed again on a new
// session (the server did not get the first ack) is acknowledged again
// but emitted once.
func TestDedupeAcrossReconnects(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	srv.Send(xmpptest.Notification("s1-1", testFull, "same", "once", "", ""))
	srv.ExpectResult("s1-1")
	check(t, srv)
	if n := p.notified(); n.ID != "same" {
		t.Fatalf("notification %+v", *n)
	}
	srv.Close() // the link drops
	if sc := p.offline(); !sc.Retry {
		t.Fatalf("offline with %v, no retry", sc.Err)
	}

	srv = p.online(onlineOpts{})
	srv.Send(xmpptest.Notification("s2-1", testFull, "same", "once", "", ""))
	srv.ExpectResult("s2-1") // acknowledged again
	srv.Send(xmpptest.Notification("s2-2", testFull, "next", "new", "", ""))
	srv.ExpectResult("s2-2")
	// A message carrying the same notification id is another kind: it
	// is not a duplicate of the IQ.
	srv.Sendf(`<message type="headline" id="m1"><body>b</body><notification xmlns="androidpn:iq:notification"><id>next</id></notification></message>`)
	// A message redelivered with the same stanza id is.
	srv.Sendf(`<message type="headline" id="m1"><body>b</body><notification xmlns="androidpn:iq:notification"><id>next</id></notification></message>`)
	srv.Sendf(`<message type="headline" id="m2"><body>c</body></message>`)
	srv.Sendf(`<message type="headline" id="m2"><body>c</body></message>`)
	// Stanza ids are the sender's: another sender's m2 is another
	// message.
	srv.Sendf(`<message type="headline" id="m2" from="ci.example.net"><body>other</body></message>`)
	srv.Sendf(`<message type="headline" id="m3"><body>end</body></message>`)
	check(t, srv)
	for _, want := range []string{"s2-2", "m1", "m2", "m2", "m3"} {
		if n := p.notified(); n.StanzaID != want {
			t.Fatalf("got %+v, want stanza %s", *n, want)
		}
	}
}

// TestEventsBounded: a consumer that falls behind holds the session up
// (the acknowledgements wait) but loses nothing, and the channel never
// holds more than its capacity.
func TestEventsBounded(t *testing.T) {
	t.Parallel()
	const buffer, total = 4, 12
	p := startPair(t, func(c *Config) { c.EventBuffer = buffer })
	srv := p.online(onlineOpts{})
	if cap(p.c.Events()) != buffer {
		t.Fatalf("events capacity %d, want %d", cap(p.c.Events()), buffer)
	}
	acked := make(chan string, total)
	scriptDone := make(chan struct{})
	go func() { // the server pushes faster than the consumer reads
		defer close(scriptDone)
		for i := range total {
			id := fmt.Sprint("n", i)
			srv.Send(xmpptest.Notification(id, testFull, id, "t", "", ""))
		}
	}()
	// The reader of the server's side runs here.
	for i := range buffer {
		srv.ExpectResult(fmt.Sprint("n", i))
	}
	check(t, srv)
	// The channel is full, and the next notification is not acknowledged
	// while it stays full.
	if n := len(p.c.Events()); n != buffer {
		t.Fatalf("%d events waiting, want %d", n, buffer)
	}
	ackNext := make(chan struct{})
	go func() {
		defer close(ackNext)
		for i := buffer; i < total; i++ {
			srv.ExpectResult(fmt.Sprint("n", i))
			acked <- fmt.Sprint("n", i)
		}
	}()
	select {
	case id := <-acked:
		t.Fatalf("%s acknowledged while the channel was full", id)
	case <-time.After(quiet):
	}
	for i := range total {
		if n := p.notified(); n.ID != fmt.Sprint("n", i) {
			t.Fatalf("event %d is %s", i, n.ID)
		}
		if l := len(p.c.Events()); l > buffer {
			t.Fatalf("%d events waiting", l)
		}
	}
	<-ackNext
	<-scriptDone
	check(t, srv)
	if len(acked) != total-buffer {
		t.Errorf("%d acknowledgements after the consumer caught up, want %d", len(acked), total-buffer)
	}
}

// TestRunLifecycle: Events is closed when Run returns, and Run runs once.
func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.c.Run(ctx) }()
	p.state(StateConnecting)
	if err := p.c.Run(ctx); err == nil || err.Error() != "xmpp: Run called twice" {
		t.Errorf("second Run: %v", err)
	}
	cancel()
	var last Event
	for ev := range p.c.Events() { // ends only if Run closes the channel
		last = ev
	}
	if sc, ok := last.(*StateChange); !ok || sc.State != StateOffline || sc.Err != nil {
		t.Errorf("last event %s, want a clean offline", describe(last))
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
	}
	if st, _ := p.c.State(); st != StateOffline {
		t.Errorf("state %v after Run", st)
	}
	if err := p.c.Run(context.Background()); err == nil {
		t.Error("Run after Run returned: no error")
	}
}

// TestSend: Send fails while offline and writes the stanza while online.
func TestSend(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	msg := stanza.New(stanza.NSClient, "message", "to", "bob@example.org", "type", "chat").AddText("body", "hi")
	if err := p.c.Send(context.Background(), msg); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send before Run: %v", err)
	}
	p.start()
	srv := p.online(onlineOpts{})
	errc := make(chan error, 1)
	go func() { errc <- p.c.Send(context.Background(), msg) }()
	got := srv.ExpectName(stanza.NSClient, "message")
	if got.String() != msg.String() {
		t.Errorf("sent %s, want %s", got, msg)
	}
	if err := <-errc; err != nil {
		t.Errorf("Send: %v", err)
	}
	srv.Close()
	p.offline()
	if err := p.c.Send(context.Background(), msg); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send while offline: %v", err)
	}
	if st, full := p.c.State(); st == StateOnline || full != "" {
		t.Errorf("State() = %v, %q", st, full)
	}
}

// TestIQHandling: what the client answers to IQs it does not push.
func TestIQHandling(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})

	srv.Sendf(`<iq type="get" id="v1" from="%s"><query xmlns="jabber:iq:version"/></iq>`, testDomain)
	srv.ExpectError("v1", "service-unavailable")
	srv.Send(`<iq type="set" id="x1"><query xmlns="urn:example:unknown"/></iq>`)
	srv.ExpectError("x1", "service-unavailable")
	srv.Send(`<iq type="get" id="e1"/>`)
	srv.ExpectError("e1", "bad-request")
	srv.Send(`<iq type="get" id="n1"><notification xmlns="androidpn:iq:notification"><id>x</id></notification></iq>`)
	srv.ExpectError("n1", "service-unavailable") // a notification is a set

	srv.Sendf(`<iq type="get" id="d1" from="%s"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`, testDomain)
	res := srv.ExpectResult("d1")
	q := res.Child("http://jabber.org/protocol/disco#info", "query")
	var features []string
	for _, c := range q.Children {
		if c.Name.Local == "feature" {
			features = append(features, c.AttrValue("var"))
		}
	}
	for _, want := range []string{"http://jabber.org/protocol/disco#info", NSPing, notification.NS, notification.NSOOB} {
		if !strings.Contains(strings.Join(features, " "), want) {
			t.Errorf("disco#info lacks %s: %s", want, res)
		}
	}
	if id := q.Child("", "identity"); id.AttrValue("category") != "client" {
		t.Errorf("identity %s", id)
	}
	// Results and errors nobody waits for are dropped silently.
	srv.Send(`<iq type="result" id="zz"/>`)
	srv.Send(`<iq type="error" id="zz"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`)
	srv.Sendf(`<iq type="get" id="p1"><ping xmlns="%s"/></iq>`, NSPing)
	srv.ExpectResult("p1")
	check(t, srv)
	p.noEvent()
}

// TestStreamErrorOnline: a stream error ends the session with a typed
// error; conflict (another login took the resource) is not retried.
func TestStreamErrorOnline(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	srv.SendStreamError("conflict", "Replaced by new connection")
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	var se stream.Error
	if !errors.Is(sc.Err, stream.Conflict) || !errors.As(sc.Err, &se) || !se.Remote || sc.Retry {
		t.Fatalf("offline with %v (retry %v), want a remote conflict, not retried", sc.Err, sc.Retry)
	}
	if got := Explain(sc.Err); got != "Another device logged in with the same name." {
		t.Errorf("Explain: %q", got)
	}
	p.d.ExpectNoDial(quiet)
	p.c.Reconnect()
	p.online(onlineOpts{})
}

// TestServerClosesStream: the client answers </stream:stream> with its own
// and reconnects.
func TestServerClosesStream(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	srv.Send(stream.CloseTag)
	srv.ExpectClose()
	check(t, srv)
	if sc := p.offline(); !sc.Retry {
		t.Errorf("offline with %v, not retried", sc.Err)
	}
	p.online(onlineOpts{})
}

// TestNotWellFormedFromServer: garbage from the server ends the session
// with a stream error of our own and a reconnect.
func TestNotWellFormedFromServer(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{})
	srv.Send(`<message><body>unclosed</message>`)
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	var se stream.Error
	if !errors.As(sc.Err, &se) || se.Remote || se.Condition != "not-well-formed" || !sc.Retry {
		t.Fatalf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
	p.online(onlineOpts{})
}
