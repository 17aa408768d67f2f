package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xpush/xpush/server/store"
)

// Delivery claims, for several xpushd instances on one database.
//
// An instance claims a delivery before it writes the notification to a
// recipient's session: Claim or ClaimRecipients turns queued deliveries
// (and untouched broadcast recipients) into sent ones owned by the
// instance, with a lease until now+lease, and returns those it got.
// Each delivery is claimed by one statement that re-checks its state on
// the row's latest version, so of two instances claiming the same
// (notification, recipient) at once exactly one gets it; the other sees
// it sent under a live lease and leaves it.
//
// The owner keeps its claims alive with Renew, well within the lease
// (every lease/3, say), and gives back those whose session ended
// without an ack with Release. An ack, recorded by whichever instance
// receives it (Ack, Record), ends the claim. If the owner dies, its
// leases run out, and its claims become claimable again: by Claim for
// the recipient, or swept up by Reclaim in any instance. A claim taken
// again counts one more attempt: the recipient may have had the
// notification before the owner died, and drops the duplicate by ID.
//
// Owners are names unique to an instance's run (a random ID made at
// start), so that a restarted instance does not take its predecessor's
// claims for its own.

// Claimed is a delivery Reclaim took over.
type Claimed struct {
	store.Notification // without To
	User               string
	Attempts           int // including this one
}

// claimable is the condition, on a delivery row d, under which a claim
// takes it: queued, or sent under a lease that has run out by $now.
const claimable = `(d.state = 'queued' OR (d.state = 'sent' AND d.lease_until != 0 AND d.lease_until <= $2))`

// claimQuery claims for user $1 at $2, as owner $3 until $4, at most $5
// (NULL: all) of its pending notifications by Seq: its queued rows and
// those under a lapsed lease, and the live broadcasts it has no row for.
// Rows are locked in notification order; a row another claim got first
// is left out (ON CONFLICT ... WHERE re-checks it). It returns the
// notifications it claimed, by Seq, and whether each row is new.
const claimQuery = `
	WITH cand AS (
		SELECT n.id, n.seq FROM deliveries AS d
		JOIN notifications AS n ON n.id = d.notification_id
		WHERE d.username = $1 AND ` + claimable + ` AND (n.expires = 0 OR n.expires > $2)
		UNION ALL
		SELECT n.id, n.seq FROM notifications AS n
		WHERE n.broadcast AND n.expired = 0
		AND n.created >= (SELECT created FROM users WHERE name = $1)
		AND (n.expires = 0 OR n.expires > $2)
		AND NOT EXISTS (SELECT 1 FROM deliveries AS d
			WHERE d.notification_id = n.id AND d.username = $1)
		ORDER BY seq LIMIT $5
	), claimed AS (
		INSERT INTO deliveries AS d (notification_id, username, state, attempts, updated, owner, lease_until)
		SELECT cand.id, $1, 'sent', 1, $2, $3, $4 FROM cand ORDER BY cand.id
		ON CONFLICT (notification_id, username) DO UPDATE SET
			state = 'sent', attempts = d.attempts + 1, updated = excluded.updated,
			owner = excluded.owner, lease_until = excluded.lease_until
		WHERE ` + claimable + `
		RETURNING d.notification_id, d.xmax = 0 AS inserted
	)
	SELECT ` + noteColumns + `, c.inserted FROM claimed AS c
	JOIN notifications AS n ON n.id = c.notification_id
	ORDER BY n.seq`

// Claim claims user's pending notifications for owner, at most limit
// (<= 0: all) by Seq, with a lease until now+lease: what Pending would
// return, plus the notifications sent under a lease that ran out, as one
// atomic step with MarkSent. ErrNotFound for an unknown user.
func (db *DB) Claim(ctx context.Context, owner, user string, now time.Time, lease time.Duration, limit int) ([]store.Notification, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	var out []store.Notification
	err := db.write(ctx, "claim", sharedLock, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, claimQuery, user, ns(now), owner, ns(now.Add(lease)), lim)
		if err != nil {
			return err
		}
		touched := make(map[string]int64)
		var inserted bool
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Notification, error) {
			n, err := scanNote(r, &inserted)
			if inserted {
				touched[n.ID]++
			}
			return n, err
		})
		if err != nil {
			return err
		}
		if len(out) == 0 {
			_, err := userCreated(ctx, tx, user)
			return err
		}
		return untouch(ctx, tx, touched)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimRecipientsQuery claims notification $1 for the users $5 at $2, as
