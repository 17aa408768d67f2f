package xmpp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// remoteAddr makes a pipe look like a connection to another machine.
var remoteAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5222}

// TestSASLMechanism runs a real login against the fake server for each
// offer and checks which mechanism the client picks: SCRAM-SHA-256, then
// SCRAM-SHA-1, then PLAIN where a password may cross the connection; never
// a -PLUS mechanism without TLS to bind to.
func TestSASLMechanism(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		offer   []string
		remote  bool
		want    string // mechanism used; "" when the client must give up
		wantErr error
	}{
		{name: "SHA-256 first", offer: []string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"}, want: "SCRAM-SHA-256"},
		{name: "SHA-1 over PLAIN", offer: []string{"PLAIN", "SCRAM-SHA-1"}, want: "SCRAM-SHA-1"},
		{name: "SHA-1 alone", offer: []string{"SCRAM-SHA-1"}, want: "SCRAM-SHA-1"},
		{name: "PLAIN on loopback", offer: []string{"PLAIN"}, want: "PLAIN"},
		{name: "PLAIN when SCRAM is unknown", offer: []string{"DIGEST-MD5", "PLAIN"}, want: "PLAIN"},
		{name: "PLUS skipped without TLS", offer: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"}, want: "SCRAM-SHA-1"},
		{name: "PLUS only without TLS", offer: []string{"SCRAM-SHA-256-PLUS"}, wantErr: ErrNoMechanism},
		{name: "SCRAM on a remote plain connection", offer: []string{"PLAIN", "SCRAM-SHA-256"}, remote: true, want: "SCRAM-SHA-256"},
		{name: "PLAIN refused on a remote plain connection", offer: []string{"PLAIN"}, remote: true, wantErr: ErrNoMechanism},
		{name: "nothing usable", offer: []string{"DIGEST-MD5", "X-OAUTH2"}, wantErr: ErrNoMechanism},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t, func(c *Config) { c.InsecurePlain = tc.remote })
			if tc.remote {
				p.d.RemoteAddr = remoteAddr
			}
			p.start()
			if tc.wantErr != nil {
				p.state(StateConnecting)
				srv := p.d.Accept()
				srv.ExpectHeader()
				srv.SendHeader("s1", xmpptest.Mechanisms(tc.offer...))
				srv.ExpectEOF() // no <auth/>
				check(t, srv)
				sc := p.offline()
				if !errors.Is(sc.Err, tc.wantErr) || sc.Retry {
					t.Fatalf("offline with %v (retry %v), want %v and no retry", sc.Err, sc.Retry, tc.wantErr)
				}
				return
			}
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			srv.SendHeader("s1", xmpptest.Mechanisms(tc.offer...))
			r := srv.SASL(p.acc)
			if r.Mechanism != tc.want || !r.OK || r.User != testUser {
				t.Fatalf("login %+v, want %s as %s", r, tc.want, testUser)
			}
			p.bound(srv, onlineOpts{})
		})
	}
}

// TestTLSRequired: a remote server without STARTTLS is refused unless
// InsecurePlain says otherwise.
func TestTLSRequired(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	p.d.RemoteAddr = remoteAddr
	p.start()
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	if !errors.Is(sc.Err, ErrTLSRequired) || sc.Retry {
		t.Fatalf("offline with %v (retry %v), want ErrTLSRequired, no retry", sc.Err, sc.Retry)
	}
	if got := Explain(sc.Err); got != "The server offers no encryption." {
		t.Errorf("Explain: %q", got)
	}
}

