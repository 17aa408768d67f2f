package notification

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xpush/xpush/xmpp/stanza"
)

// Namespaces of the two wire forms.
const (
	NS    = "androidpn:iq:notification"
	NSOOB = "jabber:x:oob"
	// NSStanzaID is XEP-0359's namespace (stanza-id, origin-id).
	NSStanzaID = "urn:xmpp:sid:0"
)

// Kinds of notification, by the stanza that carried it.
const (
	KindIQ      = "iq"
	KindMessage = "message"
)

// Field limits. The stream already bounds a stanza; these keep a single
// notification sane for a desktop toast and a history row.
const (
	MaxIDLen      = 256
	MaxTitleLen   = 1 << 10
	MaxMessageLen = 64 << 10
	MaxURILen     = 8 << 10
)

// DefaultSchemes are the URI schemes opened without asking.
var DefaultSchemes = []string{"http", "https"}

// Notification is one pushed notification.
type Notification struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Message string `json:"message"`
	URI     string `json:"uri"`
	// URIUnsafe is set when URI is not empty and its scheme is not an
	// allowed one, or it does not parse: show it, don't open it.
	URIUnsafe bool   `json:"uri_unsafe,omitempty"`
	From      string `json:"from"`
	Kind      string `json:"kind"`
	// StanzaID is the id attribute of the carrying stanza.
	StanzaID string    `json:"-"`
	Received time.Time `json:"received"`
}

// ErrMalformed is wrapped by the parse functions' errors for input that is
// not a notification in the expected form.
var ErrMalformed = errors.New("notification: malformed")

// DedupeKey returns the key that identifies n across redeliveries: its id,
// or for a message without one, its sender and stanza id (stanza ids are
// chosen by each sender, so two senders may well use the same). It is ""
// when neither id exists.
func (n *Notification) DedupeKey() string {
	switch {
	case n.ID != "":
		return n.Kind + ":" + n.ID
	case n.StanzaID != "":
		return n.Kind + ":sid:" + n.From + ":" + n.StanzaID
	}
	return ""
}

// IsIQ reports whether el is a notification IQ set.
func IsIQ(el *stanza.Element) bool {
	return el.Name.Local == "iq" && el.AttrValue("type") == stanza.TypeSet && el.Child(NS, "notification") != nil
}

// ParseIQ parses the paper's notification IQ. The id is required; at least
// one of title and message must be non-empty.
func ParseIQ(el *stanza.Element, schemes []string) (*Notification, error) {
	p := el.Child(NS, "notification")
	if el.Name.Local != "iq" || p == nil {
		return nil, fmt.Errorf("%w: no <notification xmlns=%q/>", ErrMalformed, NS)
	}
	n := &Notification{
		ID:       p.ChildText(NS, "id"),
		Title:    p.ChildText(NS, "title"),
		Message:  strings.TrimSpace(textOf(p.Child(NS, "message"))),
		URI:      p.ChildText(NS, "uri"),
		From:     el.AttrValue("from"),
		Kind:     KindIQ,
		StanzaID: el.AttrValue("id"),
	}
	if n.ID == "" {
		return nil, fmt.Errorf("%w: notification without <id/>", ErrMalformed)
	}
	if n.Title == "" && n.Message == "" {
		return nil, fmt.Errorf("%w: notification without <title/> or <message/>", ErrMalformed)
	}
	if err := n.check(schemes); err != nil {
		return nil, err
	}
	return n, nil
}

// ParseMessage parses a <message/> carrying a notification: its subject is
// the title, its body the message, the first XEP-0066 url the uri. It
// returns an error for messages that carry nothing to show (chat states,
// receipts, errors).
func ParseMessage(el *stanza.Element, schemes []string) (*Notification, error) {
	if el.Name.Local != "message" {
		return nil, fmt.Errorf("%w: not a message", ErrMalformed)
	}
	n := &Notification{
		Title:    el.ChildText("", "subject"),
		Message:  strings.TrimSpace(textOf(el.Child("", "body"))),
		From:     el.AttrValue("from"),
		Kind:     KindMessage,
		StanzaID: el.AttrValue("id"),
	}
	if oob := el.Child(NSOOB, "x"); oob != nil {
		n.URI = oob.ChildText(NSOOB, "url")
		if d := oob.ChildText(NSOOB, "desc"); d != "" && n.Title == "" {
			n.Title = d
		}
	}
	// A notification id carried inside the message wins over stanza ids.
	if p := el.Child(NS, "notification"); p != nil {
		n.ID = p.ChildText(NS, "id")
	}
	if n.StanzaID == "" {
		if sid := el.Child(NSStanzaID, "origin-id"); sid != nil {
			n.StanzaID = sid.AttrValue("id")
		}
	}
	if n.Title == "" && n.Message == "" && n.URI == "" {
		return nil, fmt.Errorf("%w: message has no subject, body or url", ErrMalformed)
	}
	if err := n.check(schemes); err != nil {
		return nil, err
	}
	return n, nil
}

func textOf(e *stanza.Element) string {
	if e == nil {
		return ""
	}
	return e.Text
}

// check enforces field limits and flags an unsafe URI.
func (n *Notification) check(schemes []string) error {
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{
		{"id", n.ID, MaxIDLen},
		{"title", n.Title, MaxTitleLen},
		{"message", n.Message, MaxMessageLen},
		{"uri", n.URI, MaxURILen},
	} {
		if len(f.v) > f.max {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, f.name, f.max)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not UTF-8", ErrMalformed, f.name)
		}
	}
	if n.URI != "" {
		n.URIUnsafe = CheckURI(n.URI, schemes) != nil
	}
	return nil
}

// CheckURI returns nil when uri is an absolute URI with a host whose scheme
// is one of schemes (DefaultSchemes when nil), and an error saying why not
// otherwise.
func CheckURI(uri string, schemes []string) error {
	if schemes == nil {
		schemes = DefaultSchemes
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("notification: uri does not parse: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if !slices.Contains(schemes, scheme) {
		if scheme == "" {
			return errors.New("notification: uri has no scheme")
		}
		return fmt.Errorf("notification: uri scheme %q is not allowed", scheme)
	}
	if (scheme == "http" || scheme == "https") && u.Host == "" {
		return errors.New("notification: uri has no host")
	}
	if u.User != nil {
		return errors.New("notification: uri carries credentials")
	}
	return nil
}

// AsIQ returns the paper's notification IQ for n, addressed to to, with the
// stanza id id. Empty fields are left out, as the paper's server does.
func (n *Notification) AsIQ(id, from, to string) *stanza.Element {
	p := stanza.New(NS, "notification").
		AddText("id", n.ID).
		AddText("title", n.Title).
		AddText("message", n.Message).
		AddText("uri", n.URI)
	iq := stanza.IQ(stanza.TypeSet, id, to, p)
	iq.SetAttr("from", from)
	return iq
}

// AsMessage returns n as a <message/> of type typ (headline or normal) with
// the uri as an XEP-0066 url, for standard XMPP clients. The notification
// id rides along in an androidpn element so that xpush agents dedupe it.
func (n *Notification) AsMessage(typ, id, from, to string) *stanza.Element {
	m := stanza.New(stanza.NSClient, "message", "type", typ, "id", id, "to", to, "from", from).
		AddText("subject", n.Title).
		AddText("body", n.Message)
	if n.URI != "" {
		m.Add(stanza.New(NSOOB, "x").AddText("url", n.URI))
	}
	if n.ID != "" {
		m.Add(stanza.New(NS, "notification").AddText("id", n.ID))
	}
	return m
}
