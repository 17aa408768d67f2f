package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Memory is a Store kept in memory, guarded by one mutex. It is a
// complete implementation, for tests and for servers that need not keep
// anything across a restart. The zero value is not usable; call
// NewMemory.
type Memory struct {
	mu        sync.Mutex
	users     map[string]User
	notes     []*memNote // by Seq
	byID      map[string]*memNote
	seq       int64
	apiTokens map[string]Token // by name
	invites   []Token          // oldest first
	adminHash []byte
}

var _ Store = (*Memory)(nil)

type memNote struct {
	n         Notification // To is nil: the recipients are the keys of rows
	expiredAt time.Time    // when Expire passed it; zero: not yet
	rows      map[string]*Delivery
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		users:     make(map[string]User),
		byID:      make(map[string]*memNote),
		apiTokens: make(map[string]Token),
	}
}

// Close does nothing: the data goes with the value.
func (m *Memory) Close() error { return nil }

// normTime returns t as the SQL store gives it back: UTC, nanoseconds,
// no monotonic reading.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

func cloneCreds(c Credentials) Credentials {
	c.Salt = cloneBytes(c.Salt)
	c.StoredKey = cloneBytes(c.StoredKey)
	c.ServerKey = cloneBytes(c.ServerKey)
	return c
}

func cloneUser(u User) User {
	u.SHA1 = cloneCreds(u.SHA1)
	u.SHA256 = cloneCreds(u.SHA256)
	return u
}

func cloneToken(t Token) Token {
	t.Hash = cloneBytes(t.Hash)
	return t
}

// foldASCII lowers ASCII letters only, as SQLite's LIKE does.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

func matches(s, query string) bool {
	return strings.Contains(foldASCII(s), foldASCII(query))
}

// page applies p's offset and limit to n items, returning the bounds.
func page(n int, p Page) (lo, hi int) {
	lo = max(p.Offset, 0)
	if lo > n {
		lo = n
	}
	hi = n
	if p.Limit > 0 && lo+p.Limit < n {
		hi = lo + p.Limit
	}
	return lo, hi
}

// live reports whether n has not reached its TTL at now.
func live(n *Notification, now time.Time) bool {
	return n.Expires.IsZero() || n.Expires.After(now)
}

// eligible reports whether user u receives broadcast n: u existed when n
// was sent.
func (m *Memory) eligible(mn *memNote, user string) bool {
	u, ok := m.users[user]
	return ok && !u.Created.After(mn.n.Created)
}

// state returns user's effective delivery of mn, and whether user is a
// recipient at all.
func (m *Memory) state(mn *memNote, user string) (Delivery, bool) {
	if d, ok := mn.rows[user]; ok {
		return *d, true
	}
	if !mn.n.Broadcast || !m.eligible(mn, user) {
		return Delivery{}, false
	}
	if !mn.expiredAt.IsZero() {
		return Delivery{User: user, State: StateExpired, Updated: mn.expiredAt}, true
	}
	return Delivery{User: user, State: StateQueued, Updated: mn.n.Created}, true
}

func (m *Memory) recipients(mn *memNote) []string {
	if mn.n.Broadcast {
		return nil
	}
	to := make([]string, 0, len(mn.rows))
	for u := range mn.rows {
		to = append(to, u)
	}
	slices.Sort(to)
	return to
}

// CreateUser implements Users.
func (m *Memory) CreateUser(_ context.Context, u User) error {
	if u.Name == "" || u.Created.IsZero() {
		return fmt.Errorf("store: user needs a name and a creation time: %w", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Name]; ok {
		return fmt.Errorf("store: user %q: %w", u.Name, ErrExists)
	}
	u = cloneUser(u)
	u.Created = normTime(u.Created)
	m.users[u.Name] = u
	return nil
}

// User implements Users.
func (m *Memory) User(_ context.Context, name string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	return cloneUser(u), nil
}

// DeleteUser implements Users.
func (m *Memory) DeleteUser(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	delete(m.users, name)
	for _, mn := range m.notes {
		delete(mn.rows, name)
	}
	return nil
}

// SetCredentials implements Users.
func (m *Memory) SetCredentials(_ context.Context, name string, sha1, sha256 Credentials, legacy string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	u.SHA1, u.SHA256, u.Legacy = cloneCreds(sha1), cloneCreds(sha256), legacy
	m.users[name] = u
	return nil
}

// ListUsers implements Users.
func (m *Memory) ListUsers(_ context.Context, p Page) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for name := range m.users {
		if matches(name, p.Query) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	lo, hi := page(len(names), p)
	users := make([]User, 0, hi-lo)
	for _, name := range names[lo:hi] {
		users = append(users, cloneUser(m.users[name]))
	}
	return users, nil
}

// CountUsers implements Users.
func (m *Memory) CountUsers(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users), nil
}

