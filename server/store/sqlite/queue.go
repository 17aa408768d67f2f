package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xpush/xpush/server/store"
)

const noteColumns = `n.seq, n.id, n.title, n.message, n.uri, n.broadcast, n.sender, n.created, n.expires`

func scanNote(row interface{ Scan(...any) error }, extra ...any) (store.Notification, error) {
	var n store.Notification
	var created, expires int64
	dest := append([]any{&n.Seq, &n.ID, &n.Title, &n.Message, &n.URI, &n.Broadcast, &n.Sender, &created, &expires}, extra...)
	err := row.Scan(dest...)
	n.Created, n.Expires = fromNS(created), fromNS(expires)
	return n, err
}

// Enqueue implements store.Queue. The recipients travel as one JSON
// array (json_each), so a notification to thousands of users is three
// statements in one transaction.
func (db *DB) Enqueue(ctx context.Context, n *store.Notification) error {
	to, err := store.CheckNotification(n)
	if err != nil {
		return err
	}
	var toJSON []byte
	if !n.Broadcast {
		if toJSON, err = json.Marshal(to); err != nil {
			return wrap("enqueue", err)
		}
	}
	var seq int64
	err = db.write(ctx, func(tx *sql.Tx) error {
		if !n.Broadcast {
			unknown, err := queryStrings(ctx, tx, `SELECT j.value FROM json_each(?) AS j
				WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = j.value)
				ORDER BY j.value`, toJSON)
			if err != nil {
				return wrap("enqueue", err)
			}
			if len(unknown) > 0 {
				return &store.UnknownRecipientsError{Users: unknown}
			}
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO notifications
			(id, title, message, uri, broadcast, sender, created, expires, untouched)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
				CASE WHEN ?5 THEN (SELECT COUNT(*) FROM users WHERE created <= ?7) ELSE 0 END)
			RETURNING seq`,
			n.ID, n.Title, n.Message, n.URI, n.Broadcast, n.Sender, ns(n.Created), ns(n.Expires),
		).Scan(&seq)
		if isUnique(err) {
			return fmt.Errorf("sqlite: notification %q: %w", n.ID, store.ErrExists)
		}
		if err != nil {
			return wrap("enqueue", err)
		}
		if !n.Broadcast {
			_, err = tx.ExecContext(ctx, `INSERT INTO deliveries
				(notification_id, username, state, attempts, updated)
				SELECT ?, j.value, 'queued', 0, ? FROM json_each(?) AS j`,
				n.ID, ns(n.Created), toJSON)
		}
		return wrap("enqueue", err)
	})
	if err != nil {
		return err
	}
	n.Seq = seq
	return nil
}

// queryStrings runs a query returning one text column.
func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// userCreated returns the creation time of user, or ErrNotFound.
func userCreated(ctx context.Context, tx *sql.Tx, user string) (int64, error) {
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT created FROM users WHERE name = ?`, user).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite: user %q: %w", user, store.ErrNotFound)
	}
	return created, err
}

// Pending implements store.Queue: the user's queued delivery rows, and
// the live broadcasts sent since the account was created that it has no
// row for yet.
func (db *DB) Pending(ctx context.Context, user string, now time.Time, limit int) ([]store.Notification, error) {
	if limit <= 0 {
		limit = -1
	}
	var out []store.Notification
	err := db.read(ctx, func(tx *sql.Tx) error {
		created, err := userCreated(ctx, tx, user)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+noteColumns+` FROM deliveries AS d
			JOIN notifications AS n ON n.id = d.notification_id
			WHERE d.username = ?1 AND d.state = 'queued' AND (n.expires = 0 OR n.expires > ?2)
			UNION ALL
			SELECT `+noteColumns+` FROM notifications AS n
			WHERE n.broadcast = 1 AND n.expired = 0 AND n.created >= ?3
			AND (n.expires = 0 OR n.expires > ?2)
			AND NOT EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username = ?1)
			ORDER BY 1 LIMIT ?4`,
			user, ns(now), created, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNote(rows)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	return out, wrap("pending", err)
}

// transition applies f to user's delivery of notification id, inserting
// the row of a broadcast recipient on first touch. f returns the new
// state and how much to add to attempts, or ok=false to leave the
// delivery as it is.
func (db *DB) transition(ctx context.Context, id, user string, at time.Time, f func(state string) (next string, attempts int, ok bool)) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		return transitionTx(ctx, tx, id, user, at, f)
	})
}

