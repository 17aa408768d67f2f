package xmpp

import (
	"fmt"

	"github.com/xpush/xpush/xmpp/stanza"
)

// bind binds our resource (RFC 6120 §7) and, where a server still needs it,
// establishes the RFC 3921 session.
func (s *session) bind() error {
	if s.feats.Child(stanza.NSBind, "bind") == nil {
		return fmt.Errorf("xmpp: the server offers no resource binding")
	}
	b := stanza.New(stanza.NSBind, "bind").AddText("resource", s.c.cfg.Resource)
	res, err := s.t.roundTrip(stanza.IQ(stanza.TypeSet, s.c.cfg.ID(), "", b))
	if err != nil {
		return fmt.Errorf("xmpp: bind: %w", err)
	}
	s.full = res.Child(stanza.NSBind, "bind").ChildText(stanza.NSBind, "jid")
	if s.full == "" {
		return fmt.Errorf("xmpp: bind: the server returned no JID")
	}
	if sess := s.feats.Child(stanza.NSSession, "session"); sess != nil && sess.Child(stanza.NSSession, "optional") == nil {
		if _, err := s.t.roundTrip(stanza.IQ(stanza.TypeSet, s.c.cfg.ID(), "", stanza.New(stanza.NSSession, "session"))); err != nil {
			return fmt.Errorf("xmpp: session: %w", err)
		}
	}
	return nil
}
