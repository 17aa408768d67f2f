package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xpush/xpush/server/store"
)

const noteColumns = `n.seq, n.id, n.title, n.message, n.uri, n.broadcast, n.sender, n.created, n.expires`

func scanNote(row pgx.Row, extra ...any) (store.Notification, error) {
	var n store.Notification
	var created, expires int64
	dest := append([]any{&n.Seq, &n.ID, &n.Title, &n.Message, &n.URI, &n.Broadcast, &n.Sender, &created, &expires}, extra...)
	err := row.Scan(dest...)
	n.Created, n.Expires = fromNS(created), fromNS(expires)
	return n, err
}

// enqueueQuery stores notification $1..$8 with a queued delivery for
// each of the recipients $9 (none for a broadcast, whose untouched
// counter it sets to the accounts created no later than it), unless some
// of them have no account: then it stores nothing, and returns them. It
// returns the notification's Seq, or the unknown recipients, in rows of
// (seq, unknown) with one of the two NULL.
const enqueueQuery = `
	WITH unknown AS (
		SELECT r FROM unnest($9::text[]) AS r
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = r)
	), n AS (
		INSERT INTO notifications (id, title, message, uri, broadcast, sender, created, expires, untouched)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8,
			CASE WHEN $5 THEN (SELECT count(*) FROM users WHERE created <= $7) ELSE 0 END
		WHERE NOT EXISTS (SELECT 1 FROM unknown)
		RETURNING seq, id, created
	), d AS (
		INSERT INTO deliveries (notification_id, username, state, attempts, updated)
		SELECT n.id, r, 'queued', 0, n.created FROM n, unnest($9::text[]) AS r
	)
	SELECT seq, NULL::text FROM n
	UNION ALL
	SELECT NULL, r FROM unknown`

// Enqueue implements store.Queue: one statement whatever the number of
// recipients (they travel as one array), after the store's lock taken
// shared (a broadcast counts the accounts, so none comes or goes
// meanwhile), both in one round trip: a batch is one implicit
// transaction, committed (and on disk) when it returns.
func (db *DB) Enqueue(ctx context.Context, n *store.Notification) error {
	to, err := store.CheckNotification(n)
	if err != nil {
		return err
	}
	if to == nil {
		to = []string{}
	}
	var seq int64
	var unknown []string
	err = retry(ctx, "enqueue", func() error {
		seq, unknown = 0, unknown[:0]
		var b pgx.Batch
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1, $2)`, lockSpace, db.schemaKey)
		b.Queue(enqueueQuery, n.ID, n.Title, n.Message, n.URI, n.Broadcast, n.Sender, ns(n.Created), ns(n.Expires), to).
			Query(func(rows pgx.Rows) error {
				var s *int64
				var u *string
				_, err := pgx.ForEachRow(rows, []any{&s, &u}, func() error {
					if s != nil {
						seq = *s
					} else {
						unknown = append(unknown, *u)
					}
					return nil
				})
				return err
			})
		err := db.pool.SendBatch(ctx, &b).Close()
		if isUnique(err) {
			return fmt.Errorf("postgres: notification %q: %w", n.ID, store.ErrExists)
		}
		return err
	})
	switch {
	case err != nil:
		return err
	case len(unknown) > 0:
		slices.Sort(unknown)
		return &store.UnknownRecipientsError{Users: unknown}
	case seq == 0:
		return fmt.Errorf("postgres: enqueue %q: no sequence number", n.ID)
	}
	n.Seq = seq
	return nil
}

// pendingQuery returns user $1's queued delivery rows, and the live
// broadcasts sent since the account was created that it has no row for
// yet, at time $2, by Seq, at most $3 (NULL: all).
const pendingQuery = `
	SELECT ` + noteColumns + ` FROM deliveries AS d
	JOIN notifications AS n ON n.id = d.notification_id
	WHERE d.username = $1 AND d.state = 'queued' AND (n.expires = 0 OR n.expires > $2)
	UNION ALL
	SELECT ` + noteColumns + ` FROM notifications AS n
	WHERE n.broadcast AND n.expired = 0
	AND n.created >= (SELECT created FROM users WHERE name = $1)
	AND (n.expires = 0 OR n.expires > $2)
	AND NOT EXISTS (SELECT 1 FROM deliveries AS d
		WHERE d.notification_id = n.id AND d.username = $1)
	ORDER BY 1 LIMIT $3`

// Pending implements store.Queue. It is the login path: the account's
// existence and its pending notifications are two queries in one round
// trip.
func (db *DB) Pending(ctx context.Context, user string, now time.Time, limit int) ([]store.Notification, error) {
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	var b pgx.Batch
	var exists bool
	b.Queue(`SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, user).QueryRow(func(row pgx.Row) error {
		return row.Scan(&exists)
	})
	var out []store.Notification
	b.Queue(pendingQuery, user, ns(now), lim).Query(func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Notification, error) { return scanNote(r) })
		return err
	})
	if err := db.pool.SendBatch(ctx, &b).Close(); err != nil {
		return nil, wrap("pending", err)
	}
	if !exists {
		return nil, fmt.Errorf("postgres: user %q: %w", user, store.ErrNotFound)
	}
	return out, nil
}