// owner $3 until $4: the recipients among them whose delivery is
// claimable, or who are untouched recipients of a broadcast. Nothing
// when the notification has expired (at $2, or by Expire).
const claimRecipientsQuery = `
	WITH n AS (
		SELECT id, broadcast, created FROM notifications
		WHERE id = $1 AND expired = 0 AND (expires = 0 OR expires > $2)
	), c AS (
		SELECT DISTINCT usr FROM unnest($5::text[]) AS usr
	)
	INSERT INTO deliveries AS d (notification_id, username, state, attempts, updated, owner, lease_until)
	SELECT n.id, c.usr, 'sent', 1, $2, $3, $4 FROM n, c
	WHERE CASE WHEN n.broadcast
		THEN EXISTS (SELECT 1 FROM users AS u WHERE u.name = c.usr AND u.created <= n.created)
		ELSE EXISTS (SELECT 1 FROM deliveries AS e WHERE e.notification_id = n.id AND e.username = c.usr)
	END
	ORDER BY c.usr
	ON CONFLICT (notification_id, username) DO UPDATE SET
		state = 'sent', attempts = d.attempts + 1, updated = excluded.updated,
		owner = excluded.owner, lease_until = excluded.lease_until
	WHERE ` + claimable + `
	RETURNING d.username, d.xmax = 0`

// ClaimRecipients claims notification id for those of users whose
// delivery is pending (or sent under a lease that ran out), for owner,
// with a lease until now+lease, and returns them in order: the fan-out
// of a new notification to the recipients an instance has sessions for,
// in one statement whatever their number. Users that are not recipients,
// or whose delivery is sent under a live lease, acked or expired, are
// left out; so is everyone once the notification has expired.
func (db *DB) ClaimRecipients(ctx context.Context, owner, id string, users []string, now time.Time, lease time.Duration) ([]string, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, nil
	}
	var out []string
	err := db.write(ctx, "claim recipients", sharedLock, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, claimRecipientsQuery, id, ns(now), owner, ns(now.Add(lease)), users)
		if err != nil {
			return err
		}
		var user string
		var inserted bool
		var touched int64
		_, err = pgx.ForEachRow(rows, []any{&user, &inserted}, func() error {
			out = append(out, user)
			if inserted {
				touched++
			}
			return nil
		})
		if err != nil || touched == 0 {
			return err
		}
		return untouch(ctx, tx, map[string]int64{id: touched})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Renew extends the lease of owner's claims still sent to now+lease,
// and returns how many it extended. A claim another instance has taken
// over since its lease ran out is no longer owner's.
func (db *DB) Renew(ctx context.Context, owner string, now time.Time, lease time.Duration) (int, error) {
	if err := checkClaim(owner, lease); err != nil {
		return 0, err
	}
	n, err := db.exec(ctx, "renew", `UPDATE deliveries SET lease_until = $2
		WHERE owner = $1 AND state = 'sent'`, owner, ns(now.Add(lease)))
	return int(n), err
}

// Release puts owner's claims still sent to user back to queued (all of
// owner's when user is ""), for the next claim: the session ended before
// the ack. It returns how many it released.
func (db *DB) Release(ctx context.Context, owner, user string, at time.Time) (int, error) {
	if owner == "" {
		return 0, fmt.Errorf("postgres: release without an owner: %w", store.ErrInvalid)
	}
	n, err := db.exec(ctx, "release", `UPDATE deliveries
		SET state = 'queued', updated = $3, owner = NULL, lease_until = 0
		WHERE owner = $1 AND state = 'sent' AND ($2 = '' OR username = $2)`,
		owner, user, ns(at))
	return int(n), err
}

// Reclaim takes over, for owner with a lease until now+lease, at most
// limit (<= 0: all) deliveries sent under a lease that ran out by now,
// oldest lease first, leaving out those of expired notifications and
// those another Reclaim is taking at the same moment (SKIP LOCKED): an
// instance's periodic sweep for the work of instances that died.
func (db *DB) Reclaim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Claimed, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	var out []Claimed
	err := db.write(ctx, "reclaim", noLock, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH cand AS (
				SELECT d.notification_id, d.username FROM deliveries AS d
				JOIN notifications AS n ON n.id = d.notification_id
				WHERE d.state = 'sent' AND d.lease_until != 0 AND d.lease_until <= $1
				AND n.expired = 0 AND (n.expires = 0 OR n.expires > $1)
				ORDER BY d.lease_until, d.notification_id, d.username LIMIT $4
				FOR NO KEY UPDATE OF d SKIP LOCKED
			)
			UPDATE deliveries AS d SET attempts = d.attempts + 1, updated = $1, owner = $2, lease_until = $3
			FROM cand JOIN notifications AS n ON n.id = cand.notification_id
			WHERE d.notification_id = cand.notification_id AND d.username = cand.username
			RETURNING `+noteColumns+`, d.username, d.attempts`,
			ns(now), owner, ns(now.Add(lease)), lim)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claimed, error) {
			var c Claimed
			var err error
			c.Notification, err = scanNote(r, &c.User, &c.Attempts)
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkClaim(owner string, lease time.Duration) error {
	if owner == "" || lease <= 0 {
		return fmt.Errorf("postgres: a claim needs an owner and a lease: %w", store.ErrInvalid)
	}
	return nil
}
