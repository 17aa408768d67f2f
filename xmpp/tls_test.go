package xmpp

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
)

// channelBindings returns the XEP-0440 advertisement of types.
func channelBindings(types ...string) string {
	if len(types) == 0 {
		return ""
	}
	s := `<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0">`
	for _, t := range types {
		s += `<channel-binding type="` + t + `"/>`
	}
	return s + `</sasl-channel-binding>`
}

// TestSTARTTLS upgrades the fake server's connection with STARTTLS and
// logs in over it; the server checks the channel binding of -PLUS
// mechanisms for real, from its own side of the TLS connection.
func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		version uint16 // the server's maximum TLS version
		offer   []string
		cb      []string // XEP-0440 channel binding types advertised
		remote  bool
		want    string // mechanism
		gs2     string // the client's GS2 header
	}{
		{"tls-exporter", tls.VersionTLS13, []string{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}, []string{"tls-server-end-point", "tls-exporter"}, false, "SCRAM-SHA-256-PLUS", "p=tls-exporter,,"},
		{"tls-server-end-point", tls.VersionTLS13, []string{"SCRAM-SHA-256-PLUS"}, []string{"tls-server-end-point"}, false, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,"},
		{"SHA-1-PLUS over SHA-256", tls.VersionTLS13, []string{"SCRAM-SHA-256", "SCRAM-SHA-1-PLUS"}, []string{"tls-exporter"}, false, "SCRAM-SHA-1-PLUS", "p=tls-exporter,,"},
		{"TLS 1.3 without advertisement binds nothing", tls.VersionTLS13, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, nil, false, "SCRAM-SHA-256", "n,,"},
		{"TLS 1.2 defaults to tls-unique", tls.VersionTLS12, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, nil, false, "SCRAM-SHA-256-PLUS", "p=tls-unique,,"},
		{"TLS 1.2 with tls-server-end-point", tls.VersionTLS12, []string{"SCRAM-SHA-1-PLUS"}, []string{"tls-server-end-point"}, false, "SCRAM-SHA-1-PLUS", "p=tls-server-end-point,,"},
		{"unknown type advertised", tls.VersionTLS13, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, []string{"tls-foo"}, false, "SCRAM-SHA-256", "n,,"},
		{"no PLUS offered: y", tls.VersionTLS13, []string{"SCRAM-SHA-256"}, nil, false, "SCRAM-SHA-256", "y,,"},
		{"remote server", tls.VersionTLS13, []string{"SCRAM-SHA-256-PLUS"}, []string{"tls-exporter"}, true, "SCRAM-SHA-256-PLUS", "p=tls-exporter,,"},
		{"PLAIN over TLS to a remote server", tls.VersionTLS13, []string{"PLAIN"}, nil, true, "PLAIN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			serverTLS, clientTLS := xmpptest.TLSConfigs(t, testDomain)
			serverTLS.MaxVersion = tc.version
			p := newPair(t, func(c *Config) { c.TLS = clientTLS })
			if tc.remote {
				p.d.RemoteAddr = remoteAddr
			}
			p.start()
			p.state(StateConnecting)
			srv := p.d.Accept()
			srv.ExpectHeader()
			srv.SendHeader("s1", xmpptest.FeatureStartTLS)
			srv.StartTLS(serverTLS)
			if st := srv.TLSState(); st == nil || st.Version != tc.version {
				t.Fatalf("TLS state %+v", st)
			}
			srv.ExpectHeader()
			srv.SendHeader("s2", xmpptest.Mechanisms(tc.offer...)+channelBindings(tc.cb...))
			r := srv.SASL(p.acc)
			if !r.OK || r.Mechanism != tc.want || r.GS2 != tc.gs2 {
				t.Fatalf("login %+v, want %s with %q", r, tc.want, tc.gs2)
			}
			p.bound(srv, onlineOpts{})
		})
	}
}

// TestSTARTTLSUntrusted: a certificate the client does not trust ends the
// connection with an error a user can read.
func TestSTARTTLSUntrusted(t *testing.T) {
	t.Parallel()
	serverTLS, _ := xmpptest.TLSConfigs(t, testDomain)
	_, otherCA := xmpptest.TLSConfigs(t, testDomain)
	p := startPair(t, func(c *Config) { c.TLS = otherCA })
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.FeatureStartTLS)
	if err := srv.TryStartTLS(serverTLS); err == nil {
		t.Fatal("handshake succeeded")
	}
	sc := p.offline()
	if got := Explain(sc.Err); got != "The server's certificate was rejected." {
		t.Errorf("Explain(%v) = %q", sc.Err, got)
	}
}

// TestSTARTTLSRefused: a server that answers <failure/> to <starttls/>.
func TestSTARTTLSRefused(t *testing.T) {
	t.Parallel()
	_, clientTLS := xmpptest.TLSConfigs(t, testDomain)
	p := startPair(t, func(c *Config) { c.TLS = clientTLS })
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.FeatureStartTLS)
	srv.ExpectName(xmpptest.NSTLS, "starttls")
	srv.Sendf(`<failure xmlns="%s"/>`, xmpptest.NSTLS)
	srv.ExpectEOF()
	check(t, srv)
	if sc := p.offline(); !strings.Contains(sc.Err.Error(), "starttls") || !sc.Retry {
		t.Errorf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
}

// TestSTARTTLSOnLoopback: on loopback without a TLS configuration the
// client skips an optional STARTTLS, but follows a required one.
func TestSTARTTLSOnLoopback(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", `<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls>`+xmpptest.Mechanisms("SCRAM-SHA-256"))
	serverTLS, _ := xmpptest.TLSConfigs(t, testDomain)
	if err := srv.TryStartTLS(serverTLS); err == nil {
		t.Fatal("the client trusted a certificate no one vouches for")
	}
	sc := p.offline()
	var cve *tls.CertificateVerificationError
	if !errors.As(sc.Err, &cve) {
		t.Errorf("offline with %v, want a certificate verification error", sc.Err)
	}
}
