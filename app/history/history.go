package history

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/xpush/xpush/xmpp/notification"
)

// Entry is one notification in the history.
type Entry struct {
	// Key identifies the notification across redeliveries: its
	// notification.DedupeKey(), or a random key (NewKey) for one without.
	Key       string
	ID        string
	Title     string
	Message   string
	URI       string
	URIUnsafe bool // show URI, don't open it
	From      string
	Kind      string    // notification.KindIQ or notification.KindMessage
	Received  time.Time // read back in the local time zone
	Read      bool
}

// randomPrefix starts the keys of notifications that carry no key.
const randomPrefix = "random:"

// NewKey returns a fresh random key, for a notification that carries no
// id of its own: stored once, it is never a duplicate.
func NewKey() string {
	return randomPrefix + rand.Text()
}

// FromNotification returns the entry for n, unread, with n's dedupe key or,
// when n has none, a random one.
func FromNotification(n *notification.Notification) Entry {
	key := n.DedupeKey()
	if key == "" {
		key = NewKey()
	}
	return Entry{
		Key:       key,
		ID:        n.ID,
		Title:     n.Title,
		Message:   n.Message,
		URI:       n.URI,
		URIUnsafe: n.URIUnsafe,
		From:      n.From,
		Kind:      n.Kind,
		Received:  n.Received,
	}
}

// Query selects entries for List.
type Query struct {
	// Search keeps the entries whose title, message, uri or sender
	// contain every whitespace-separated word of it, ignoring case.
	Search     string
	UnreadOnly bool
	// Limit is the most entries returned, all when 0; Offset skips that
	// many first.
	Limit, Offset int
}

// maxTerms bounds the words of a search.
const maxTerms = 16

const columns = `dedupe_key, id, title, message, uri, uri_unsafe, sender, kind, received, is_read`

// Add stores e unless its key is already in the history or was deleted
// from it, and reports whether it did. When Add returns, e is on disk: a
// caller shows the notification only after Add reported added, so a
// notification that was shown is in the history even if the process is
// killed right after, and one redelivered after a restart is not shown
// twice.
//
// An empty Key gets a random one (the caller that needs the key sets it
// itself, see FromNotification); a zero Received is now. An entry that
// retention would drop at once (received longer ago than MaxAge, or older
// than MaxEntries newer ones) is not stored, and added is false. Add
// prunes entries past retention in the same transaction.
func (s *Store) Add(ctx context.Context, e Entry) (added bool, err error) {
	now := s.now()
	if e.Key == "" {
		e.Key = NewKey()
	}
	if e.Received.IsZero() {
		e.Received = now
	}
	if s.maxAge > 0 && e.Received.Before(now.Add(-s.maxAge)) {
		return false, nil
	}
	err = s.write(ctx, "add "+e.Key, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tombstones WHERE dedupe_key = ?`, e.Key).Scan(&one)
		switch {
		case err == nil:
			return nil // deleted by the user: a duplicate
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO entries (`+columns+`, search)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (dedupe_key) DO NOTHING`,
			e.Key, e.ID, e.Title, e.Message, e.URI, e.URIUnsafe, e.From, e.Kind,
			e.Received.UnixNano(), e.Read, searchText(&e))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		if err := s.prune(ctx, tx, now); err != nil {
			return err
		}
		// Retention by count drops the oldest entries, which is e itself
		// when the history is full of newer ones.
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM entries WHERE dedupe_key = ?`, e.Key).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		added = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	return added, nil
}

// prune deletes entries past retention, and tombstones older than
// MaxAge. It reads the count the triggers keep and uses the received
// index, so it costs next to nothing when there is nothing to prune.
func (s *Store) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if s.maxAge > 0 {
		cutoff := now.Add(-s.maxAge).UnixNano()
		if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE received < ?`, cutoff); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE deleted < ?`, cutoff); err != nil {
			return err
		}
	}
	if s.maxEntries > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT entries FROM meta`).Scan(&n); err != nil {
			return err
		}
		if n > s.maxEntries {
			if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE seq IN (
				SELECT seq FROM entries ORDER BY received, seq LIMIT ?)`, n-s.maxEntries); err != nil {
				return err
			}
		}
	}
	return nil
}

// pruneTombstones keeps the newest MaxEntries tombstones. It scans them,
// so it runs only where they grow: Delete and Clear.
func (s *Store) pruneTombstones(ctx context.Context, tx *sql.Tx) error {
	if s.maxEntries <= 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE dedupe_key IN (
		SELECT dedupe_key FROM tombstones ORDER BY deleted DESC LIMIT -1 OFFSET ?)`, s.maxEntries)
	return err
}

