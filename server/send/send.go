package send

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp/notification"
)

// TTL bounds.
const (
	DefaultTTL = 24 * time.Hour
	MaxTTL     = 30 * 24 * time.Hour
	MaxTo      = 10_000
)

// Notifier delivers a stored notification (the delivery hub).
type Notifier interface {
	Notify(ctx context.Context, n *store.Notification)
}

// Sender stores and delivers notifications.
type Sender struct {
	Store    store.Queue
	Notifier Notifier
	Now      func() time.Time
}

// Request is a notification to send.
type Request struct {
	ID      string
	To      []string
	All     bool
	Title   string
	Message string
	URI     string
	TTL     time.Duration
	Sender  string
}

// ValidationError says what is wrong with a request, for the caller. Err,
// when set, is the underlying cause (a *store.UnknownRecipientsError).
type ValidationError struct {
	Msg string
	Err error
}

func (e *ValidationError) Error() string { return e.Msg }
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// Send validates req, stores it and queues its delivery. It returns the
// notification id once the notification is durable.
func (s *Sender) Send(ctx context.Context, req Request) (string, error) {
	n, err := s.build(req)
	if err != nil {
		return "", err
	}
	if err := s.Store.Enqueue(ctx, n); err != nil {
		var unknown *store.UnknownRecipientsError
		if errors.As(err, &unknown) {
			return "", &ValidationError{Msg: "no such user: " + strings.Join(unknown.Users, ", "), Err: err}
		}
		return "", fmt.Errorf("send: store: %w", err)
	}
	s.Notifier.Notify(ctx, n)
	return n.ID, nil
}

// Status returns a notification and its per-recipient states.
func (s *Sender) Status(ctx context.Context, id string) (store.Notification, []store.Delivery, error) {
	return s.Store.Notification(ctx, id)
}

func (s *Sender) build(req Request) (*store.Notification, error) {
	switch {
	case req.All && len(req.To) > 0:
		return nil, invalid(`give either "to" or "all", not both`)
	case !req.All && len(req.To) == 0:
		return nil, invalid(`no recipients: give "to" (a list of users) or "all": true`)
	case len(req.To) > MaxTo:
		return nil, invalid("more than %d recipients: use all", MaxTo)
	case strings.TrimSpace(req.Title) == "" && strings.TrimSpace(req.Message) == "":
		return nil, invalid("a notification needs a title or a message")
	case len(req.Title) > notification.MaxTitleLen:
		return nil, invalid("title longer than %d bytes", notification.MaxTitleLen)
	case len(req.Message) > notification.MaxMessageLen:
		return nil, invalid("message longer than %d bytes", notification.MaxMessageLen)
	case len(req.URI) > notification.MaxURILen:
		return nil, invalid("uri longer than %d bytes", notification.MaxURILen)
	case !utf8.ValidString(req.Title + req.Message + req.URI + req.ID):
		return nil, invalid("text must be UTF-8")
	case req.TTL < 0 || req.TTL > MaxTTL:
		return nil, invalid("ttl must be between 0 and %v", MaxTTL)
	case len(req.ID) > notification.MaxIDLen:
		return nil, invalid("id longer than %d bytes", notification.MaxIDLen)
	}
	if req.URI != "" {
		if err := notification.CheckURI(req.URI, nil); err != nil {
			return nil, invalid("uri: %s", strings.TrimPrefix(err.Error(), "notification: "))
		}
	}
	to := make([]string, 0, len(req.To))
	seen := map[string]bool{}
	for _, u := range req.To {
		name, err := account.Normalize(strings.TrimSpace(strings.TrimSuffix(u, "@")))
		if err != nil {
			return nil, invalid("recipient %q is not a valid user name", u)
		}
		if !seen[name] {
			seen[name] = true
			to = append(to, name)
		}
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	now := s.Now()
	id := req.ID
	if id == "" {
		id = newID()
	}
	return &store.Notification{
		ID: id, Title: req.Title, Message: req.Message, URI: req.URI,
		To: to, Broadcast: req.All, Sender: req.Sender, Created: now, Expires: now.Add(ttl),
	}, nil
}

// newID returns a random 128-bit id in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