// Enqueue implements Queue.
func (m *Memory) Enqueue(_ context.Context, n *Notification) error {
	to, err := CheckNotification(n)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[n.ID]; ok {
		return fmt.Errorf("store: notification %q: %w", n.ID, ErrExists)
	}
	var unknown []string
	for _, u := range to {
		if _, ok := m.users[u]; !ok {
			unknown = append(unknown, u)
		}
	}
	if unknown != nil {
		return &UnknownRecipientsError{Users: unknown}
	}
	m.seq++
	mn := &memNote{n: *n, rows: make(map[string]*Delivery, len(to))}
	mn.n.Seq = m.seq
	mn.n.To = nil
	mn.n.Created = normTime(n.Created)
	mn.n.Expires = normTime(n.Expires)
	for _, u := range to {
		mn.rows[u] = &Delivery{User: u, State: StateQueued, Updated: mn.n.Created}
	}
	m.notes = append(m.notes, mn)
	m.byID[n.ID] = mn
	n.Seq = m.seq
	return nil
}

// CheckNotification validates n for Enqueue and returns its recipients,
// sorted and without duplicates. Errors wrap ErrInvalid.
func CheckNotification(n *Notification) ([]string, error) {
	switch {
	case n.ID == "":
		return nil, fmt.Errorf("store: notification without an ID: %w", ErrInvalid)
	case n.Created.IsZero():
		return nil, fmt.Errorf("store: notification %q without a creation time: %w", n.ID, ErrInvalid)
	case n.Broadcast && len(n.To) > 0:
		return nil, fmt.Errorf("store: notification %q is a broadcast with recipients: %w", n.ID, ErrInvalid)
	case !n.Broadcast && len(n.To) == 0:
		return nil, fmt.Errorf("store: notification %q has no recipients: %w", n.ID, ErrInvalid)
	}
	to := slices.Clone(n.To)
	slices.Sort(to)
	to = slices.Compact(to)
	if len(to) > 0 && to[0] == "" {
		return nil, fmt.Errorf("store: notification %q has an empty recipient: %w", n.ID, ErrInvalid)
	}
	for _, u := range to {
		if !utf8.ValidString(u) {
			return nil, fmt.Errorf("store: notification %q: recipient %q is not UTF-8: %w", n.ID, u, ErrInvalid)
		}
	}
	return to, nil
}

// Pending implements Queue.
func (m *Memory) Pending(_ context.Context, user string, now time.Time, limit int) ([]Notification, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[user]; !ok {
		return nil, fmt.Errorf("store: user %q: %w", user, ErrNotFound)
	}
	var out []Notification
	for _, mn := range m.notes {
		if limit > 0 && len(out) == limit {
			break
		}
		if !live(&mn.n, now) {
			continue
		}
		if d, ok := m.state(mn, user); ok && d.State == StateQueued {
			out = append(out, mn.n)
		}
	}
	return out, nil
}

// transition applies f to user's delivery of notification id; f returns
// the new state and how much to add to Attempts, or ok=false to leave
// the delivery as it is.
func (m *Memory) transition(id, user string, at time.Time, f func(state string) (next string, attempts int, ok bool)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.transitionLocked(id, user, at, f)
}

