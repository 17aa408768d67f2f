package xmpp

import (
	"context"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
)

// The paper's exchange (seed/000, DESIGN.md "The protocol, as the paper
// has it"), byte for byte as the client writes it.
const (
	paperDomain   = "127.0.0.1"
	paperStreamID = "f78f7da0"
	paperUser     = "sam"
	paperPassword = "d12f6403cd094721867fa750f079f828"
	paperResource = "AndroidpnClient"
	paperFull     = paperUser + "@" + paperDomain + "/" + paperResource
)

// TestPaperTranscript plays the paper's server: features with starttls
// (not required), iq-auth and iq-register; a digest login refused with
// 401; registration; the login again; presence; a pushed notification
// acknowledged only once its event is on the channel; a whitespace
// keepalive on the idle stream.
func TestPaperTranscript(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) {
		c.JID = paperUser + "@" + paperDomain
		c.Resource = paperResource
		c.Password = func(context.Context) (string, error) { return paperPassword, nil }
		c.Register = true
		c.Keepalive = 50 * time.Millisecond
	})
	p.state(StateConnecting)
	srv := p.d.Accept()
	check(t, srv)
	srv.Domain = paperDomain
	srv.ExpectHeader()
	srv.SendHeader(paperStreamID, xmpptest.FeatureStartTLS+xmpptest.FeatureIQAuth+xmpptest.FeatureRegister)

	authFields := func() {
		t.Helper()
		get := srv.ExpectIQ(stanza.TypeGet, NSIQAuth, "query")
		if u := get.Child(NSIQAuth, "query").ChildText(NSIQAuth, "username"); u != paperUser {
			t.Errorf("iq-auth get: username %q, want %q", u, paperUser)
		}
		srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:auth"><username>sam</username><digest/><resource/></query></iq>`, get.AttrValue("id"))
	}
	authSet := func() *stanza.Element {
		t.Helper()
		set := srv.ExpectIQ(stanza.TypeSet, NSIQAuth, "query")
		q := set.Child(NSIQAuth, "query")
		if got, want := q.ChildText(NSIQAuth, "digest"), Digest(paperStreamID, paperPassword); got != want {
			t.Errorf("digest %q, want %q", got, want)
		}
		if q.Child(NSIQAuth, "password") != nil {
			t.Error("the password was sent although the server takes a digest")
		}
		if got := q.ChildText(NSIQAuth, "resource"); got != paperResource {
			t.Errorf("resource %q, want %q", got, paperResource)
		}
		return set
	}

	// Login refused: the user is unknown.
	authFields()
	set := authSet()
	srv.Sendf(`<iq type="error" id="%s" to="%s/%s"><query xmlns="jabber:iq:auth"><username>sam</username><digest>%s</digest><resource>%s</resource></query>`+
		`<error code="401" type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		set.AttrValue("id"), paperDomain, paperStreamID, Digest(paperStreamID, paperPassword), paperResource)

	// Registration.
	get := srv.ExpectIQ(stanza.TypeGet, NSRegister, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:register"><instructions>Choose a user name and password.</instructions><username/><password/></query></iq>`, get.AttrValue("id"))
	reg := srv.ExpectIQ(stanza.TypeSet, NSRegister, "query")
	q := reg.Child(NSRegister, "query")
	if q.ChildText(NSRegister, "username") != paperUser || q.ChildText(NSRegister, "password") != paperPassword {
		t.Errorf("registration sent %s", reg)
	}
	srv.Sendf(`<iq type="result" id="%s"/>`, reg.AttrValue("id"))

	// Login again, now accepted.
	authFields()
	set = authSet()
	srv.Sendf(`<iq type="result" id="%s" to="%s"/>`, set.AttrValue("id"), paperFull)
	if prio := srv.ExpectPresence(); prio != "1" {
		t.Errorf("presence priority %q, want 1", prio)
	}
	check(t, srv)
	if ev, ok := p.event().(*Registered); !ok || ev.JID != paperUser+"@"+paperDomain {
		t.Fatalf("want Registered{%s@%s}, got %s", paperUser, paperDomain, describe(ev))
	}
	if sc := p.state(StateOnline); sc.JID != paperFull || sc.Resumed {
		t.Fatalf("online as %q (resumed %v), want %q", sc.JID, sc.Resumed, paperFull)
	}

	// The push. The acknowledgement must come after the event is on the
	// channel: once the result is read, the event must already be there.
	srv.Send(xmpptest.Notification("88-0", paperFull, "ffe31f20", "Hello World", "hello world ", ""))
	srv.ExpectResult("88-0")
	check(t, srv)
	select {
	case ev := <-p.c.Events():
		n, ok := ev.(*Notified)
		if !ok {
			t.Fatalf("got %s, want the notification", describe(ev))
		}
		got := *n.Notification
		if got.ID != "ffe31f20" || got.Title != "Hello World" || got.Message != "hello world" ||
			got.URI != "" || got.URIUnsafe || got.Kind != "iq" || got.StanzaID != "88-0" || got.Received.IsZero() {
			t.Errorf("notification %+v", got)
		}
	default:
		t.Fatal("the notification was acknowledged before its event was on the channel")
	}

	// Idle: a single space keeps the stream alive.
	srv.ExpectWhitespace()

	if err := p.stop(); err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
	srv.ExpectClose()
	check(t, srv)
	xmpptest.Golden(t, "testdata/paper.golden", srv.Transcript(), *update)
}