// searchText is what Search looks in: the searched fields, lower-cased,
// one per line (a search word never holds a newline, so no match spans
// two fields).
func searchText(e *Entry) string {
	return strings.ToLower(strings.Join([]string{e.Title, e.Message, e.URI, e.From}, "\n"))
}

// like returns a LIKE pattern (with ESCAPE '\') matching s as a substring.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func like(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}

// List returns the entries q selects, newest first.
func (s *Store) List(ctx context.Context, q Query) ([]Entry, error) {
	var where []string
	var args []any
	terms := strings.Fields(strings.ToLower(q.Search))
	if len(terms) > maxTerms {
		terms = terms[:maxTerms]
	}
	for _, t := range terms {
		where = append(where, `search LIKE ? ESCAPE '\'`)
		args = append(args, like(t))
	}
	if q.UnreadOnly {
		where = append(where, `is_read = 0`)
	}
	query := `SELECT ` + columns + ` FROM entries`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY received DESC, seq DESC LIMIT ? OFFSET ?`
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	args = append(args, limit, max(q.Offset, 0))

	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	var es []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, s.wrap("list", err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	return es, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanEntry(r scanner) (Entry, error) {
	var e Entry
	var received int64
	err := r.Scan(&e.Key, &e.ID, &e.Title, &e.Message, &e.URI, &e.URIUnsafe,
		&e.From, &e.Kind, &received, &e.Read)
	e.Received = time.Unix(0, received)
	return e, err
}

// Get returns the entry with key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	e, err := scanEntry(s.r.QueryRowContext(ctx,
		`SELECT `+columns+` FROM entries WHERE dedupe_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, s.wrap("get "+key, err)
	}
	return e, nil
}

// SetRead marks the entry with key read or unread; ErrNotFound if there
// is none.
func (s *Store) SetRead(ctx context.Context, key string, read bool) error {
	return s.write(ctx, "set read "+key, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE entries SET is_read = ? WHERE dedupe_key = ? AND is_read != ?`, read, key, read)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM entries WHERE dedupe_key = ?`, key).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
}

// MarkAllRead marks every entry read.
func (s *Store) MarkAllRead(ctx context.Context) error {
	return s.write(ctx, "mark all read", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE entries SET is_read = 1 WHERE is_read = 0`)
		return err
	})
}

// Delete removes the entry with key, if there is one. Its key stays
// known, so a redelivery of the notification is still a duplicate.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.write(ctx, "delete "+key, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE dedupe_key = ?`, key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (dedupe_key, deleted) VALUES (?, ?)
			ON CONFLICT (dedupe_key) DO UPDATE SET deleted = excluded.deleted`,
			key, s.now().UnixNano()); err != nil {
			return err
		}
		return s.pruneTombstones(ctx, tx)
	})
}

// Clear removes every entry. Their keys stay known, as with Delete.
func (s *Store) Clear(ctx context.Context) error {
	return s.write(ctx, "clear", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (dedupe_key, deleted)
			SELECT dedupe_key, ? FROM entries WHERE true
			ON CONFLICT (dedupe_key) DO UPDATE SET deleted = excluded.deleted`,
			s.now().UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entries`); err != nil {
			return err
		}
		return s.pruneTombstones(ctx, tx)
	})
}

// Unread returns the number of unread entries. It reads a counter, so it
// is cheap at any size.
func (s *Store) Unread(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT unread FROM meta`).Scan(&n); err != nil {
		return 0, s.wrap("unread", err)
	}
	return n, nil
}

// Version returns a number that changes whenever the entries change
// (added, pruned, marked, deleted), in this process or another. It reads
// one row, so a window may poll it every second while it is shown and
// reload its list only when the number differs from the last one.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT version FROM meta`).Scan(&v); err != nil {
		return 0, s.wrap("version", err)
	}
	return v, nil
}
