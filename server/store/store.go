package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Errors shared by every implementation; match them with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrInvalid wraps an argument the store refuses: an empty name or
	// ID, a zero creation time, a notification with both or neither of
	// To and Broadcast.
	ErrInvalid = errors.New("store: invalid argument")
)

// UnknownRecipientsError is Enqueue's error when some recipients have no
// account. It matches ErrNotFound with errors.Is.
type UnknownRecipientsError struct {
	Users []string // sorted
}

func (e *UnknownRecipientsError) Error() string {
	return "store: unknown recipients: " + strings.Join(e.Users, ", ")
}

// Is reports ErrNotFound as a match.
func (e *UnknownRecipientsError) Is(target error) bool { return target == ErrNotFound }

// Delivery states.
const (
	StateQueued  = "queued"
	StateSent    = "sent"
	StateAcked   = "acked"
	StateExpired = "expired"
)

// States lists the delivery states in their usual order.
var States = []string{StateQueued, StateSent, StateAcked, StateExpired}

// Credentials are the salted SCRAM keys of one hash (RFC 5802 §3): never
// the password.
type Credentials struct {
	Salt      []byte
	Iters     int
	StoredKey []byte
	ServerKey []byte
}

// User is an account.
//
// Name is stored as given: the server validates and normalizes it
// (PRECIS UsernameCaseMapped) before it reaches the store. Created must
// be set; it decides which broadcasts the account receives.
type User struct {
	Name    string
	SHA1    Credentials
	SHA256  Credentials
	Created time.Time
	// Legacy is the clear password, kept only when the operator enabled
	// the paper's jabber:iq:auth digest login; empty otherwise.
	Legacy string
}

// Notification is one notification as sent through the API or console.
//
// Times come back from a store in UTC, to the nanosecond.
type Notification struct {
	ID      string // set by the caller, unique
	Seq     int64  // delivery order; assigned by the store, increasing
	Title   string
	Message string
	URI     string
	// To lists the recipients; empty when Broadcast. The store returns
	// it sorted, and leaves it empty in Pending's results.
	To        []string
	Broadcast bool
	Sender    string
	Created   time.Time // must be set
	Expires   time.Time // zero: never
}

// Change is one MarkSent (State StateSent) or Ack (State StateAcked) for
// Record.
type Change struct {
	ID, User string
	State    string
	At       time.Time
}

// Delivery is the state of one notification for one recipient.
type Delivery struct {
	User     string
	State    string
	Attempts int // times marked sent
	Updated  time.Time
}

// Summary is a notification with its delivery counts, for the history.
type Summary struct {
	Notification
	// Counts has an entry for each of States. For a broadcast,
	// untouched recipients count as queued, or as expired once Expire
	// has passed the notification.
	Counts map[string]int
}

// Page selects a slice of a listing.
type Page struct {
	// Query is a substring to search for, case-insensitive for ASCII
	// letters; "" for all. Characters such as % and _ match themselves.
	Query  string
	Offset int // < 0 is 0
	Limit  int // <= 0: no limit
}

// Users is the account store.
type Users interface {
	// CreateUser stores u; ErrExists when the name is taken.
	CreateUser(ctx context.Context, u User) error
	// User returns the account; ErrNotFound when there is none.
	User(ctx context.Context, name string) (User, error)
	// DeleteUser removes the account and all its deliveries.
	DeleteUser(ctx context.Context, name string) error
	SetCredentials(ctx context.Context, name string, sha1, sha256 Credentials, legacy string) error
	// ListUsers lists accounts by name; Page.Query matches the name.
	ListUsers(ctx context.Context, p Page) ([]User, error)
	CountUsers(ctx context.Context) (int, error)
}

