package xmpp

import (
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
)

// TestBind covers resource binding and the RFC 3921 session: the JID the
// server assigns is the one reported, a required session is established,
// an optional one is not, and the failures end the attempt.
func TestBind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		features string
		reply    string // the bind result's content; %s is the id
		session  bool   // the client must establish a session
		want     string // online JID; "" for a failure
		wantErr  string
	}{
		{
			name: "server picks the resource", features: xmpptest.FeatureBind,
			reply: `<iq type="result" id="%s"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@example.org/desk-5f2a</jid></bind></iq>`,
			want:  "alice@example.org/desk-5f2a",
		},
		{
			name: "required session", features: xmpptest.FeatureBind + `<session xmlns="urn:ietf:params:xml:ns:xmpp-session"/>`,
			reply:   `<iq type="result" id="%s"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@example.org/desk</jid></bind></iq>`,
			session: true, want: testFull,
		},
		{
			name: "optional session", features: xmpptest.FeatureBind + `<session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session>`,
			reply: `<iq type="result" id="%s"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@example.org/desk</jid></bind></iq>`,
			want:  testFull,
		},
		{
			name: "no JID in the result", features: xmpptest.FeatureBind,
			reply:   `<iq type="result" id="%s"/>`,
			wantErr: "returned no JID",
		},
		{
			name: "bind refused", features: xmpptest.FeatureBind,
			reply:   `<iq type="error" id="%s"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
			wantErr: "bind: stanza error: conflict",
		},
		{
			name: "no binding offered", features: "",
			wantErr: "offers no resource binding",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, nil)
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
			srv.SASL(p.acc)
			srv.ExpectHeader()
			srv.SendHeader("s2", tc.features)
			if tc.reply != "" {
				iq := srv.ExpectIQ(stanza.TypeSet, xmpptest.NSBind, "bind")
				if res := iq.Child(xmpptest.NSBind, "bind").ChildText(xmpptest.NSBind, "resource"); res != testResource {
					t.Errorf("asked for resource %q", res)
				}
				srv.Sendf(tc.reply, iq.AttrValue("id"))
			}
			if tc.session {
				iq := srv.ExpectIQ(stanza.TypeSet, xmpptest.NSSession, "session")
				srv.Sendf(`<iq type="result" id="%s"/>`, iq.AttrValue("id"))
			}
			if tc.wantErr != "" {
				srv.ExpectEOF()
				check(t, srv)
				if sc := p.offline(); !strings.Contains(sc.Err.Error(), tc.wantErr) || !sc.Retry {
					t.Fatalf("offline with %v (retry %v), want %q", sc.Err, sc.Retry, tc.wantErr)
				}
				return
			}
			srv.ExpectPresence()
			check(t, srv)
			if sc := p.state(StateOnline); sc.JID != tc.want {
				t.Errorf("online as %q, want %q", sc.JID, tc.want)
			}
			if _, full := p.c.State(); full != tc.want {
				t.Errorf("State() JID %q", full)
			}
		})
	}
}
