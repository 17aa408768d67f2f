package xmpptest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/xdg-go/scram"
)

// Salt and Iters are the SCRAM key factors of every test account. 4096 is
// the lowest iteration count the client accepts (RFC 7677's minimum), and
// costs a few milliseconds.
const (
	Salt  = "xpush-test-salt"
	Iters = 4096
)

// ServerNonce is the server's part of every SCRAM nonce, so that only the
// client's part varies between runs.
const ServerNonce = "xmpptest-server-nonce"

// Accounts is a fake server's user database, safe for concurrent use.
type Accounts struct {
	mu sync.Mutex
	pw map[string]string
}

// NewAccounts returns a database holding the given user, password pairs.
func NewAccounts(userPassword ...string) *Accounts {
	a := &Accounts{pw: map[string]string{}}
	for i := 0; i+1 < len(userPassword); i += 2 {
		a.pw[userPassword[i]] = userPassword[i+1]
	}
	return a
}

// Set creates or changes an account.
func (a *Accounts) Set(user, password string) {
	a.mu.Lock()
	a.pw[user] = password
	a.mu.Unlock()
}

// Password returns the user's password.
func (a *Accounts) Password(user string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pw, ok := a.pw[user]
	return pw, ok
}

// credCache memoizes PBKDF2 across the tests of a package.
var credCache sync.Map // credKey -> scram.StoredCredentials

type credKey struct{ mech, password string }

// Credentials returns what a server stores for password under the SCRAM
// mechanism mech (SCRAM-SHA-1 or SCRAM-SHA-256), with Salt and Iters.
func Credentials(mech, password string) (scram.StoredCredentials, error) {
	key := credKey{mech, password}
	if c, ok := credCache.Load(key); ok {
		return c.(scram.StoredCredentials), nil
	}
	h, err := scramHash(mech)
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	// The user name does not enter the stored keys.
	client, err := h.NewClient("user", password, "")
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	c, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: Salt, Iters: Iters})
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	credCache.Store(key, c)
	return c, nil
}

func scramHash(mech string) (scram.HashGeneratorFcn, error) {
	switch strings.TrimSuffix(mech, "-PLUS") {
	case "SCRAM-SHA-1":
		return scram.SHA1, nil
	case "SCRAM-SHA-256":
		return scram.SHA256, nil
	}
	return nil, fmt.Errorf("xmpptest: no SCRAM mechanism %q", mech)
}

// Mechanisms returns the <mechanisms/> feature offering names.
func Mechanisms(names ...string) string {
	var b strings.Builder
	b.WriteString(`<mechanisms xmlns="` + NSSASL + `">`)
	for _, n := range names {
		b.WriteString("<mechanism>" + n + "</mechanism>")
	}
	b.WriteString("</mechanisms>")
	return b.String()
}

// Features the scripts offer.
const (
	FeatureStartTLS = `<starttls xmlns="` + NSTLS + `"/>`
	FeatureIQAuth   = `<auth xmlns="http://jabber.org/features/iq-auth"/>`
	FeatureRegister = `<register xmlns="http://jabber.org/features/iq-register"/>`
	FeatureBind     = `<bind xmlns="` + NSBind + `"/>`
	FeatureSM       = `<sm xmlns="` + NSSM + `"/>`
)

// SASLResult is the outcome of one SASL exchange.
type SASLResult struct {
	Mechanism string
	User      string
	OK        bool
	// GS2 is the GS2 header of a SCRAM client-first message: "n,,",
	// "y,," or "p=TYPE,,", which says what the client does about
	// channel binding.
	GS2 string
}

// SASL plays the server's side of one SASL exchange: it reads <auth/>,
// runs SCRAM-SHA-256, SCRAM-SHA-1 (with github.com/xdg-go/scram's server,
// so the client's proof and our signature are checked for real) or PLAIN
// against acc, and answers <success/> or <failure><not-authorized/>. An
// unknown user fails at once, as Prosody does. Any other mechanism gets
// <invalid-mechanism/>.
func (s *Server) SASL(acc *Accounts) SASLResult {
	s.t.Helper()
	return s.SASLWith(acc, SASLOptions{})
}

