package xmpp

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xdg-go/scram"

	"github.com/xpush/xpush/xmpp/stanza"
)

// SASL mechanisms, most preferred first.
const (
	mechSHA256Plus = "SCRAM-SHA-256-PLUS"
	mechSHA1Plus   = "SCRAM-SHA-1-PLUS"
	mechSHA256     = "SCRAM-SHA-256"
	mechSHA1       = "SCRAM-SHA-1"
	mechPlain      = "PLAIN"
)

// SASLError is a <failure/> from the server.
type SASLError struct {
	Condition string
	Text      string
}

func (e *SASLError) Error() string {
	return "xmpp: sasl: " + e.Condition + suffix(e.Text)
}

// Is makes a not-authorized (or account-disabled, credentials-expired)
// failure match ErrAuth.
func (e *SASLError) Is(target error) bool {
	if target != ErrAuth {
		return false
	}
	switch e.Condition {
	case "not-authorized", "account-disabled", "credentials-expired", "invalid-authzid":
		return true
	}
	return false
}

// saslStep is one authentication conversation: it returns the next
// message to send given the server's last one.
type saslStep func(challenge []byte) ([]byte, error)

// sasl picks the best mechanism both sides support and runs it.
func (s *session) sasl(mechs *stanza.Element, password string) error {
	offered := make([]string, 0, len(mechs.Children))
	for _, m := range mechs.Children {
		if m.Name.Local == "mechanism" {
			offered = append(offered, strings.ToUpper(strings.TrimSpace(m.Text)))
		}
	}
	mech, step, err := s.pickMechanism(offered, password)
	if err != nil {
		return err
	}
	s.c.cfg.Logger.Debug("xmpp: sasl", "mechanism", mech)
	first, err := step(nil)
	if err != nil {
		return fmt.Errorf("xmpp: sasl %s: %w", mech, err)
	}
	auth := stanza.New(stanza.NSSASL, "auth", "mechanism", mech)
	auth.Text = EncodeSASL(first)
	if err := s.t.send(auth); err != nil {
		return err
	}
	for {
		el, err := s.t.next()
		if err != nil {
			return fmt.Errorf("xmpp: sasl %s: %w", mech, err)
		}
		if el.Name.Space != stanza.NSSASL {
			continue
		}
		switch el.Name.Local {
		case "challenge":
			in, err := DecodeSASL(el.Text)
			if err != nil {
				return s.abortSASL(mech, err)
			}
			out, err := step(in)
			if err != nil {
				return s.abortSASL(mech, err)
			}
			resp := stanza.New(stanza.NSSASL, "response")
			resp.Text = EncodeSASL(out)
			if err := s.t.send(resp); err != nil {
				return err
			}
		case "success":
			in, err := DecodeSASL(el.Text)
			if err != nil {
				return fmt.Errorf("xmpp: sasl %s: %w", mech, err)
			}
			// The server's final message proves it knows the key.
			if _, err := step(in); err != nil {
				return fmt.Errorf("xmpp: sasl %s: server not verified: %w", mech, err)
			}
			return nil
		case "failure":
			f := &SASLError{Condition: "not-authorized"}
			for _, c := range el.Children {
				if c.Name.Local == "text" {
					f.Text = c.Text
				} else {
					f.Condition = c.Name.Local
				}
			}
			return f
		}
	}
}

// abortSASL aborts the exchange after a local error.
func (s *session) abortSASL(mech string, cause error) error {
	_ = s.t.send(stanza.New(stanza.NSSASL, "abort"))
	return fmt.Errorf("xmpp: sasl %s: %w", mech, cause)
}