// userCreated returns the creation time of user, or ErrNotFound.
func userCreated(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, user string,
) (int64, error) {
	var created int64
	err := q.QueryRow(ctx, `SELECT created FROM users WHERE name = $1`, user).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: user %q: %w", user, store.ErrNotFound)
	}
	return created, err
}

// batch is Record's changes folded by collapse: one entry per
// (notification, recipient), as the columns that recordQuery unnests,
// sorted by notification and recipient.
type batch struct {
	ids, users    []string
	sents         []int32
	sentAt, ackAt []int64
}

// collapse folds changes into one entry per (notification, recipient).
// Ack is final, so a delivery's changes in one batch amount to the sends
// before its first ack (counted as attempts; sentAt is the last one's
// time) and that ack's time (0: none). Applying the entry is the same as
// applying the changes one by one. The entries are sorted, so that
// concurrent batches lock the rows they share in the same order.
func collapse(changes []store.Change) (*batch, error) {
	type key struct{ id, user string }
	type entry struct {
		sents         int32
		sentAt, ackAt int64
	}
	entries := make(map[key]*entry, len(changes))
	for _, ch := range changes {
		if ch.State != store.StateSent && ch.State != store.StateAcked {
			return nil, fmt.Errorf("postgres: change to %q: %w", ch.State, store.ErrInvalid)
		}
		k := key{ch.ID, ch.User}
		e, ok := entries[k]
		if !ok {
			e = new(entry)
			entries[k] = e
		}
		switch {
		case e.ackAt != 0:
			// Acked in this batch already: nothing changes it.
		case ch.State == store.StateAcked:
			e.ackAt = max(ns(ch.At), 1) // 0 means no ack
		default:
			e.sents++
			e.sentAt = ns(ch.At)
		}
	}
	keys := slices.SortedFunc(maps.Keys(entries), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.user, b.user))
	})
	b := &batch{
		ids: make([]string, len(keys)), users: make([]string, len(keys)),
		sents: make([]int32, len(keys)), sentAt: make([]int64, len(keys)), ackAt: make([]int64, len(keys)),
	}
	for i, k := range keys {
		e := entries[k]
		b.ids[i], b.users[i], b.sents[i], b.sentAt[i], b.ackAt[i] = k.id, k.user, e.sents, e.sentAt, e.ackAt
	}
	return b, nil
}