// TestSASLFailureThenReconnect: a refused password is permanent: the
// client reports it once, does not redial on its own, and tries again
// when told to.
func TestSASLFailureThenReconnect(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			p := newPair(t, nil)
			p.acc = xmpptest.NewAccounts(testUser, "an older password")
			p.start()
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			srv.SendHeader("s1", xmpptest.Mechanisms(mech))
			if r := srv.SASL(p.acc); r.OK || r.Mechanism != mech {
				t.Fatalf("login %+v, want a refused %s", r, mech)
			}
			srv.ExpectEOF()
			check(t, srv)
			sc := p.offline()
			var se *SASLError
			if !errors.Is(sc.Err, ErrAuth) || !errors.As(sc.Err, &se) || se.Condition != "not-authorized" || sc.Retry {
				t.Fatalf("offline with %v (retry %v), want ErrAuth, no retry", sc.Err, sc.Retry)
			}
			if got := Explain(sc.Err); got != "Wrong user name or password." {
				t.Errorf("Explain: %q", got)
			}
			p.d.ExpectNoDial(quiet)
			p.noEvent()

			// The user fixed the password on the server; Reconnect.
			p.acc.Set(testUser, testPassword)
			p.c.Reconnect()
			p.online(onlineOpts{})
		})
	}
}

// TestSASLFailureConditions: the conditions that mean "wrong credentials"
// are ErrAuth; the others are not.
func TestSASLFailureConditions(t *testing.T) {
	for _, tc := range []struct {
		cond string
		auth bool
	}{
		{"not-authorized", true},
		{"account-disabled", true},
		{"credentials-expired", true},
		{"invalid-authzid", true},
		{"temporary-auth-failure", false},
		{"aborted", false},
		{"malformed-request", false},
	} {
		err := error(&SASLError{Condition: tc.cond})
		if got := errors.Is(err, ErrAuth); got != tc.auth {
			t.Errorf("%s: errors.Is(ErrAuth) = %v, want %v", tc.cond, got, tc.auth)
		}
		if got := IsPermanent(err); got != tc.auth {
			t.Errorf("%s: IsPermanent = %v, want %v", tc.cond, got, tc.auth)
		}
	}
}

// TestSASLServerNotVerified: a server that does not prove it knows the
// password (a wrong v=) is not trusted even though it says success.
func TestSASLServerNotVerified(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectName(xmpptest.NSSASL, "auth")
	// A server-first message with a nonce that does not extend the
	// client's: the client must abort.
	srv.Sendf(`<challenge xmlns="%s">%s</challenge>`, xmpptest.NSSASL, base64.StdEncoding.EncodeToString([]byte("r=not-yours,s=c2FsdA==,i=4096")))
	srv.ExpectName(xmpptest.NSSASL, "abort")
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	if errors.Is(sc.Err, ErrAuth) || !sc.Retry {
		t.Errorf("offline with %v (retry %v), want a retried non-auth error", sc.Err, sc.Retry)
	}
}

// TestRegisterConflictIsErrAuth: with Register on, a wrong password for an
// existing account makes registration fail with conflict; that is a wrong
// password (ErrAuth, permanent), not a reason to register again and again.
func TestRegisterConflictIsErrAuth(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(c *Config) { c.Register = true })
	p.acc = xmpptest.NewAccounts(testUser, "someone else's")
	p.start()
	for range 2 { // once on start, once after Reconnect: never on its own
		p.state(StateConnecting)
		srv := p.d.Accept()
		srv.ExpectHeader()
		srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256")+xmpptest.FeatureRegister)
		srv.SASL(p.acc)
		get := srv.ExpectIQ(stanza.TypeGet, NSRegister, "query")
		srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:register"><username/><password/></query></iq>`, get.AttrValue("id"))
		set := srv.ExpectIQ(stanza.TypeSet, NSRegister, "query")
		srv.Sendf(`<iq type="error" id="%s"><error type="cancel" code="409"><conflict xmlns="%s"/></error></iq>`, set.AttrValue("id"), stanza.NSStanzas)
		srv.ExpectEOF()
		check(t, srv)
		sc := p.offline()
		var re *RegistrationError
		if !errors.Is(sc.Err, ErrAuth) || errors.As(sc.Err, &re) || sc.Retry {
			t.Fatalf("offline with %v (retry %v), want ErrAuth, no retry", sc.Err, sc.Retry)
		}
		p.d.ExpectNoDial(quiet)
		p.noEvent() // no Registered
		p.c.Reconnect()
	}
}

