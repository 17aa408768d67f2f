package xmpp

import (
	"crypto/sha1" //nolint:gosec // XEP-0078 digest is SHA-1 by definition.
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/xpush/xpush/xmpp/stanza"
)

// NSIQAuth is the namespace of the paper's legacy login (XEP-0078).
const NSIQAuth = "jabber:iq:auth"

// Digest returns the XEP-0078 digest: hex SHA-1 of the stream id followed
// by the password.
func Digest(streamID, password string) string {
	h := sha1.Sum([]byte(streamID + password)) //nolint:gosec // protocol-defined
	return hex.EncodeToString(h[:])
}

// iqAuth logs in with jabber:iq:auth: it asks which fields the server
// takes, then sends the digest when offered, else the password where a
// password may cross the connection.
func (s *session) iqAuth(password string) error {
	user := s.c.jid.Localpart()
	q := stanza.New(NSIQAuth, "query").AddText("username", user)
	res, err := s.t.roundTrip(stanza.IQ(stanza.TypeGet, s.c.cfg.ID(), s.c.domain, q))
	if err != nil {
		return s.iqAuthErr(err)
	}
	fields := res.Child(NSIQAuth, "query")
	q = stanza.New(NSIQAuth, "query").AddText("username", user)
	switch {
	case fields.Child(NSIQAuth, "digest") != nil && s.hdr.ID != "":
		q.AddText("digest", Digest(s.hdr.ID, password))
	case fields.Child(NSIQAuth, "password") != nil && s.canSendPassword():
		q.AddText("password", password)
	case fields.Child(NSIQAuth, "password") != nil:
		return fmt.Errorf("%w: the server takes the password only in the clear, and the connection is not encrypted", ErrNoMechanism)
	default:
		return fmt.Errorf("%w: jabber:iq:auth offers neither digest nor password", ErrNoMechanism)
	}
	q.AddText("resource", s.c.cfg.Resource)
	if _, err := s.t.roundTrip(stanza.IQ(stanza.TypeSet, s.c.cfg.ID(), s.c.domain, q)); err != nil {
		return s.iqAuthErr(err)
	}
	s.full = s.c.jid.String() + "/" + s.c.cfg.Resource
	return nil
}

// iqAuthErr maps the paper's 401 to ErrAuth.
func (s *session) iqAuthErr(err error) error {
	var se stanza.Error
	if errors.As(err, &se) {
		if se.Condition == stanza.NotAuthorized.Condition || se.Code == 401 {
			return fmt.Errorf("%w (%v)", ErrAuth, se)
		}
		if se.Condition == stanza.Conflict.Condition {
			return fmt.Errorf("xmpp: iq-auth: resource %q is in use: %w", s.c.cfg.Resource, se)
		}
	}
	return fmt.Errorf("xmpp: iq-auth: %w", err)
}