// TestModernTranscript is the same life on a modern server: SCRAM-SHA-256
// refused for an unknown user, registration, SCRAM again, the stream
// restart, binding, stream management, presence, and a headline message
// with an out-of-band URL.
func TestModernTranscript(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(c *Config) { c.Register = true })
	p.acc = xmpptest.NewAccounts() // alice does not exist yet
	p.start()
	p.state(StateConnecting)
	srv := p.d.Accept()
	check(t, srv)
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN")+xmpptest.FeatureRegister)
	if r := srv.SASL(p.acc); r.OK || r.Mechanism != "SCRAM-SHA-256" {
		t.Fatalf("first login: %+v, want a refused SCRAM-SHA-256", r)
	}
	get := srv.ExpectIQ(stanza.TypeGet, NSRegister, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:register"><username/><password/></query></iq>`, get.AttrValue("id"))
	reg := srv.ExpectIQ(stanza.TypeSet, NSRegister, "query")
	q := reg.Child(NSRegister, "query")
	p.acc.Set(q.ChildText(NSRegister, "username"), q.ChildText(NSRegister, "password"))
	srv.Sendf(`<iq type="result" id="%s"/>`, reg.AttrValue("id"))
	if r := srv.SASL(p.acc); !r.OK || r.Mechanism != "SCRAM-SHA-256" || r.User != testUser {
		t.Fatalf("second login: %+v", r)
	}
	srv.ExpectHeader()
	srv.SendHeader("s2", xmpptest.FeatureBind+xmpptest.FeatureSM)
	srv.Bind(testUser)
	srv.ExpectEnableSM()
	srv.ExpectPresence()
	srv.Sendf(`<enabled xmlns="%s" id="sm1" resume="true"/>`, xmpptest.NSSM)
	check(t, srv)
	if ev, ok := p.event().(*Registered); !ok || ev.JID != testJID {
		t.Fatalf("want Registered{%s}, got %s", testJID, describe(ev))
	}
	if sc := p.state(StateOnline); sc.JID != testFull {
		t.Fatalf("online as %q", sc.JID)
	}

	srv.Send(`<message type="headline" from="example.org" id="m1"><subject>Build finished</subject><body>Build 42 passed.</body>` +
		`<x xmlns="jabber:x:oob"><url>https://ci.example.org/build/42</url></x></message>`)
	n := p.notified()
	if n.Title != "Build finished" || n.Message != "Build 42 passed." || n.URI != "https://ci.example.org/build/42" ||
		n.URIUnsafe || n.Kind != "message" || n.From != "example.org" || n.StanzaID != "m1" {
		t.Errorf("notification %+v", *n)
	}
	// The message counts as handled: h=1.
	srv.Sendf(`<r xmlns="%s"/>`, xmpptest.NSSM)
	srv.ExpectAck(1)

	if err := p.stop(); err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
	srv.ExpectClose()
	check(t, srv)
	xmpptest.Golden(t, "testdata/modern.golden", srv.Transcript(), *update)
}