func (m *Memory) transitionLocked(id, user string, at time.Time, f func(state string) (next string, attempts int, ok bool)) error {
	mn, ok := m.byID[id]
	if !ok {
		return fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	d, ok := m.state(mn, user)
	if !ok {
		return fmt.Errorf("store: %q is not a recipient of notification %q: %w", user, id, ErrNotFound)
	}
	next, inc, ok := f(d.State)
	if !ok {
		return nil
	}
	d.State, d.Attempts, d.Updated = next, d.Attempts+inc, normTime(at)
	mn.rows[user] = &d
	return nil
}

func markSent(state string) (string, int, bool) {
	return StateSent, 1, state == StateQueued || state == StateSent
}

func ack(state string) (string, int, bool) {
	return StateAcked, 0, state != StateAcked
}

// MarkSent implements Queue.
func (m *Memory) MarkSent(_ context.Context, id, user string, at time.Time) error {
	return m.transition(id, user, at, markSent)
}

// Ack implements Queue.
func (m *Memory) Ack(_ context.Context, id, user string, at time.Time) error {
	return m.transition(id, user, at, ack)
}

// Record implements Queue.
func (m *Memory) Record(_ context.Context, changes []Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range changes {
		f, err := changeFunc(c.State)
		if err != nil {
			return err
		}
		if err := m.transitionLocked(c.ID, c.User, c.At, f); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// changeFunc returns the transition for a Change's state.
func changeFunc(state string) (func(string) (string, int, bool), error) {
	switch state {
	case StateSent:
		return markSent, nil
	case StateAcked:
		return ack, nil
	}
	return nil, fmt.Errorf("store: change to %q: %w", state, ErrInvalid)
}

// Unsent implements Queue.
func (m *Memory) Unsent(_ context.Context, user string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mn := range m.notes {
		if d, ok := mn.rows[user]; ok && d.State == StateSent {
			d.State, d.Updated = StateQueued, normTime(at)
		}
	}
	return nil
}

// UnsentAll implements Queue.
func (m *Memory) UnsentAll(_ context.Context, at time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := 0
	for _, mn := range m.notes {
		for _, d := range mn.rows {
			if d.State == StateSent {
				d.State, d.Updated = StateQueued, normTime(at)
				changed++
			}
		}
	}
	return changed, nil
}

// Expire implements Queue.
func (m *Memory) Expire(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now = normTime(now)
	changed := 0
	for _, mn := range m.notes {
		if !mn.expiredAt.IsZero() || live(&mn.n, now) {
			continue
		}
		for _, d := range mn.rows {
			if d.State == StateQueued || d.State == StateSent {
				d.State, d.Updated = StateExpired, now
				changed++
			}
		}
		if mn.n.Broadcast {
			for name := range m.users {
				if _, ok := mn.rows[name]; !ok && m.eligible(mn, name) {
					changed++
				}
			}
		}
		mn.expiredAt = now
	}
	return changed, nil
}

// Notification implements Queue.
func (m *Memory) Notification(_ context.Context, id string) (Notification, []Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mn, ok := m.byID[id]
	if !ok {
		return Notification{}, nil, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	n := mn.n
	n.To = m.recipients(mn)
	names := n.To
	if n.Broadcast {
		for name := range m.users {
			if m.eligible(mn, name) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
	}
	ds := make([]Delivery, 0, len(names))
	for _, name := range names {
		d, _ := m.state(mn, name)
		ds = append(ds, d)
	}
	return n, ds, nil
}

// History implements Queue.
func (m *Memory) History(_ context.Context, p Page) ([]Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hits []*memNote
	for i := len(m.notes) - 1; i >= 0; i-- {
		if mn := m.notes[i]; m.historyMatch(mn, p.Query) {
			hits = append(hits, mn)
		}
	}
	lo, hi := page(len(hits), p)
	out := make([]Summary, 0, hi-lo)
	for _, mn := range hits[lo:hi] {
		s := Summary{Notification: mn.n, Counts: make(map[string]int, len(States))}
		s.To = m.recipients(mn)
		for _, st := range States {
			s.Counts[st] = 0
		}
		for _, d := range mn.rows {
			s.Counts[d.State]++
		}
		if mn.n.Broadcast {
			untouched := 0
			for name := range m.users {
				if _, ok := mn.rows[name]; !ok && m.eligible(mn, name) {
					untouched++
				}
			}
			if mn.expiredAt.IsZero() {
				s.Counts[StateQueued] += untouched
			} else {
				s.Counts[StateExpired] += untouched
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *Memory) historyMatch(mn *memNote, q string) bool {
	if q == "" || matches(mn.n.Title, q) || matches(mn.n.Message, q) || matches(mn.n.URI, q) {
		return true
	}
	if mn.n.Broadcast {
		return false
	}
	for name := range mn.rows {
		if matches(name, q) {
			return true
		}
	}
	return false
}

// QueueDepth implements Queue.
func (m *Memory) QueueDepth(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	depth := 0
	for _, mn := range m.notes {
		if !live(&mn.n, now) {
			continue
		}
		for _, d := range mn.rows {
			if d.State == StateQueued || d.State == StateSent {
				depth++
			}
		}
		if mn.n.Broadcast && mn.expiredAt.IsZero() {
			for name := range m.users {
				if _, ok := mn.rows[name]; !ok && m.eligible(mn, name) {
					depth++
				}
			}
		}
	}
	return depth, nil
}

// CreateAPIToken implements Tokens.
func (m *Memory) CreateAPIToken(_ context.Context, t Token) error {
	if t.Name == "" || len(t.Hash) == 0 {
		return fmt.Errorf("store: API token needs a name and a hash: %w", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.apiTokens {
		if o.Name == t.Name || bytes.Equal(o.Hash, t.Hash) {
			return fmt.Errorf("store: API token %q: %w", t.Name, ErrExists)
		}
	}
	t = cloneToken(t)
	t.Created, t.Expires, t.Used = normTime(t.Created), normTime(t.Expires), false
	m.apiTokens[t.Name] = t
	return nil
}

// APIToken implements Tokens.
func (m *Memory) APIToken(_ context.Context, hash []byte) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.apiTokens {
		if bytes.Equal(t.Hash, hash) {
			return cloneToken(t), nil
		}
	}
	return Token{}, fmt.Errorf("store: API token: %w", ErrNotFound)
}

// ListAPITokens implements Tokens.
func (m *Memory) ListAPITokens(context.Context) ([]Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Token, 0, len(m.apiTokens))
	for _, t := range m.apiTokens {
		out = append(out, cloneToken(t))
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RevokeAPIToken implements Tokens.
func (m *Memory) RevokeAPIToken(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.apiTokens[name]; !ok {
		return fmt.Errorf("store: API token %q: %w", name, ErrNotFound)
	}
	delete(m.apiTokens, name)
	return nil
}

// CreateInvite implements Tokens.
func (m *Memory) CreateInvite(_ context.Context, t Token) error {
	if len(t.Hash) == 0 {
		return fmt.Errorf("store: invite needs a hash: %w", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.invites {
		if bytes.Equal(o.Hash, t.Hash) {
			return fmt.Errorf("store: invite %q: %w", t.Name, ErrExists)
		}
	}
	t = cloneToken(t)
	t.Created, t.Expires, t.Used = normTime(t.Created), normTime(t.Expires), false
	m.invites = append(m.invites, t)
	return nil
}

// UseInvite implements Tokens.
func (m *Memory) UseInvite(_ context.Context, hash []byte, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.invites {
		t := &m.invites[i]
		if bytes.Equal(t.Hash, hash) && !t.Used && (t.Expires.IsZero() || t.Expires.After(now)) {
			t.Used = true
			return nil
		}
	}
	return fmt.Errorf("store: invite: %w", ErrNotFound)
}

// ListInvites implements Tokens.
func (m *Memory) ListInvites(context.Context) ([]Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Token, 0, len(m.invites))
	for _, t := range m.invites {
		out = append(out, cloneToken(t))
	}
	slices.SortStableFunc(out, func(a, b Token) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return bytes.Compare(a.Hash, b.Hash)
	})
	return out, nil
}

// AdminHash implements Tokens.
func (m *Memory) AdminHash(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.adminHash == nil {
		return nil, fmt.Errorf("store: admin password: %w", ErrNotFound)
	}
	return cloneBytes(m.adminHash), nil
}

// SetAdminHash implements Tokens.
func (m *Memory) SetAdminHash(_ context.Context, hash []byte) error {
	if len(hash) == 0 {
		return fmt.Errorf("store: empty admin password hash: %w", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.adminHash = cloneBytes(hash)
	return nil
}