// Record implements store.Queue: every change in one transaction.
func (db *DB) Record(ctx context.Context, changes []store.Change) error {
	if len(changes) == 0 {
		return nil
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		for _, c := range changes {
			var f func(string) (string, int, bool)
			switch c.State {
			case store.StateSent:
				f = markSent
			case store.StateAcked:
				f = ack
			default:
				return fmt.Errorf("sqlite: change to %q: %w", c.State, store.ErrInvalid)
			}
			if err := transitionTx(ctx, tx, c.ID, c.User, c.At, f); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

func transitionTx(ctx context.Context, tx *sql.Tx, id, user string, at time.Time, f func(state string) (next string, attempts int, ok bool)) error {
	var broadcast bool
	var created, expired int64
	err := tx.QueryRowContext(ctx,
		`SELECT broadcast, created, expired FROM notifications WHERE id = ?`, id,
	).Scan(&broadcast, &created, &expired)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: notification %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return wrap("update delivery", err)
	}
	notRecipient := fmt.Errorf("sqlite: %q is not a recipient of notification %q: %w", user, id, store.ErrNotFound)
	var state string
	err = tx.QueryRowContext(ctx,
		`SELECT state FROM deliveries WHERE notification_id = ? AND username = ?`, id, user,
	).Scan(&state)
	row := err == nil
	switch {
	case errors.Is(err, sql.ErrNoRows) && broadcast:
		uc, err := userCreated(ctx, tx, user)
		if errors.Is(err, store.ErrNotFound) || err == nil && uc > created {
			return notRecipient
		}
		if err != nil {
			return wrap("update delivery", err)
		}
		state = store.StateQueued
		if expired != 0 {
			state = store.StateExpired
		}
	case errors.Is(err, sql.ErrNoRows):
		return notRecipient
	case err != nil:
		return wrap("update delivery", err)
	}
	next, inc, ok := f(state)
	if !ok {
		return nil
	}
	if row {
		_, err = tx.ExecContext(ctx, `UPDATE deliveries
			SET state = ?, attempts = attempts + ?, updated = ?
			WHERE notification_id = ? AND username = ?`,
			next, inc, ns(at), id, user)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO deliveries
			(notification_id, username, state, attempts, updated)
			VALUES (?, ?, ?, ?, ?)`,
			id, user, next, inc, ns(at))
		if err == nil {
			_, err = tx.ExecContext(ctx,
				`UPDATE notifications SET untouched = untouched - 1 WHERE id = ?`, id)
		}
	}
	return wrap("update delivery", err)
}

func markSent(state string) (string, int, bool) {
	return store.StateSent, 1, state == store.StateQueued || state == store.StateSent
}

func ack(state string) (string, int, bool) {
	return store.StateAcked, 0, state != store.StateAcked
}

// MarkSent implements store.Queue.
func (db *DB) MarkSent(ctx context.Context, id, user string, at time.Time) error {
	return db.transition(ctx, id, user, at, markSent)
}

// Ack implements store.Queue.
func (db *DB) Ack(ctx context.Context, id, user string, at time.Time) error {
	return db.transition(ctx, id, user, at, ack)
}

// Unsent implements store.Queue.
func (db *DB) Unsent(ctx context.Context, user string, at time.Time) error {
	_, err := db.w.ExecContext(ctx, `UPDATE deliveries SET state = 'queued', updated = ?
		WHERE username = ? AND state = 'sent'`, ns(at), user)
	return wrap("unsent", err)
}

// UnsentAll implements store.Queue.
func (db *DB) UnsentAll(ctx context.Context, at time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `UPDATE deliveries SET state = 'queued', updated = ?
		WHERE state = 'sent'`, ns(at))
	if err != nil {
		return 0, wrap("unsent all", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("unsent all", err)
}

// Expire implements store.Queue. It expires the queued and sent rows of
// the notifications that reached their TTL, adds the broadcast
// recipients that have no row (untouched), and records on each
// notification that it has expired, which is what makes those untouched
// recipients expired.
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	t := ns(now)
	var changed int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		const due = `n.expired = 0 AND n.expires != 0 AND n.expires <= ?1`
		var untouched int64
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(n.untouched), 0)
			FROM notifications AS n WHERE n.broadcast = 1 AND `+due, t).Scan(&untouched)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'expired', updated = ?1
			WHERE state IN ('queued', 'sent') AND notification_id IN
				(SELECT n.id FROM notifications AS n WHERE `+due+`)`, t)
		if err != nil {
			return err
		}
		rows, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notifications AS n SET expired = ?1 WHERE `+due, t); err != nil {
			return err
		}
		changed = rows + untouched
		return nil
	})
	return int(changed), wrap("expire", err)
}

