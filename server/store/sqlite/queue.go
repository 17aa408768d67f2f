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
	err = db.writeTx(ctx, func(tx *wtx) error {
		if !n.Broadcast {
			unknown, err := stmtStrings(ctx, tx.stmt(db.st.unknownRecipients), toJSON)
			if err != nil {
				return wrap("enqueue", err)
			}
			if len(unknown) > 0 {
				return &store.UnknownRecipientsError{Users: unknown}
			}
		}
		err := tx.stmt(db.st.insertNote).QueryRowContext(ctx,
			n.ID, n.Title, n.Message, n.URI, n.Broadcast, n.Sender, ns(n.Created), ns(n.Expires),
		).Scan(&seq)
		if isUnique(err) {
			return fmt.Errorf("sqlite: notification %q: %w", n.ID, store.ErrExists)
		}
		if err != nil {
			return wrap("enqueue", err)
		}
		if !n.Broadcast {
			_, err = tx.stmt(db.st.insertRecipients).ExecContext(ctx, n.ID, ns(n.Created), toJSON)
		}
		return wrap("enqueue", err)
	})
	if err != nil {
		return err
	}
	n.Seq = seq
	return nil
}

// stmtStrings runs a prepared query returning one text column.
func stmtStrings(ctx context.Context, st *sql.Stmt, args ...any) ([]string, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// queryStrings runs a query returning one text column.
func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// scanStrings reads rows of one text column and closes them.
func scanStrings(rows *sql.Rows) ([]string, error) {
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

// userCreated returns the creation time of user, or ErrNotFound; q is
// userCreatedQuery, prepared.
func userCreated(ctx context.Context, q *sql.Stmt, user string) (int64, error) {
	var created int64
	err := q.QueryRowContext(ctx, user).Scan(&created)
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
		created, err := userCreated(ctx, tx.StmtContext(ctx, db.st.readUserCreated), user)
		if err != nil {
			return err
		}
		rows, err := tx.StmtContext(ctx, db.st.pending).QueryContext(ctx, user, ns(now), created, limit)
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

// transition applies f to user's delivery of notification id (see
// changer.change) in a transaction of its own.
func (db *DB) transition(ctx context.Context, id, user string, at time.Time, f func(state string) (next string, attempts int, ok bool)) error {
	return db.writeTx(ctx, func(t *wtx) error {
		c := db.changer(t)
		if err := c.change(id, user, at, f); err != nil {
			return err
		}
		return c.finish()
	})
}

// Record implements store.Queue: every change in one transaction, as
// three set-based statements whatever the number of changes (the
// changes travel as one JSON array): one UPDATE for the recipients that
// have a row, one INSERT for the broadcast recipients touched for the
// first time, and one UPDATE of those broadcasts' untouched counters.
// A statement per change was most of the cost of a broadcast.
//
// Record is the delivery path's bookkeeping, so it commits without
// waiting for the disk (synchronous=NORMAL for its transaction): its
// changes survive a crash of xpushd, and the next Enqueue's fsync makes
// them durable, but a power cut can lose the last few. A lost ack means
// one redelivery, which the client drops as a duplicate; a lost "sent"
// is put back to queued at start anyway (UnsentAll).
func (db *DB) Record(ctx context.Context, changes []store.Change) error {
	if len(changes) == 0 {
		return nil
	}
	batch, err := collapse(changes)
	if err != nil {
		return err
	}
	return db.writeTxNoSync(ctx, func(t *wtx) error {
		if _, err := t.stmt(db.st.recordUpdate).ExecContext(ctx, batch); err != nil {
			return wrap("record", err)
		}
		rows, err := t.stmt(db.st.recordInsert).QueryContext(ctx, batch)
		if err != nil {
			return wrap("record", err)
		}
		touched := make(map[string]int64)
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return wrap("record", err)
			}
			touched[id]++
		}
		if err := rows.Close(); err != nil {
			return wrap("record", err)
		}
		if err := rows.Err(); err != nil {
			return wrap("record", err)
		}
		for id, n := range touched {
			if _, err := t.stmt(db.st.touched).ExecContext(ctx, n, id); err != nil {
				return wrap("record", err)
			}
		}
		return nil
	})
}

// collapse folds changes into one entry per (notification, recipient),
// in a JSON array for recordUpdate and recordInsert: [id, user, sents,
// sentAt, ackAt]. Ack is final, so a delivery's changes in one batch
// amount to the sends before its first ack (counted as attempts; sentAt
// is the last one's time) and that ack's time (0: none). Applying the
// entry is the same as applying the changes one by one.
func collapse(changes []store.Change) ([]byte, error) {
	type key struct{ id, user string }
	type entry struct {
		key
		sents         int
		sentAt, ackAt int64
	}
	index := make(map[key]int, len(changes))
	entries := make([]entry, 0, len(changes))
	for _, ch := range changes {
		if ch.State != store.StateSent && ch.State != store.StateAcked {
			return nil, fmt.Errorf("sqlite: change to %q: %w", ch.State, store.ErrInvalid)
		}
		k := key{ch.ID, ch.User}
		i, ok := index[k]
		if !ok {
			i = len(entries)
			index[k] = i
			entries = append(entries, entry{key: k})
		}
		e := &entries[i]
		switch {
		case e.ackAt != 0:
			// Acked in this batch already: nothing changes it.
		case ch.State == store.StateAcked:
			e.ackAt = ns(ch.At)
		default:
			e.sents++
			e.sentAt = ns(ch.At)
		}
	}
	out := make([]any, len(entries))
	for i, e := range entries {
		out[i] = []any{e.id, e.user, e.sents, e.sentAt, e.ackAt}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, wrap("record", err)
	}
	return b, nil
}

// changer applies delivery changes in a write transaction. A
// notification's broadcast, created and expired columns do not change
// in the transaction, so it reads them once per notification, however
// many changes there are for it. It counts the broadcast recipients it
// gives a row, and takes them from the notification's untouched counter
// once, in finish.
type changer struct {
	t     *wtx
	st    *stmts
	notes map[string]*noteRow
}

// noteRow is what changer keeps of a notification.
type noteRow struct {
	err              error // ErrNotFound when there is no such notification
	broadcast        bool
	created, expired int64
	touched          int64 // recipients given a row, not yet taken from untouched
}

func (db *DB) changer(t *wtx) *changer {
	return &changer{t: t, st: &db.st, notes: make(map[string]*noteRow)}
}

// note returns the notification's row, read once per transaction.
func (c *changer) note(id string) (*noteRow, error) {
	if n, ok := c.notes[id]; ok {
		return n, n.err
	}
	n := new(noteRow)
	err := c.t.stmt(c.st.note).QueryRowContext(c.t.ctx, id).Scan(&n.broadcast, &n.created, &n.expired)
	if errors.Is(err, sql.ErrNoRows) {
		n.err = fmt.Errorf("sqlite: notification %q: %w", id, store.ErrNotFound)
	} else if err != nil {
		return nil, wrap("update delivery", err) // not kept: the transaction fails
	}
	c.notes[id] = n
	return n, n.err
}

// change applies f to user's delivery of notification id, inserting the
// row of a broadcast recipient on first touch. f returns the new state
// and how much to add to attempts, or ok=false to leave the delivery as
// it is. The changes are not complete until finish.
func (c *changer) change(id, user string, at time.Time, f func(state string) (next string, attempts int, ok bool)) error {
	ctx, t := c.t.ctx, c.t
	n, err := c.note(id)
	if err != nil {
		return err
	}
	var stored sql.NullString // NULL: no row yet
	var uc sql.NullInt64      // for a broadcast without a row; NULL: no such user
	err = t.stmt(c.st.recipient).QueryRowContext(ctx, id, user, n.broadcast).Scan(&stored, &uc)
	if err != nil {
		return wrap("update delivery", err)
	}
	state := stored.String
	if !stored.Valid {
		if !n.broadcast || !uc.Valid || uc.Int64 > n.created {
			return fmt.Errorf("sqlite: %q is not a recipient of notification %q: %w", user, id, store.ErrNotFound)
		}
		state = store.StateQueued
		if n.expired != 0 {
			state = store.StateExpired
		}
	}
	next, inc, ok := f(state)
	if !ok {
		return nil
	}
	if stored.Valid {
		_, err = t.stmt(c.st.updateDelivery).ExecContext(ctx, next, inc, ns(at), id, user)
		return wrap("update delivery", err)
	}
	_, err = t.stmt(c.st.insertDelivery).ExecContext(ctx, id, user, next, inc, ns(at))
	if err != nil {
		return wrap("update delivery", err)
	}
	n.touched++
	return nil
}

// finish takes the recipients that change gave a row from their
// broadcasts' untouched counters.
func (c *changer) finish() error {
	for id, n := range c.notes {
		if n.touched == 0 {
			continue
		}
		if _, err := c.t.stmt(c.st.touched).ExecContext(c.t.ctx, n.touched, id); err != nil {
			return wrap("update delivery", err)
		}
		n.touched = 0
	}
	return nil
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
	_, err := db.st.unsent.ExecContext(ctx, ns(at), user)
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
		n, err = scanNote(tx.StmtContext(ctx, db.st.noteState).QueryRowContext(ctx, id), &expired)
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
			rows, err = tx.StmtContext(ctx, db.st.broadcastStates).QueryContext(ctx,
				id, untouched, since, ns(n.Created))
		} else {
			rows, err = tx.StmtContext(ctx, db.st.directedStates).QueryContext(ctx, id)
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
