package xmpp

import (
	"context"
	"fmt"
	"testing"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
)

// authenticated accepts the next connection and takes it through SASL and
// the stream restart to features offering binding and stream management:
// where the client either resumes or binds.
func (p *pair) authenticated() *xmpptest.Server {
	p.t.Helper()
	p.state(StateConnecting)
	srv := p.d.Accept()
	check(p.t, srv)
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	if r := srv.SASL(p.acc); !r.OK {
		p.t.Fatalf("sasl: %+v", r)
	}
	srv.ExpectHeader()
	srv.SendHeader("s2", xmpptest.FeatureBind+xmpptest.FeatureSM)
	return srv
}

// rebind takes srv from the features to a new stream management session.
func (p *pair) rebind(srv *xmpptest.Server, smID string) {
	p.t.Helper()
	srv.Bind(testUser)
	srv.ExpectEnableSM()
	srv.ExpectPresence()
	srv.Sendf(`<enabled xmlns="%s" id="%s" resume="true"/>`, xmpptest.NSSM, smID)
	check(p.t, srv)
	if sc := p.state(StateOnline); sc.Resumed || sc.JID != testFull {
		p.t.Fatalf("online as %q, resumed %v; want a new session", sc.JID, sc.Resumed)
	}
}

func chat(body string) *stanza.Element {
	return stanza.New(stanza.NSClient, "message", "to", "bob@example.org", "type", "chat").AddText("body", body)
}

// expectChat reads a message and checks its body.
func expectChat(t *testing.T, srv *xmpptest.Server, body string) {
	t.Helper()
	srv.Expect(fmt.Sprintf("<message><body>%s</body></message>", body), func(el *stanza.Element) bool {
		return el.Is(stanza.NSClient, "message") && el.ChildText(stanza.NSClient, "body") == body
	})
}

// TestSMCountsAndAnswers: every stanza from the server counts once it is
// handled, stream management elements do not, and <r/> gets <a h/>.
func TestSMCountsAndAnswers(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{sm: true})
	srv.Sendf(`<r xmlns="%s"/>`, xmpptest.NSSM)
	srv.ExpectAck(0)
	srv.Sendf(`<iq type="get" id="p1"><ping xmlns="%s"/></iq>`, NSPing)
	srv.ExpectResult("p1")
	srv.Send(`<message type="headline" id="m1"><body>b</body></message>`)
	srv.Send(`<presence from="bob@example.org/x"/>`)
	srv.Send(`<message type="chat" from="eve@evil.example"><body>dropped, but handled</body></message>`)
	srv.Sendf(`<r xmlns="%s"/>`, xmpptest.NSSM)
	srv.ExpectAck(4)
	srv.Sendf(`<a xmlns="%s" h="2"/>`, xmpptest.NSSM) // presence and the pong
	srv.Sendf(`<r xmlns="%s"/>`, xmpptest.NSSM)
	srv.ExpectAck(4)
	check(t, srv)
	if n := p.notified(); n.StanzaID != "m1" {
		t.Errorf("notification %+v", *n)
	}
	p.noEvent()
}

