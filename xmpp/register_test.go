package xmpp

import (
	"errors"
	"slices"
	"testing"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
)

// TestRegistrationRefused: a form the client cannot fill, or a server that
// refuses, is a *RegistrationError (permanent) naming what is wrong; the
// client submits nothing it was not asked for.
func TestRegistrationRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		form       string // the get result's query content; "" to answer the get with error
		getErr     string // error element for the get
		setErr     string // error element for the set (the form being fillable)
		wantFields []string
		wantCond   string
		wantText   string
	}{
		{
			name:       "legacy form with email",
			form:       `<instructions>Fill in</instructions><username/><password/><email/>`,
			wantFields: []string{"email"},
		},
		{
			name:       "legacy form with several extra fields",
			form:       `<username/><password/><email/><name/>`,
			wantFields: []string{"email", "name"},
		},
		{
			name:       "legacy form pointing at a web page",
			form:       `<instructions>Use the web</instructions><x xmlns="jabber:x:oob"><url>https://example.org/signup</url></x>`,
			wantFields: []string{"a web form at https://example.org/signup"},
		},
		{
			name: "data form with a required captcha",
			form: `<username/><password/><x xmlns="jabber:x:data" type="form">` +
				`<field type="hidden" var="FORM_TYPE"><value>jabber:iq:register</value></field>` +
				`<field type="text-single" var="username"><required/></field>` +
				`<field type="text-private" var="password"><required/></field>` +
				`<field type="text-single" var="ocr" label="Enter the text you see"><required/></field>` +
				`<field type="text-single" var="email"/>` +
				`<field type="hidden" var="challenge"><value>abc</value><required/></field>` +
				`</x>`,
			wantFields: []string{"Enter the text you see"},
		},
		{
			name:       "data form with a required field without label",
			form:       `<x xmlns="jabber:x:data" type="form"><field var="username"><required/></field><field var="invite"><required/></field></x>`,
			wantFields: []string{"invite"},
		},
		{
			name:     "registration not allowed",
			getErr:   `<error type="cancel" code="405"><not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>`,
			wantCond: "not-allowed",
		},
		{
			name:     "no in-band registration",
			getErr:   `<error type="cancel" code="503"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>`,
			wantCond: "service-unavailable",
		},
		{
			name:     "set refused with a text",
			form:     `<username/><password/>`,
			setErr:   `<error type="modify"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">password too weak</text></error>`,
			wantCond: "not-acceptable",
			wantText: "password too weak",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t, func(c *Config) { c.Register = true })
			p.acc = xmpptest.NewAccounts()
			p.start()
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256")+xmpptest.FeatureRegister)
			srv.SASL(p.acc)
			get := srv.ExpectIQ(stanza.TypeGet, NSRegister, "query")
			if tc.getErr != "" {
				srv.Sendf(`<iq type="error" id="%s">%s</iq>`, get.AttrValue("id"), tc.getErr)
			} else {
				srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:register">%s</query></iq>`, get.AttrValue("id"), tc.form)
			}
			if tc.setErr != "" {
				set := srv.ExpectIQ(stanza.TypeSet, NSRegister, "query")
				srv.Sendf(`<iq type="error" id="%s">%s</iq>`, set.AttrValue("id"), tc.setErr)
			}
			srv.ExpectEOF() // nothing submitted for an unfillable form
			check(t, srv)
			sc := p.offline()
			var re *RegistrationError
			if !errors.As(sc.Err, &re) || sc.Retry {
				t.Fatalf("offline with %v (retry %v), want a *RegistrationError, no retry", sc.Err, sc.Retry)
			}
			if !slices.Equal(re.Fields, tc.wantFields) || re.Condition != tc.wantCond || re.Text != tc.wantText {
				t.Errorf("got %#v, want fields %q condition %q text %q", re, tc.wantFields, tc.wantCond, tc.wantText)
			}
			if errors.Is(sc.Err, ErrAuth) {
				t.Error("a registration error matches ErrAuth")
			}
			t.Logf("Explain: %s", Explain(sc.Err))
			p.d.ExpectNoDial(quiet)
		})
	}
}

// TestRegistrationErrorText: what a user reads.
func TestRegistrationErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *RegistrationError
		want string
	}{
		{&RegistrationError{Fields: []string{"email", "name"}}, "the server wants more than a user name and password: email, name"},
		{&RegistrationError{Condition: "conflict"}, "the account exists already"},
		{&RegistrationError{Condition: "not-allowed"}, "the server does not allow in-band registration"},
		{&RegistrationError{Condition: "forbidden", Text: "closed"}, "the server does not allow in-band registration (closed)"},
		{&RegistrationError{Condition: "not-acceptable", Text: "weak"}, "not-acceptable (weak)"},
		{&RegistrationError{Text: "registration would send the password in the clear"}, "registration would send the password in the clear"},
	} {
		if got := Explain(tc.err); got != tc.want {
			t.Errorf("Explain(%#v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestRegisterOnlyOnce: after the client registered its account, a later
// not-authorized (the password was changed elsewhere) is ErrAuth, not a
// second registration.
func TestRegisterOnlyOnce(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(c *Config) { c.Register = true })
	p.acc = xmpptest.NewAccounts()
	p.start()
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256")+xmpptest.FeatureRegister)
	srv.SASL(p.acc)
	get := srv.ExpectIQ(stanza.TypeGet, NSRegister, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:register"><username/><password/></query></iq>`, get.AttrValue("id"))
	set := srv.ExpectIQ(stanza.TypeSet, NSRegister, "query")
	p.acc.Set(testUser, testPassword)
	srv.Sendf(`<iq type="result" id="%s"/>`, set.AttrValue("id"))
	srv.SASL(p.acc)
	p.event() // Registered
	p.bound(srv, onlineOpts{})

	// The password changes on the server; the link drops.
	p.acc.Set(testUser, "changed elsewhere")
	srv.Close()
	p.offline()
	p.state(StateConnecting)
	srv = p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256")+xmpptest.FeatureRegister)
	srv.SASL(p.acc)
	srv.ExpectEOF() // no registration attempt
	check(t, srv)
	if sc := p.offline(); !errors.Is(sc.Err, ErrAuth) || sc.Retry {
		t.Fatalf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
}

// TestRegisterRemotePlain: registration sends the password, so it is not
// done on a remote connection without TLS even with InsecurePlain.
func TestRegisterRemotePlain(t *testing.T) {
	t.Parallel()
	p := newPair(t, func(c *Config) { c.Register, c.InsecurePlain = true, true })
	p.d.RemoteAddr = remoteAddr
	p.acc = xmpptest.NewAccounts()
	p.start()
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256")+xmpptest.FeatureRegister)
	srv.SASL(p.acc)
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	var re *RegistrationError
	if !errors.As(sc.Err, &re) || re.Text == "" || sc.Retry {
		t.Fatalf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
}