// SASLOptions vary how SASL plays the server.
type SASLOptions struct {
	// FinalInChallenge sends SCRAM's server-final message in a last
	// <challenge/> and then an empty <success/>, as servers written to
	// RFC 3920 do.
	FinalInChallenge bool
}

// SASLWith is SASL with options.
func (s *Server) SASLWith(acc *Accounts, o SASLOptions) SASLResult {
	s.t.Helper()
	auth := s.ExpectName(NSSASL, "auth")
	if auth == nil {
		return SASLResult{}
	}
	res := SASLResult{Mechanism: auth.AttrValue("mechanism")}
	first, err := decodeSASL(auth.Text)
	if err != nil {
		s.fail("sasl: %v", err)
		return res
	}
	switch res.Mechanism {
	case "PLAIN":
		parts := strings.Split(string(first), "\x00")
		if len(parts) != 3 {
			s.fail("sasl PLAIN: malformed message")
			return res
		}
		res.User = parts[1]
		pw, ok := acc.Password(parts[1])
		res.OK = ok && pw == parts[2]
		if res.OK {
			s.Send(`<success xmlns="` + NSSASL + `"/>`)
		}
	case "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS":
		if i := strings.Index(string(first), ",n="); i >= 0 {
			res.GS2 = string(first[:i+1])
		}
		res.User, res.OK = s.scram(res.Mechanism, acc, string(first), o)
		if s.Failed() {
			return res
		}
	default:
		s.Send(`<failure xmlns="` + NSSASL + `"><invalid-mechanism/></failure>`)
		return res
	}
	if !res.OK {
		s.SASLFailure("not-authorized")
	}
	return res
}

// scram runs the rest of a SCRAM exchange after the client-first message.
// It sends <success/> itself; the caller sends the failure.
func (s *Server) scram(mech string, acc *Accounts, clientFirst string, o SASLOptions) (string, bool) {
	s.t.Helper()
	h, _ := scramHash(mech)
	server, err := h.NewServer(func(user string) (scram.StoredCredentials, error) {
		pw, ok := acc.Password(user)
		if !ok {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		return Credentials(strings.TrimSuffix(mech, "-PLUS"), pw)
	})
	if err != nil {
		s.fail("sasl %s: %v", mech, err)
		return "", false
	}
	server = server.WithNonceGenerator(func() string { return ServerNonce })
	var conv *scram.ServerConversation
	switch cb, err := s.channelBinding(mech, clientFirst); {
	case err != nil:
		s.t.Logf("xmpptest: sasl %s: %v", mech, err)
		return "", false
	case cb.IsSupported():
		conv = server.NewConversationWithChannelBinding(cb)
	default:
		conv = server.NewConversation()
	}
	serverFirst, err := conv.Step(clientFirst)
	user := conv.Username()
	if err != nil {
		return user, false
	}
	s.Send(`<challenge xmlns="` + NSSASL + `">` + base64.StdEncoding.EncodeToString([]byte(serverFirst)) + `</challenge>`)
	resp := s.ExpectName(NSSASL, "response")
	if resp == nil {
		return user, false
	}
	clientFinal, err := decodeSASL(resp.Text)
	if err != nil {
		s.fail("sasl %s: %v", mech, err)
		return user, false
	}
	serverFinal, err := conv.Step(string(clientFinal))
	if err != nil || !conv.Valid() {
		return user, false
	}
	final := base64.StdEncoding.EncodeToString([]byte(serverFinal))
	if o.FinalInChallenge {
		s.Send(`<challenge xmlns="` + NSSASL + `">` + final + `</challenge>`)
		resp := s.ExpectName(NSSASL, "response")
		if resp == nil || strings.TrimSpace(resp.Text) != "=" && strings.TrimSpace(resp.Text) != "" {
			s.fail("sasl %s: want an empty response to the final challenge, got %v", mech, resp)
			return user, false
		}
		s.Send(`<success xmlns="` + NSSASL + `"/>`)
		return user, true
	}
	s.Send(`<success xmlns="` + NSSASL + `">` + final + `</success>`)
	return user, true
}

// SASLFailure sends <failure/> with the condition.
func (s *Server) SASLFailure(condition string) {
	s.t.Helper()
	s.Send(`<failure xmlns="` + NSSASL + `"><` + condition + `/></failure>`)
}

func decodeSASL(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("bad base64 %q: %w", text, err)
	}
	return b, nil
}