// recordQuery applies a batch ($1..$5, see batch) in one statement, an
// upsert in the batch's order:
//
//   - A recipient that has a row: an ack makes any state but acked
//     acked; sends make queued or sent sent, and count as attempts unless
//     the delivery was acked or expired already (the ON CONFLICT branch).
//   - A broadcast recipient touched for the first time (an account
//     created no later than the broadcast, with no row) gets one. Untouched
//     recipients of an expired broadcast are expired: an ack makes them
//     acked, a send changes nothing.
//   - A change for a directed notification without a row for that user,
//     for an unknown notification or user, is skipped.
//
// Going through ON CONFLICT for the rows that exist, rather than an
// UPDATE and then an INSERT of the missing ones, matters under
// concurrency: a row another transaction inserts meanwhile is updated
// once its insert commits, never skipped because neither statement saw
// it. It returns the notification of each row it inserted (xmax = 0),
// for the untouched counters.
const recordQuery = `
	WITH c AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])
			AS c(id, usr, sents, sent_at, ack_at)
	)
	INSERT INTO deliveries AS d (notification_id, username, state, attempts, updated)
	SELECT c.id, c.usr,
		CASE WHEN c.ack_at != 0 THEN 'acked' ELSE 'sent' END,
		CASE WHEN n.expired = 0 THEN c.sents ELSE 0 END,
		CASE WHEN c.ack_at != 0 THEN c.ack_at ELSE c.sent_at END
	FROM c JOIN notifications AS n ON n.id = c.id
	WHERE CASE WHEN n.broadcast
		THEN (c.ack_at != 0 OR n.expired = 0)
			AND EXISTS (SELECT 1 FROM users AS u WHERE u.name = c.usr AND u.created <= n.created)
		ELSE EXISTS (SELECT 1 FROM deliveries AS e WHERE e.notification_id = c.id AND e.username = c.usr)
	END
	ORDER BY c.id, c.usr
	ON CONFLICT (notification_id, username) DO UPDATE SET
		state = excluded.state,
		attempts = d.attempts + CASE WHEN d.state IN ('queued', 'sent') THEN excluded.attempts ELSE 0 END,
		updated = excluded.updated
	WHERE d.state != 'acked' AND (excluded.state = 'acked' OR d.state IN ('queued', 'sent'))
	RETURNING d.notification_id, d.xmax = 0`

