package stream

import (
	"errors"

	"github.com/xpush/xpush/xmpp/stanza"
)

// NSError is the namespace of stream error conditions.
const NSError = "urn:ietf:params:xml:ns:xmpp-streams"

// Error is a stream error (RFC 6120 §4.9). Is compares conditions only, and
// an empty condition in the target matches any stream error, so both
// errors.Is(err, stream.PolicyViolation) and errors.Is(err, stream.Error{})
// work.
type Error struct {
	Condition string
	Text      string
	// Remote is true when the peer sent the error, false when this side
	// detected it.
	Remote bool
}

// Stream error conditions.
var (
	BadFormat              = Error{Condition: "bad-format"}
	BadNamespacePrefix     = Error{Condition: "bad-namespace-prefix"}
	Conflict               = Error{Condition: "conflict"}
	ConnectionTimeout      = Error{Condition: "connection-timeout"}
	HostGone               = Error{Condition: "host-gone"}
	HostUnknown            = Error{Condition: "host-unknown"}
	ImproperAddressing     = Error{Condition: "improper-addressing"}
	InternalServerError    = Error{Condition: "internal-server-error"}
	InvalidFrom            = Error{Condition: "invalid-from"}
	InvalidNamespace       = Error{Condition: "invalid-namespace"}
	InvalidXML             = Error{Condition: "invalid-xml"}
	NotAuthorized          = Error{Condition: "not-authorized"}
	NotWellFormed          = Error{Condition: "not-well-formed"}
	PolicyViolation        = Error{Condition: "policy-violation"}
	RemoteConnectionFailed = Error{Condition: "remote-connection-failed"}
	Reset                  = Error{Condition: "reset"}
	ResourceConstraint     = Error{Condition: "resource-constraint"}
	RestrictedXML          = Error{Condition: "restricted-xml"}
	SeeOtherHost           = Error{Condition: "see-other-host"}
	SystemShutdown         = Error{Condition: "system-shutdown"}
	UndefinedCondition     = Error{Condition: "undefined-condition"}
	UnsupportedEncoding    = Error{Condition: "unsupported-encoding"}
	UnsupportedFeature     = Error{Condition: "unsupported-feature"}
	UnsupportedStanzaType  = Error{Condition: "unsupported-stanza-type"}
	UnsupportedVersion     = Error{Condition: "unsupported-version"}
)

// ErrClosed is returned by Decoder.Next when the peer closed the stream
// with </stream:stream>.
var ErrClosed = errors.New("stream: closed by peer")

func (e Error) Error() string {
	s := "stream: "
	if e.Remote {
		s += "peer sent "
	}
	s += e.Condition
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Is reports whether target is a stream Error with the same condition (or
// an empty one).
func (e Error) Is(target error) bool {
	t, ok := target.(Error)
	if !ok {
		return false
	}
	return t.Condition == "" || t.Condition == e.Condition
}

// WithText returns a copy of e carrying text.
func (e Error) WithText(text string) Error {
	e.Text = text
	return e
}

// Element returns the <stream:error/> element for e.
func (e Error) Element() *stanza.Element {
	cond := e.Condition
	if cond == "" {
		cond = UndefinedCondition.Condition
	}
	el := stanza.New(stanza.NSStream, "error").Add(stanza.New(NSError, cond))
	if e.Text != "" {
		t := stanza.New(NSError, "text")
		t.Text = e.Text
		el.Add(t)
	}
	return el
}

// ParseError converts a received <stream:error/> element into an Error
// with Remote set.
func ParseError(el *stanza.Element) Error {
	e := Error{Remote: true}
	for _, c := range el.Children {
		if c.Name.Space != NSError {
			continue
		}
		if c.Name.Local == "text" {
			e.Text = c.Text
		} else if e.Condition == "" {
			e.Condition = c.Name.Local
		}
	}
	if e.Condition == "" {
		e.Condition = UndefinedCondition.Condition
	}
	return e
}
