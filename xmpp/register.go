package xmpp

import (
	"errors"
	"fmt"

	"github.com/xpush/xpush/xmpp/stanza"
)

// Namespaces of in-band registration (XEP-0077) and data forms (XEP-0004).
const (
	NSRegister = "jabber:iq:register"
	nsData     = "jabber:x:data"
	nsOOB      = "jabber:x:oob"
)

// register creates the account in-band: it asks for the form, checks that
// a user name and password are all it wants, and submits them.
func (s *session) register(password string) error {
	if !s.canSendPassword() {
		return &RegistrationError{Text: "registration would send the password in the clear"}
	}
	res, err := s.t.roundTrip(stanza.IQ(stanza.TypeGet, s.c.cfg.ID(), s.c.domain, stanza.New(NSRegister, "query")))
	if err != nil {
		return registrationErr(err)
	}
	if missing := unfillable(res.Child(NSRegister, "query")); len(missing) > 0 {
		return &RegistrationError{Fields: missing}
	}
	q := stanza.New(NSRegister, "query").
		AddText("username", s.c.jid.Localpart()).
		AddText("password", password)
	if _, err := s.t.roundTrip(stanza.IQ(stanza.TypeSet, s.c.cfg.ID(), s.c.domain, q)); err != nil {
		return registrationErr(err)
	}
	s.c.cfg.Logger.Info("xmpp: registered account", "jid", s.c.jid.String())
	return nil
}

// unfillable returns the fields of a registration form other than user
// name and password that the server requires.
func unfillable(q *stanza.Element) []string {
	if q == nil {
		return nil
	}
	var missing []string
	if form := q.Child(nsData, "x"); form != nil {
		// A data form supersedes the legacy fields (XEP-0077 §6).
		for _, f := range form.Children {
			v := f.AttrValue("var")
			if f.Name.Local != "field" || f.Child(nsData, "required") == nil {
				continue
			}
			switch v {
			case "username", "password", "FORM_TYPE":
				continue
			}
			if f.ChildText(nsData, "value") != "" && f.AttrValue("type") == "hidden" {
				continue // hidden fields come filled in
			}
			label := f.AttrValue("label")
			if label == "" {
				label = v
			}
			missing = append(missing, label)
		}
		return missing
	}
	for _, f := range q.Children {
		if f.Name.Space != NSRegister {
			if f.Is(nsOOB, "x") {
				missing = append(missing, "a web form at "+f.ChildText(nsOOB, "url"))
			}
			continue
		}
		switch f.Name.Local {
		case "username", "password", "instructions", "registered", "remove":
		default:
			missing = append(missing, f.Name.Local)
		}
	}
	return missing
}

func registrationErr(err error) error {
	var se stanza.Error
	if errors.As(err, &se) {
		return &RegistrationError{Condition: se.Condition, Text: se.Text}
	}
	return fmt.Errorf("xmpp: register: %w", err)
}

func (c *Client) wasRegistered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registered
}

func (c *Client) setRegistered() {
	c.mu.Lock()
	c.registered = true
	c.mu.Unlock()
}