// TestSMRequestsAck: the client asks for an acknowledgement every 16
// stanzas it sends.
func TestSMRequestsAck(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{sm: true}) // the presence is stanza 1
	for i := 2; i <= 32; i++ {
		if err := p.c.Send(context.Background(), chat(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		expectChat(t, srv, fmt.Sprint(i))
		if i%16 == 0 {
			srv.ExpectName(xmpptest.NSSM, "r")
			srv.Sendf(`<a xmlns="%s" h="%d"/>`, xmpptest.NSSM, i)
		}
	}
	check(t, srv)
}

// TestSMResume: after the link drops, the next connection resumes the
// session: the client says how much it handled, drops what the server
// acknowledged, resends the rest, and emits no notification twice.
func TestSMResume(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{sm: true, smID: "sm-42"})
	srv.Send(xmpptest.Notification("n1", testFull, "first", "one", "", ""))
	srv.ExpectResult("n1")
	if n := p.notified(); n.ID != "first" {
		t.Fatalf("notification %+v", *n)
	}
	srv.Sendf(`<a xmlns="%s" h="1"/>`, xmpptest.NSSM) // the presence
	if err := p.c.Send(context.Background(), chat("lost in transit")); err != nil {
		t.Fatal(err)
	}
	expectChat(t, srv, "lost in transit")
	check(t, srv)
	srv.Close() // the link drops before the server saw the last two
	if sc := p.offline(); !sc.Retry {
		t.Fatalf("offline with %v, not retried", sc.Err)
	}

	srv = p.authenticated()
	r := srv.ExpectName(xmpptest.NSSM, "resume")
	if r.AttrValue("previd") != "sm-42" || r.AttrValue("h") != "1" {
		t.Fatalf("resume %s, want previd sm-42 h=1", r)
	}
	// The server got the result of n1, not the chat.
	srv.Sendf(`<resumed xmlns="%s" previd="sm-42" h="2"/>`, xmpptest.NSSM)
	expectChat(t, srv, "lost in transit")
	check(t, srv)
	if sc := p.state(StateOnline); !sc.Resumed || sc.JID != testFull {
		t.Fatalf("online as %q, resumed %v; want the resumed session", sc.JID, sc.Resumed)
	}
	// A server that redelivers n1 anyway gets it acknowledged, and the
	// user does not see it twice.
	srv.Send(xmpptest.Notification("n1-again", testFull, "first", "one", "", ""))
	srv.ExpectResult("n1-again")
	srv.Send(xmpptest.Notification("n2", testFull, "second", "two", "", ""))
	srv.ExpectResult("n2")
	// Counting goes on from the old session.
	srv.Sendf(`<r xmlns="%s"/>`, xmpptest.NSSM)
	srv.ExpectAck(3)
	check(t, srv)
	if n := p.notified(); n.ID != "second" {
		t.Fatalf("got %+v, want the second notification", *n)
	}
	p.noEvent()
}

// TestSMResumeFailed: when the server cannot resume, the client binds a
// new session and does not resend the old session's stanzas.
func TestSMResumeFailed(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{sm: true})
	if err := p.c.Send(context.Background(), chat("old")); err != nil {
		t.Fatal(err)
	}
	expectChat(t, srv, "old")
	srv.Close()
	p.offline()

	srv = p.authenticated()
	srv.ExpectName(xmpptest.NSSM, "resume")
	srv.Sendf(`<failed xmlns="%s"><item-not-found xmlns="%s"/></failed>`, xmpptest.NSSM, stanza.NSStanzas)
	p.rebind(srv, "sm2")
	// The next thing the client writes is the ack of this push, not the
	// old chat message.
	srv.Send(xmpptest.Notification("n1", testFull, "n", "new", "", ""))
	srv.ExpectResult("n1")
	srv.Sendf(`<r xmlns="%s"/>`, xmpptest.NSSM)
	srv.ExpectAck(1)
	check(t, srv)
}

// TestSMBadAck: a server acknowledging more than was sent breaks the
// session; the next one resumes.
func TestSMBadAck(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{sm: true})
	srv.Sendf(`<a xmlns="%s" h="5"/>`, xmpptest.NSSM) // one was sent
	srv.ExpectEOF()
	check(t, srv)
	if sc := p.offline(); !sc.Retry {
		t.Fatalf("offline with %v, not retried", sc.Err)
	}
	srv = p.authenticated()
	srv.ExpectName(xmpptest.NSSM, "resume")
	srv.Sendf(`<resumed xmlns="%s" previd="sm1" h="1"/>`, xmpptest.NSSM)
	check(t, srv)
	if sc := p.state(StateOnline); !sc.Resumed {
		t.Fatal("not resumed")
	}
}

// TestSMNotResumable: without resumption (enable refused, or enabled
// without resume) the next connection binds at once.
func TestSMNotResumable(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{
		`<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
		`<enabled xmlns="urn:xmpp:sm:3"/>`,
	} {
		t.Run(answer, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, nil)
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
			srv.SASL(p.acc)
			srv.ExpectHeader()
			srv.SendHeader("s2", xmpptest.FeatureBind+xmpptest.FeatureSM)
			srv.Bind(testUser)
			srv.ExpectEnableSM()
			srv.ExpectPresence()
			srv.Send(answer)
			p.state(StateOnline)
			srv.Close()
			p.offline()

			srv = p.authenticated()
			p.rebind(srv, "sm2") // Bind expects the bind iq next: no <resume/>
		})
	}
}

// TestSMDisabled: NoStreamManagement, or a server without it: no <enable/>.
func TestSMDisabled(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) { c.NoStreamManagement = true })
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.SASL(p.acc)
	srv.ExpectHeader()
	srv.SendHeader("s2", xmpptest.FeatureBind+xmpptest.FeatureSM)
	srv.Bind(testUser)
	srv.ExpectPresence() // not <enable/>
	check(t, srv)
	p.state(StateOnline)
}