// record applies b in tx and takes the rows it gave broadcast recipients
// from their untouched counters. It returns how many deliveries changed.
func record(ctx context.Context, tx pgx.Tx, b *batch) (int, error) {
	rows, err := tx.Query(ctx, recordQuery, b.ids, b.users, b.sents, b.sentAt, b.ackAt)
	if err != nil {
		return 0, err
	}
	touched := make(map[string]int64)
	changed := 0
	var id string
	var inserted bool
	_, err = pgx.ForEachRow(rows, []any{&id, &inserted}, func() error {
		changed++
		if inserted {
			touched[id]++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return changed, untouch(ctx, tx, touched)
}

// untouch takes the recipients that now have a row from their
// broadcasts' untouched counters, in one update. The notifications are
// locked in ID order first, in the same round trip: the update alone
// locks them in whatever order its plan visits them, and two
// transactions updating the same broadcasts could deadlock.
func untouch(ctx context.Context, tx pgx.Tx, touched map[string]int64) error {
	if len(touched) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(touched))
	counts := make([]int64, len(ids))
	for i, id := range ids {
		counts[i] = touched[id]
	}
	var b pgx.Batch
	if len(ids) > 1 {
		b.Queue(`SELECT FROM notifications WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	}
	b.Queue(`UPDATE notifications AS n SET untouched = n.untouched - t.k
		FROM unnest($1::text[], $2::bigint[]) AS t(id, k) WHERE n.id = t.id`, ids, counts)
	return tx.SendBatch(ctx, &b).Close()
}

// Record implements store.Queue: every change in one transaction, as two
// set-based statements whatever the number of changes: one upsert of the
// deliveries (recordQuery) and one update of the untouched counters of
// the broadcasts whose recipients it gave a row. It holds the store's
// lock shared.
//
// Record is the delivery path's bookkeeping, so, like the SQLite
// store's, it commits without waiting for the disk (writeNoSync): its
// changes survive xpushd dying, but a crash of the database's machine can
// lose the last few. A lost ack means one redelivery, which the client
// drops as a duplicate; a lost "sent" leaves the delivery queued.
func (db *DB) Record(ctx context.Context, changes []store.Change) error {
	if len(changes) == 0 {
		return nil
	}
	b, err := collapse(changes)
	if err != nil {
		return err
	}
	return db.writeNoSync(ctx, "record", sharedLock, func(tx pgx.Tx) error {
		_, err := record(ctx, tx, b)
		return err
	})
}

// transition applies one change as Record does, and tells a change that
// did nothing because user is not a recipient (ErrNotFound) from one
// that did nothing because of the delivery's state.
func (db *DB) transition(ctx context.Context, op, id, user, state string, at time.Time) error {
	b, err := collapse([]store.Change{{ID: id, User: user, State: state, At: at}})
	if err != nil {
		return err
	}
	return db.write(ctx, op, sharedLock, func(tx pgx.Tx) error {
		changed, err := record(ctx, tx, b)
		if err != nil || changed > 0 {
			return err
		}
		var recipient bool
		err = tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM deliveries WHERE notification_id = $1 AND username = $2)
			OR EXISTS (SELECT 1 FROM notifications AS n JOIN users AS u ON u.name = $2 AND u.created <= n.created
				WHERE n.id = $1 AND n.broadcast)`, id, user).Scan(&recipient)
		if err == nil && !recipient {
			err = fmt.Errorf("postgres: %q is not a recipient of notification %q: %w", user, id, store.ErrNotFound)
		}
		return err
	})
}

// MarkSent implements store.Queue.
func (db *DB) MarkSent(ctx context.Context, id, user string, at time.Time) error {
	return db.transition(ctx, "mark sent", id, user, store.StateSent, at)
}

// Ack implements store.Queue.
func (db *DB) Ack(ctx context.Context, id, user string, at time.Time) error {
	return db.transition(ctx, "ack", id, user, store.StateAcked, at)
}

// Unsent implements store.Queue. With several xpushd on one database it
// also requeues what other instances are sending to user: they use
// Release instead (claims.go).
func (db *DB) Unsent(ctx context.Context, user string, at time.Time) error {
	_, err := db.exec(ctx, "unsent", `UPDATE deliveries
		SET state = 'queued', updated = $1, owner = NULL, lease_until = 0
		WHERE username = $2 AND state = 'sent'`, ns(at), user)
	return err
}

// UnsentAll implements store.Queue. With several xpushd on one database
// an instance must not call it at start: it would requeue the other
// instances' deliveries in flight. Leases (claims.go) take its place.
func (db *DB) UnsentAll(ctx context.Context, at time.Time) (int, error) {
	n, err := db.exec(ctx, "unsent all", `UPDATE deliveries
		SET state = 'queued', updated = $1, owner = NULL, lease_until = 0
		WHERE state = 'sent'`, ns(at))
	return int(n), err
}

// Expire implements store.Queue, in one statement under the store's lock
// held exclusively: it records on each notification that reached its TTL
// that it has expired (which makes its untouched broadcast recipients
// expired), expires their queued and sent rows, and counts both.
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	var changed int64
	err := db.write(ctx, "expire", exclusiveLock, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH n AS (
				UPDATE notifications SET expired = $1
				WHERE expired = 0 AND expires != 0 AND expires <= $1
				RETURNING id, CASE WHEN broadcast THEN untouched ELSE 0 END AS untouched
			), d AS (
				UPDATE deliveries AS d SET state = 'expired', updated = $1
				FROM n WHERE d.notification_id = n.id AND d.state IN ('queued', 'sent')
				RETURNING 1
			)
			SELECT (SELECT count(*) FROM d) + (SELECT COALESCE(sum(untouched), 0) FROM n)::bigint`,
			ns(now)).Scan(&changed)
	})
	return int(changed), err
}

// Notification implements store.Queue.
func (db *DB) Notification(ctx context.Context, id string) (store.Notification, []store.Delivery, error) {
	var n store.Notification
	var ds []store.Delivery
	err := db.read(ctx, "notification", func(tx pgx.Tx) error {
		var expired int64
		var err error
		n, err = scanNote(tx.QueryRow(ctx,
			`SELECT `+noteColumns+`, n.expired FROM notifications AS n WHERE n.id = $1`, id), &expired)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: notification %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var rows pgx.Rows
		if n.Broadcast {
			untouched, since := store.StateQueued, ns(n.Created)
			if expired != 0 {
				untouched, since = store.StateExpired, expired
			}
			rows, err = tx.Query(ctx, `SELECT u.name,
				COALESCE(d.state, $2), COALESCE(d.attempts, 0), COALESCE(d.updated, $3)
				FROM users AS u LEFT JOIN deliveries AS d
				ON d.notification_id = $1 AND d.username = u.name
				WHERE u.created <= $4 ORDER BY u.name`,
				id, untouched, since, ns(n.Created))
		} else {
			rows, err = tx.Query(ctx, `SELECT username, state, attempts, updated
				FROM deliveries WHERE notification_id = $1 ORDER BY username`, id)
		}
		if err != nil {
			return err
		}
		ds = []store.Delivery{}
		var d store.Delivery
		var updated int64
		_, err = pgx.ForEachRow(rows, []any{&d.User, &d.State, &d.Attempts, &updated}, func() error {
			d.Updated = fromNS(updated)
			ds = append(ds, d)
			if !n.Broadcast {
				n.To = append(n.To, d.User)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return store.Notification{}, nil, err
	}
	return n, ds, nil
}

// History implements store.Queue, in three queries whatever the page's
// size: the notifications, their delivery counts, and the recipients of
// the directed ones.
func (db *DB) History(ctx context.Context, p store.Page) ([]store.Summary, error) {
	lim, off := limit(p)
	out := []store.Summary{}
	err := db.read(ctx, "history", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+noteColumns+`, n.expired, n.untouched FROM notifications AS n
			WHERE $1 = ''
			OR n.title ILIKE $2 OR n.message ILIKE $2 OR n.uri ILIKE $2
			OR (NOT n.broadcast AND EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username ILIKE $2))
			ORDER BY n.seq DESC LIMIT $3 OFFSET $4`,
			p.Query, like(p.Query), lim, off)
		if err != nil {
			return err
		}
		var expired, untouched int64
		index := make(map[string]int)
		var ids, directed []string
		for rows.Next() {
			n, err := scanNote(rows, &expired, &untouched)
			if err != nil {
				rows.Close()
				return err
			}
			s := store.Summary{Notification: n, Counts: make(map[string]int, len(store.States))}
			for _, st := range store.States {
				s.Counts[st] = 0
			}
			if n.Broadcast {
				if expired != 0 {
					s.Counts[store.StateExpired] = int(untouched)
				} else {
					s.Counts[store.StateQueued] = int(untouched)
				}
			} else {
				directed = append(directed, n.ID)
			}
			index[n.ID] = len(out)
			ids = append(ids, n.ID)
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, `SELECT notification_id, state, count(*) FROM deliveries
			WHERE notification_id = ANY($1) GROUP BY notification_id, state`, ids)
		if err != nil {
			return err
		}
		var id, state string
		var count int
		_, err = pgx.ForEachRow(rows, []any{&id, &state, &count}, func() error {
			out[index[id]].Counts[state] += count
			return nil
		})
		if err != nil || len(directed) == 0 {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT notification_id, username FROM deliveries
			WHERE notification_id = ANY($1) ORDER BY notification_id, username`, directed)
		if err != nil {
			return err
		}
		var user string
		_, err = pgx.ForEachRow(rows, []any{&id, &user}, func() error {
			s := &out[index[id]]
			s.To = append(s.To, user)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueueDepth implements store.Queue: live queued and sent rows, plus the
// untouched recipients of live broadcasts.
func (db *DB) QueueDepth(ctx context.Context, now time.Time) (int, error) {
	var depth int64
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM deliveries AS d JOIN notifications AS n ON n.id = d.notification_id
			WHERE d.state IN ('queued', 'sent') AND (n.expires = 0 OR n.expires > $1))
		+
		(SELECT COALESCE(sum(n.untouched), 0) FROM notifications AS n
			WHERE n.broadcast AND n.expired = 0 AND (n.expires = 0 OR n.expires > $1))::bigint`,
		ns(now)).Scan(&depth)
	return int(depth), wrap("queue depth", err)
}
