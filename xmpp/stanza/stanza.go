package stanza

import (
	"strconv"
)

// Stanza types of iq, message and presence.
const (
	TypeGet       = "get"
	TypeSet       = "set"
	TypeResult    = "result"
	TypeError     = "error"
	TypeHeadline  = "headline"
	TypeNormal    = "normal"
	TypeChat      = "chat"
	TypeGroupchat = "groupchat"
)

// IQ returns an iq stanza of the given type and id, with payload as its
// only child (payload may be nil).
func IQ(typ, id, to string, payload *Element) *Element {
	return New(NSClient, "iq", "type", typ, "id", id, "to", to).Add(payload)
}

// Result returns the empty result for the iq req, addressed back to its
// sender.
func Result(req *Element) *Element {
	return New(req.Name.Space, "iq", "type", TypeResult, "id", req.AttrValue("id"), "to", req.AttrValue("from"))
}

// ErrorReply returns the error reply to the stanza req (iq, message or
// presence) carrying e, addressed back to its sender.
func ErrorReply(req *Element, e Error) *Element {
	r := New(req.Name.Space, req.Name.Local, "type", TypeError, "id", req.AttrValue("id"), "to", req.AttrValue("from"))
	el := e.Element()
	el.Name.Space = req.Name.Space // <error/> is in the stanza's namespace
	return r.Add(el)
}

// IsStanza reports whether e is an iq, message or presence in a content
// namespace.
func IsStanza(e *Element) bool {
	switch e.Name.Space {
	case NSClient, NSServer, NSComponent:
	default:
		return false
	}
	switch e.Name.Local {
	case "iq", "message", "presence":
		return true
	}
	return false
}

// Error types (RFC 6120 §8.3.2).
const (
	ErrorAuth     = "auth"
	ErrorCancel   = "cancel"
	ErrorContinue = "continue"
	ErrorModify   = "modify"
	ErrorWait     = "wait"
)

// Error is a stanza error. errors.Is matches it by condition: the Type of
// the predefined values is the default for replies, not part of the match,
// so errors.Is(err, stanza.Conflict) matches any conflict error. A target
// with no Condition matches by Type (errors.Is(err, stanza.Error{Type:
// stanza.ErrorWait}) for any error worth retrying later), and Error{}
// matches any stanza error.
type Error struct {
	Type      string
	Condition string
	// Code is the legacy numeric code (401, 409, ...), kept for the
	// paper's clients that read it.
	Code int
	Text string
}

// Stanza error conditions used by xpush.
var (
	BadRequest            = Error{Type: ErrorModify, Condition: "bad-request", Code: 400}
	Conflict              = Error{Type: ErrorCancel, Condition: "conflict", Code: 409}
	FeatureNotImplemented = Error{Type: ErrorCancel, Condition: "feature-not-implemented", Code: 501}
	Forbidden             = Error{Type: ErrorAuth, Condition: "forbidden", Code: 403}
	InternalServerError   = Error{Type: ErrorWait, Condition: "internal-server-error", Code: 500}
	ItemNotFound          = Error{Type: ErrorCancel, Condition: "item-not-found", Code: 404}
	NotAcceptable         = Error{Type: ErrorModify, Condition: "not-acceptable", Code: 406}
	NotAllowed            = Error{Type: ErrorCancel, Condition: "not-allowed", Code: 405}
	NotAuthorized         = Error{Type: ErrorAuth, Condition: "not-authorized", Code: 401}
	PolicyViolation       = Error{Type: ErrorModify, Condition: "policy-violation", Code: 406}
	RecipientUnavailable  = Error{Type: ErrorWait, Condition: "recipient-unavailable", Code: 404}
	RegistrationRequired  = Error{Type: ErrorAuth, Condition: "registration-required", Code: 407}
	ResourceConstraint    = Error{Type: ErrorWait, Condition: "resource-constraint", Code: 500}
	ServiceUnavailable    = Error{Type: ErrorCancel, Condition: "service-unavailable", Code: 503}
	UndefinedCondition    = Error{Type: ErrorCancel, Condition: "undefined-condition", Code: 500}
)

func (e Error) Error() string {
	s := "stanza error: " + e.Condition
	if e.Type != "" {
		s += " (" + e.Type + ")"
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Is reports whether target is an Error with the same condition or, when
// target has no condition, with the same type or none.
func (e Error) Is(target error) bool {
	t, ok := target.(Error)
	if !ok {
		return false
	}
	if t.Condition != "" {
		return t.Condition == e.Condition
	}
	return t.Type == "" || t.Type == e.Type
}

// WithText returns a copy of e carrying a human-readable text.
func (e Error) WithText(text string) Error {
	e.Text = text
	return e
}

// Element returns the <error/> element for e.
func (e Error) Element() *Element {
	el := New(NSClient, "error", "type", e.Type)
	if e.Code != 0 {
		el.SetAttr("code", strconv.Itoa(e.Code))
	}
	cond := e.Condition
	if cond == "" {
		cond = "undefined-condition"
	}
	el.Add(New(NSStanzas, cond))
	if e.Text != "" {
		t := New(NSStanzas, "text")
		t.Text = e.Text
		el.Add(t)
	}
	return el
}

// ParseError returns the stanza error held by an error-typed stanza, and
// false when it holds none. A legacy error with only a code is mapped to
// its condition (XEP-0086).
func ParseError(st *Element) (Error, bool) {
	el := st.Child("", "error")
	if st.AttrValue("type") != TypeError || el == nil {
		return Error{}, false
	}
	e := Error{Type: el.AttrValue("type")}
	e.Code, _ = strconv.Atoi(el.AttrValue("code"))
	for _, c := range el.Children {
		if c.Name.Space != NSStanzas {
			continue
		}
		if c.Name.Local == "text" {
			e.Text = c.Text
		} else if e.Condition == "" {
			e.Condition = c.Name.Local
		}
	}
	if e.Condition == "" {
		e.Condition, e.Type = legacyCondition(e.Code, e.Type)
	}
	return e, true
}

// legacyCondition maps an XEP-0086 code to its condition and default type
// (XEP-0086 §3, "Mapping of legacy error codes to XMPP-style errors").
func legacyCondition(code int, typ string) (string, string) {
	var cond, def string
	switch code {
	case 302:
		cond, def = "redirect", ErrorModify
	case 400:
		cond, def = "bad-request", ErrorModify
	case 401:
		cond, def = "not-authorized", ErrorAuth
	case 402:
		cond, def = "payment-required", ErrorAuth
	case 403:
		cond, def = "forbidden", ErrorAuth
	case 404:
		cond, def = "item-not-found", ErrorCancel
	case 405:
		cond, def = "not-allowed", ErrorCancel
	case 406:
		cond, def = "not-acceptable", ErrorModify
	case 407:
		cond, def = "registration-required", ErrorAuth
	case 408, 504:
		cond, def = "remote-server-timeout", ErrorWait
	case 409:
		cond, def = "conflict", ErrorCancel
	case 500:
		cond, def = "internal-server-error", ErrorWait
	case 501:
		cond, def = "feature-not-implemented", ErrorCancel
	case 502:
		cond, def = "service-unavailable", ErrorWait
	case 503, 510:
		cond, def = "service-unavailable", ErrorCancel
	default:
		cond, def = "undefined-condition", ErrorCancel
	}
	if typ == "" {
		typ = def
	}
	return cond, typ
}
