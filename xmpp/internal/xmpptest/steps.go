package xmpptest

import (
	"fmt"

	"github.com/xpush/xpush/xmpp/stanza"
)

// Bind answers the client's resource binding request with
// user@Domain/resource and returns that JID.
func (s *Server) Bind(user string) string {
	s.t.Helper()
	iq := s.ExpectIQ(stanza.TypeSet, NSBind, "bind")
	if iq == nil {
		return ""
	}
	res := iq.Child(NSBind, "bind").ChildText(NSBind, "resource")
	full := user + "@" + s.Domain + "/" + res
	s.Sendf(`<iq type="result" id="%s"><bind xmlns="%s"><jid>%s</jid></bind></iq>`, iq.AttrValue("id"), NSBind, full)
	return full
}

// ExpectPresence reads the client's initial presence and returns its
// priority element's text.
func (s *Server) ExpectPresence() string {
	s.t.Helper()
	p := s.Expect("initial <presence/>", func(el *stanza.Element) bool {
		return el.Is(stanza.NSClient, "presence") && el.AttrValue("type") == "" && el.AttrValue("to") == ""
	})
	return p.ChildText(stanza.NSClient, "priority")
}

// ExpectEnableSM reads <enable resume="true"/>.
func (s *Server) ExpectEnableSM() {
	s.t.Helper()
	s.Expect(`<enable xmlns="urn:xmpp:sm:3" resume="true"/>`, func(el *stanza.Element) bool {
		return el.Is(NSSM, "enable") && el.AttrValue("resume") == "true"
	})
}

// ExpectAck reads <a h=.../> and checks h.
func (s *Server) ExpectAck(h uint32) {
	s.t.Helper()
	s.Expect(fmt.Sprintf(`<a xmlns="urn:xmpp:sm:3" h="%d"/>`, h), func(el *stanza.Element) bool {
		return el.Is(NSSM, "a") && el.AttrValue("h") == fmt.Sprint(h)
	})
}

// Notification returns the paper's notification IQ.
func Notification(iqID, to, id, title, message, uri string) string {
	n := stanza.New("androidpn:iq:notification", "notification").
		AddText("id", id).AddText("title", title).AddText("message", message)
	// The paper's server sends <uri/> even when it is empty.
	u := stanza.New("androidpn:iq:notification", "uri")
	u.Text = uri
	n.Add(u)
	return stanza.IQ(stanza.TypeSet, iqID, to, n).String()
}