// Notification implements store.Queue.
func (db *DB) Notification(ctx context.Context, id string) (store.Notification, []store.Delivery, error) {
	var n store.Notification
	var ds []store.Delivery
	err := db.read(ctx, func(tx *sql.Tx) error {
		var expired int64
		var err error
		n, err = scanNote(tx.QueryRowContext(ctx,
			`SELECT `+noteColumns+`, n.expired FROM notifications AS n WHERE n.id = ?`, id), &expired)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: notification %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return wrap("notification", err)
		}
		var rows *sql.Rows
		if n.Broadcast {
			untouched, since := store.StateQueued, ns(n.Created)
			if expired != 0 {
				untouched, since = store.StateExpired, expired
			}
			rows, err = tx.QueryContext(ctx, `SELECT u.name,
				COALESCE(d.state, ?2), COALESCE(d.attempts, 0), COALESCE(d.updated, ?3)
				FROM users AS u LEFT JOIN deliveries AS d
				ON d.notification_id = ?1 AND d.username = u.name
				WHERE u.created <= ?4 ORDER BY u.name`,
				id, untouched, since, ns(n.Created))
		} else {
			rows, err = tx.QueryContext(ctx, `SELECT username, state, attempts, updated
				FROM deliveries WHERE notification_id = ? ORDER BY username`, id)
		}
		if err != nil {
			return wrap("notification", err)
		}
		defer rows.Close()
		ds = []store.Delivery{}
		for rows.Next() {
			var d store.Delivery
			var updated int64
			if err := rows.Scan(&d.User, &d.State, &d.Attempts, &updated); err != nil {
				return wrap("notification", err)
			}
			d.Updated = fromNS(updated)
			ds = append(ds, d)
			if !n.Broadcast {
				n.To = append(n.To, d.User)
			}
		}
		return wrap("notification", rows.Err())
	})
	if err != nil {
		return store.Notification{}, nil, err
	}
	return n, ds, nil
}

// History implements store.Queue.
func (db *DB) History(ctx context.Context, p store.Page) ([]store.Summary, error) {
	lim, off := limit(p)
	out := []store.Summary{}
	err := db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+noteColumns+`, n.expired, n.untouched FROM notifications AS n
			WHERE ?1 = ''
			OR n.title LIKE ?2 ESCAPE '\' OR n.message LIKE ?2 ESCAPE '\' OR n.uri LIKE ?2 ESCAPE '\'
			OR (n.broadcast = 0 AND EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username LIKE ?2 ESCAPE '\'))
			ORDER BY n.seq DESC LIMIT ?3 OFFSET ?4`,
			p.Query, like(p.Query), lim, off)
		if err != nil {
			return err
		}
		type extra struct{ expired, untouched int64 }
		var extras []extra
		for rows.Next() {
			var e extra
			n, err := scanNote(rows, &e.expired, &e.untouched)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, store.Summary{Notification: n})
			extras = append(extras, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, e := range extras {
			if err := summarize(ctx, tx, &out[i], e.expired != 0, int(e.untouched)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("history", err)
	}
	return out, nil
}

// summarize fills in s's recipients and delivery counts.
func summarize(ctx context.Context, tx *sql.Tx, s *store.Summary, expired bool, untouched int) error {
	s.Counts = make(map[string]int, len(store.States))
	for _, st := range store.States {
		s.Counts[st] = 0
	}
	rows, err := tx.QueryContext(ctx, `SELECT state, COUNT(*) FROM deliveries
		WHERE notification_id = ? GROUP BY state`, s.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var st string
		var c int
		if err := rows.Scan(&st, &c); err != nil {
			rows.Close()
			return err
		}
		s.Counts[st] += c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if !s.Broadcast {
		s.To, err = queryStrings(ctx, tx, `SELECT username FROM deliveries
			WHERE notification_id = ? ORDER BY username`, s.ID)
		return err
	}
	if expired {
		s.Counts[store.StateExpired] += untouched
	} else {
		s.Counts[store.StateQueued] += untouched
	}
	return nil
}

// QueueDepth implements store.Queue: live queued and sent rows, plus the
// untouched recipients of live broadcasts.
func (db *DB) QueueDepth(ctx context.Context, now time.Time) (int, error) {
	var depth int
	err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM deliveries AS d JOIN notifications AS n ON n.id = d.notification_id
			WHERE d.state IN ('queued', 'sent') AND (n.expires = 0 OR n.expires > ?1))
		+
		(SELECT COALESCE(SUM(n.untouched), 0) FROM notifications AS n
			WHERE n.broadcast = 1 AND n.expired = 0 AND (n.expires = 0 OR n.expires > ?1))`,
		ns(now)).Scan(&depth)
	return depth, wrap("queue depth", err)
}