// TestIQAuth covers the legacy login's choices.
func TestIQAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fields  string // what the server offers in the iq-auth get result
		remote  bool
		legacy  bool // a pre-1.0 stream without features
		want    string
		wantErr error
	}{
		{name: "digest", fields: "<digest/><password/>", want: "digest"},
		{name: "password on loopback", fields: "<password/>", want: "password"},
		{name: "password refused on a remote plain connection", fields: "<password/>", remote: true, wantErr: ErrNoMechanism},
		{name: "digest on a remote plain connection", fields: "<digest/>", remote: true, want: "digest"},
		{name: "neither", fields: "", wantErr: ErrNoMechanism},
		{name: "pre-1.0 stream", fields: "<digest/>", legacy: true, want: "digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t, func(c *Config) { c.InsecurePlain = tc.remote })
			if tc.remote {
				p.d.RemoteAddr = remoteAddr
			}
			p.start()
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			if tc.legacy {
				srv.Send(`<?xml version='1.0'?><stream:stream from="example.org" id="old1" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`)
			} else {
				srv.SendHeader("old1", xmpptest.FeatureIQAuth+xmpptest.Mechanisms("X-UNKNOWN"))
			}
			get := srv.ExpectIQ(stanza.TypeGet, NSIQAuth, "query")
			srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:auth"><username/>%s<resource/></query></iq>`, get.AttrValue("id"), tc.fields)
			if tc.wantErr != nil {
				srv.ExpectEOF()
				check(t, srv)
				if sc := p.offline(); !errors.Is(sc.Err, tc.wantErr) || sc.Retry {
					t.Fatalf("offline with %v (retry %v), want %v", sc.Err, sc.Retry, tc.wantErr)
				}
				return
			}
			set := srv.ExpectIQ(stanza.TypeSet, NSIQAuth, "query")
			q := set.Child(NSIQAuth, "query")
			switch tc.want {
			case "digest":
				if q.ChildText(NSIQAuth, "digest") != Digest("old1", testPassword) || q.Child(NSIQAuth, "password") != nil {
					t.Errorf("want the digest only, got %s", set)
				}
			case "password":
				if q.ChildText(NSIQAuth, "password") != testPassword || q.Child(NSIQAuth, "digest") != nil {
					t.Errorf("want the password only, got %s", set)
				}
			}
			srv.Sendf(`<iq type="result" id="%s"/>`, set.AttrValue("id"))
			srv.ExpectPresence()
			check(t, srv)
			if sc := p.state(StateOnline); sc.JID != testFull {
				t.Errorf("online as %q", sc.JID)
			}
		})
	}
}

// TestDigest checks XEP-0078's example.
func TestDigest(t *testing.T) {
	// XEP-0078 Example 4: stream id 3EE948B0, password Calli0pe.
	if got, want := Digest("3EE948B0", "Calli0pe"), "48fc78be9ec8f86d8ce1c39c320c97c21d62334d"; got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
}

// TestStreamErrorDuringNegotiation: a stream error from the server is a
// typed error, retried unless it is permanent.
func TestStreamErrorDuringNegotiation(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectName(xmpptest.NSSASL, "auth")
	srv.SendStreamError("system-shutdown", "going down for maintenance")
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	var se stream.Error
	if !errors.Is(sc.Err, stream.SystemShutdown) || !errors.As(sc.Err, &se) || !se.Remote || se.Text != "going down for maintenance" || !sc.Retry {
		t.Fatalf("offline with %#v (retry %v), want a remote system-shutdown, retried", sc.Err, sc.Retry)
	}
	// It reconnects on its own.
	p.online(onlineOpts{})
}