// Queue is the store-and-forward queue.
//
// A delivery's state is queued, sent, acked or expired. MarkSent moves
// queued or sent to sent; Unsent moves sent back to queued; Ack moves any
// state to acked, which is final; Expire moves queued and sent to expired
// once the notification's Expires has passed. For a broadcast, a
// recipient that no call has touched yet is queued (expired once Expire
// passed the notification) without a stored row.
type Queue interface {
	// Enqueue stores n (assigning n.Seq) with a queued delivery per
	// recipient, or once for everyone when n.Broadcast. Unknown
	// recipients are an *UnknownRecipientsError naming them, and nothing
	// is stored; a taken ID is ErrExists. It returns only once n is
	// durable.
	Enqueue(ctx context.Context, n *Notification) error
	// Pending returns user's notifications that are neither acked nor
	// expired (by state, or by Expires <= now) nor currently sent, by
	// Seq, at most limit (<= 0: all). ErrNotFound for an unknown user.
	Pending(ctx context.Context, user string, now time.Time, limit int) ([]Notification, error)
	// MarkSent records that the notification was written to one of
	// user's sessions. It does not change an acked or expired delivery.
	// ErrNotFound when user is not a recipient.
	MarkSent(ctx context.Context, id, user string, at time.Time) error
	// Ack records the acknowledgement. Acking twice is not an error, and
	// the first ack's time is kept. ErrNotFound when user is not a
	// recipient.
	Ack(ctx context.Context, id, user string, at time.Time) error
	// Record applies many MarkSent and Ack changes in one transaction (a
	// group commit). A change for a notification or recipient that no
	// longer exists is skipped; any other error fails the whole batch.
	Record(ctx context.Context, changes []Change) error
	// Unsent puts user's sent-but-unacked notifications back to queued.
	// The server calls it when the last of user's sessions ends, so they
	// are redelivered on the next login.
	Unsent(ctx context.Context, user string, at time.Time) error
	// UnsentAll puts every sent-but-unacked delivery back to queued and
	// returns how many changed. The server calls it at startup: no
	// session survives a restart, so nothing is still "being sent".
	UnsentAll(ctx context.Context, at time.Time) (int, error)
	// Expire marks every delivery past its notification's TTL
	// (Expires <= now) expired, and returns how many changed, untouched
	// broadcast recipients included.
	Expire(ctx context.Context, now time.Time) (int, error)
	// Notification returns n with its per-recipient deliveries sorted by
	// user (for a broadcast, every account created no later than it,
	// untouched ones as queued or expired).
	Notification(ctx context.Context, id string) (Notification, []Delivery, error)
	// History lists notifications newest first, with delivery counts.
	// Page.Query matches title, message, URI, or a recipient of a
	// directed notification.
	History(ctx context.Context, p Page) ([]Summary, error)
	// QueueDepth counts deliveries neither acked nor expired (by state,
	// or by Expires <= now), untouched broadcast recipients included.
	QueueDepth(ctx context.Context, now time.Time) (int, error)
}

// Token is an API token or a registration invite, stored hashed.
type Token struct {
	Name    string
	Hash    []byte // SHA-256 of the token
	Created time.Time
	Expires time.Time // zero: never
	Used    bool      // invites are single-use
}

// Tokens stores API tokens, registration invites and the admin password.
type Tokens interface {
	// CreateAPIToken stores t; ErrExists when its name or hash is taken.
	CreateAPIToken(ctx context.Context, t Token) error
	// APIToken looks a token up by hash; ErrNotFound when there is none.
	// The caller checks Expires.
	APIToken(ctx context.Context, hash []byte) (Token, error)
	// ListAPITokens lists tokens by name.
	ListAPITokens(ctx context.Context) ([]Token, error)
	// RevokeAPIToken deletes the token; ErrNotFound when there is none.
	RevokeAPIToken(ctx context.Context, name string) error

	// CreateInvite stores t; ErrExists when its hash is taken. Names of
	// invites need not be unique.
	CreateInvite(ctx context.Context, t Token) error
	// UseInvite consumes a valid, unused, unexpired (Expires > now)
	// invite; ErrNotFound otherwise.
	UseInvite(ctx context.Context, hash []byte, now time.Time) error
	// ListInvites lists invites oldest first.
	ListInvites(ctx context.Context) ([]Token, error)

	AdminHash(ctx context.Context) ([]byte, error) // ErrNotFound when unset
	SetAdminHash(ctx context.Context, hash []byte) error
}

// Store is everything xpushd persists. Implementations are safe for
// concurrent use.
type Store interface {
	Users
	Queue
	Tokens
	Close() error
}