// pickMechanism chooses SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS), then
// PLAIN where a password may cross the connection.
func (s *session) pickMechanism(offered []string, password string) (string, saslStep, error) {
	var state *tls.ConnectionState
	if tc, ok := s.t.conn.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		state = &cs
	}
	user := s.c.jid.Localpart()
	plusOffered := slices.Contains(offered, mechSHA256Plus) || slices.Contains(offered, mechSHA1Plus)
	cb, cbOK := s.channelBinding(state)
	for _, m := range []struct {
		name string
		hash scram.HashGeneratorFcn
		plus bool
	}{
		{mechSHA256Plus, scram.SHA256, true},
		{mechSHA1Plus, scram.SHA1, true},
		{mechSHA256, scram.SHA256, false},
		{mechSHA1, scram.SHA1, false},
	} {
		if !slices.Contains(offered, m.name) || m.plus && !cbOK {
			continue
		}
		client, err := m.hash.NewClient(user, password, "")
		if err != nil {
			return "", nil, fmt.Errorf("xmpp: sasl: %w", err)
		}
		var conv *scram.ClientConversation
		switch {
		case m.plus:
			conv = client.NewConversationWithChannelBinding(cb)
		case state != nil && !plusOffered:
			// "y": we could bind, the server seems not to: a server that
			// does offer -PLUS will notice a stripped list.
			conv = client.NewConversationAdvertisingChannelBinding()
		default:
			conv = client.NewConversation()
		}
		return m.name, scramStep(conv), nil
	}
	if slices.Contains(offered, mechPlain) && s.canSendPassword() {
		sent := false
		return mechPlain, func([]byte) ([]byte, error) {
			if sent {
				return nil, nil
			}
			sent = true
			return []byte("\x00" + user + "\x00" + password), nil
		}, nil
	}
	return "", nil, fmt.Errorf("%w: the server offers %s", ErrNoMechanism, strings.Join(offered, ", "))
}

// channelBinding returns the binding to use with -PLUS mechanisms: the
// type the server advertises (XEP-0440) that we support, else tls-unique
// on TLS 1.2, where RFC 5802 makes it the default. On TLS 1.3 without an
// advertisement we cannot know what the server expects and do not bind.
func (s *session) channelBinding(state *tls.ConnectionState) (scram.ChannelBinding, bool) {
	if state == nil {
		return scram.ChannelBinding{}, false
	}
	var types []string
	if cbs := s.feats.Child(stanza.NSSASLCB, "sasl-channel-binding"); cbs != nil {
		for _, c := range cbs.Children {
			types = append(types, c.AttrValue("type"))
		}
	}
	if len(types) == 0 {
		if state.Version < tls.VersionTLS13 && len(state.TLSUnique) > 0 {
			return scram.NewTLSUniqueBinding(state.TLSUnique), true
		}
		return scram.ChannelBinding{}, false
	}
	if slices.Contains(types, "tls-exporter") && state.Version >= tls.VersionTLS13 {
		if cb, err := scram.NewTLSExporterBinding(state); err == nil {
			return cb, true
		}
	}
	if slices.Contains(types, "tls-server-end-point") {
		if cb, err := scram.NewTLSServerEndpointBinding(state); err == nil {
			return cb, true
		}
	}
	if slices.Contains(types, "tls-unique") && state.Version < tls.VersionTLS13 && len(state.TLSUnique) > 0 {
		return scram.NewTLSUniqueBinding(state.TLSUnique), true
	}
	return scram.ChannelBinding{}, false
}

func scramStep(conv *scram.ClientConversation) saslStep {
	return func(challenge []byte) ([]byte, error) {
		if conv.Done() {
			if len(challenge) == 0 {
				return nil, nil
			}
			return nil, errors.New("unexpected data after the last step")
		}
		out, err := conv.Step(string(challenge))
		return []byte(out), err
	}
}

// EncodeSASL encodes SASL data for <auth/>, <challenge/>, <response/> and
// <success/>: base64, with empty data as "=" (RFC 6120 §6.4.2).
func EncodeSASL(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeSASL decodes what EncodeSASL encodes; "" and "=" are empty data.
func DecodeSASL(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("xmpp: sasl: bad base64: %w", err)
	}
	return b, nil
}