// TestSASLFinalInChallenge: a server that sends SCRAM's final message in a
// challenge and an empty success (RFC 3920 style) is verified too.
func TestSASLFinalInChallenge(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-1"))
	if r := srv.SASLWith(p.acc, xmpptest.SASLOptions{FinalInChallenge: true}); !r.OK {
		t.Fatalf("login %+v", r)
	}
	p.bound(srv, onlineOpts{})
}

// TestSASLSuccessWithoutVerifier: a <success/> that skips SCRAM's final
// message proves nothing; the client does not go on.
func TestSASLSuccessWithoutVerifier(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectName(xmpptest.NSSASL, "auth")
	srv.Sendf(`<success xmlns="%s"/>`, xmpptest.NSSASL) // before any challenge
	srv.ExpectEOF()
	check(t, srv)
	if sc := p.offline(); !strings.Contains(sc.Err.Error(), "server not verified") {
		t.Errorf("offline with %v", sc.Err)
	}
}

// TestSASLTemporaryFailure: a failure that is not about the credentials
// is retried.
func TestSASLTemporaryFailure(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectName(xmpptest.NSSASL, "auth")
	srv.Sendf(`<failure xmlns="%s"><text xml:lang="en">try later</text><temporary-auth-failure/></failure>`, xmpptest.NSSASL)
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	var se *SASLError
	if !errors.As(sc.Err, &se) || se.Condition != "temporary-auth-failure" || se.Text != "try later" || errors.Is(sc.Err, ErrAuth) || !sc.Retry {
		t.Fatalf("offline with %#v (retry %v)", sc.Err, sc.Retry)
	}
	if got := se.Error(); got != "xmpp: sasl: temporary-auth-failure (try later)" {
		t.Errorf("Error() = %q", got)
	}
	p.online(onlineOpts{})
}

// TestIQAuthResourceConflict: the legacy login's conflict is a resource in
// use, not a wrong password.
func TestIQAuthResourceConflict(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.FeatureIQAuth)
	get := srv.ExpectIQ(stanza.TypeGet, NSIQAuth, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:auth"><username/><digest/><resource/></query></iq>`, get.AttrValue("id"))
	set := srv.ExpectIQ(stanza.TypeSet, NSIQAuth, "query")
	srv.Sendf(`<iq type="error" id="%s"><error code="409" type="cancel"><conflict xmlns="%s"/></error></iq>`, set.AttrValue("id"), stanza.NSStanzas)
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	if errors.Is(sc.Err, ErrAuth) || !errors.Is(sc.Err, stanza.Conflict) || !strings.Contains(sc.Err.Error(), `resource "desk" is in use`) {
		t.Errorf("offline with %v", sc.Err)
	}
}

// TestIQAuthLegacyCode: a 401 with no condition element (a jabberd 1.x
// server) is ErrAuth too.
func TestIQAuthLegacyCode(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.FeatureIQAuth)
	get := srv.ExpectIQ(stanza.TypeGet, NSIQAuth, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:auth"><username/><password/><resource/></query></iq>`, get.AttrValue("id"))
	set := srv.ExpectIQ(stanza.TypeSet, NSIQAuth, "query")
	srv.Sendf(`<iq type="error" id="%s"><error code="401">Unauthorized</error></iq>`, set.AttrValue("id"))
	srv.ExpectEOF()
	check(t, srv)
	if sc := p.offline(); !errors.Is(sc.Err, ErrAuth) || sc.Retry {
		t.Errorf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrAuth, "Wrong user name or password."},
		{fmt.Errorf("wrapped: %w", &SASLError{Condition: "not-authorized"}), "Wrong user name or password."},
		{stream.SystemShutdown, "The server closed the connection (system-shutdown)."},
		{stream.Conflict, "Another device logged in with the same name."},
		{ErrPingTimeout, "The server stopped answering."},
		{ErrTLSRequired, "The server offers no encryption."},
		{errors.New("dial tcp: lookup example.invalid: no such host"), "The server cannot be reached."},
		{errors.New("something else"), "The connection failed."},
	} {
		if got := Explain(tc.err); got != tc.want {
			t.Errorf("Explain(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