var (
	saslPayload = regexp.MustCompile(`(<(?:auth|challenge|response|success)\b[^>]*>)([A-Za-z0-9+/=]+)(</(?:auth|challenge|response|success)>)`)
	scramSecret = regexp.MustCompile(`\b([rpv])=[^,]*`)
)

// RedactSASL rewrites the base64 payload of a SASL element in a transcript
// line: a SCRAM message is shown decoded in braces, with its nonce (r=),
// proof (p=) and server signature (v=) replaced by "*"; anything else (a
// PLAIN password) becomes {redacted}.
func RedactSASL(line string) string {
	return saslPayload.ReplaceAllStringFunc(line, func(m string) string {
		sub := saslPayload.FindStringSubmatch(m)
		b, err := base64.StdEncoding.DecodeString(sub[2])
		msg := string(b)
		switch {
		case err != nil:
			msg = "{undecodable}"
		case strings.Contains(msg, "r=") || strings.HasPrefix(msg, "v="):
			msg = "{" + scramSecret.ReplaceAllString(msg, "$1=*") + "}"
		default:
			msg = "{redacted}"
		}
		return sub[1] + msg + sub[3]
	})
}

// channelBinding returns the binding the server side of a SCRAM exchange
// checks: the type the client asks for with "p=", computed from the
// server's side of the TLS connection; with "y" or "n", a binding when the
// server offered -PLUS mechanisms (so that "y" is caught as a downgrade),
// none otherwise.
func (s *Server) channelBinding(mech, clientFirst string) (scram.ChannelBinding, error) {
	s.mu.Lock()
	state, features := s.tls, s.features
	s.mu.Unlock()
	typ := ""
	if rest, ok := strings.CutPrefix(clientFirst, "p="); ok {
		typ, _, _ = strings.Cut(rest, ",")
	} else if strings.HasSuffix(mech, "-PLUS") {
		return scram.ChannelBinding{}, fmt.Errorf("no channel binding with %s", mech)
	} else if !strings.Contains(features, "-PLUS</mechanism>") || state == nil {
		return scram.ChannelBinding{}, nil
	}
	if state == nil {
		return scram.ChannelBinding{}, errors.New("channel binding without TLS")
	}
	switch scram.ChannelBindingType(typ) {
	case scram.ChannelBindingTLSExporter, "":
		if state.Version < tls.VersionTLS13 {
			return scram.NewTLSUniqueBinding(state.TLSUnique), nil
		}
		return scram.NewTLSExporterBinding(state)
	case scram.ChannelBindingTLSUnique:
		if len(state.TLSUnique) == 0 {
			return scram.ChannelBinding{}, errors.New("no tls-unique on this connection")
		}
		return scram.NewTLSUniqueBinding(state.TLSUnique), nil
	case scram.ChannelBindingTLSServerEndpoint:
		// RFC 5929's hash of the server's own certificate: the
		// library computes it from the peer's, so play the peer.
		if len(state.PeerCertificates) == 0 && s.cert != nil {
			peer := *state
			peer.PeerCertificates = []*x509.Certificate{s.cert}
			return scram.NewTLSServerEndpointBinding(&peer)
		}
		return scram.ChannelBinding{}, errors.New("no server certificate")
	}
	return scram.ChannelBinding{}, fmt.Errorf("unsupported channel binding type %q", typ)
}
