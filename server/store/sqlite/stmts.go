package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The statements of the login path (User, Pending), of the delivery
// path (MarkSent, Ack, Record, Unsent) and of the API (APIToken,
// Enqueue, Notification) are prepared once, when the
// database is opened, instead of being parsed again on every call:
// parsing was most of their cost.
//
// The read statements are prepared on the read pool; database/sql
// prepares such a statement again on each pool connection the first time
// it runs there, and keeps it. The write statements are prepared on the
// single writer connection; inside a write transaction they are bound to
// it with Tx.StmtContext, which finds them already prepared there (see
// wtx).

const (
	userQuery = `SELECT ` + userColumns + ` FROM users WHERE name = ?`

	userCreatedQuery = `SELECT created FROM users WHERE name = ?`

	pendingQuery = `
		SELECT ` + noteColumns + ` FROM deliveries AS d
		JOIN notifications AS n ON n.id = d.notification_id
		WHERE d.username = ?1 AND d.state = 'queued' AND (n.expires = 0 OR n.expires > ?2)
		UNION ALL
		SELECT ` + noteColumns + ` FROM notifications AS n
		WHERE n.broadcast = 1 AND n.expired = 0 AND n.created >= ?3
		AND (n.expires = 0 OR n.expires > ?2)
		AND NOT EXISTS (SELECT 1 FROM deliveries AS d
			WHERE d.notification_id = n.id AND d.username = ?1)
		ORDER BY 1 LIMIT ?4`

	noteQuery = `SELECT broadcast, created, expired FROM notifications WHERE id = ?`

	// recipientQuery returns the state of the delivery of notification ?1
	// to user ?2 (NULL: no row) and, if there is no row and ?3 (the
	// notification is a broadcast), when the user's account was created
	// (NULL: no such account).
	recipientQuery = `SELECT s, CASE WHEN s IS NULL AND ?3 THEN (SELECT created FROM users WHERE name = ?2) END
		FROM (SELECT (SELECT state FROM deliveries WHERE notification_id = ?1 AND username = ?2) AS s)`

	updateDeliveryQuery = `UPDATE deliveries
		SET state = ?, attempts = attempts + ?, updated = ?
		WHERE notification_id = ? AND username = ?`

	insertDeliveryQuery = `INSERT INTO deliveries
		(notification_id, username, state, attempts, updated)
		VALUES (?, ?, ?, ?, ?)`

	// touchedQuery takes from a broadcast's untouched counter the
	// recipients that now have a row.
	touchedQuery = `UPDATE notifications SET untouched = untouched - ? WHERE id = ?`

	// recordChanges reads Record's JSON array ?1 (see collapse) into the
	// table c, once: unmaterialized, every use of a column would parse
	// its JSON again.
	recordChanges = `WITH c AS MATERIALIZED (SELECT j.value->>0 AS id, j.value->>1 AS user,
		j.value->>2 AS sents, j.value->>3 AS sent_at, j.value->>4 AS ack_at FROM json_each(?1) AS j) `

	// recordUpdateQuery applies Record's changes to the deliveries that
	// have a row: an ack makes any state but acked acked; sends make
	// queued or sent sent, and count as attempts unless the delivery was
	// acked or expired already.
	recordUpdateQuery = recordChanges + `UPDATE deliveries AS d SET
			state = CASE WHEN c.ack_at != 0 THEN 'acked' ELSE 'sent' END,
			attempts = d.attempts + CASE WHEN d.state IN ('queued', 'sent') THEN c.sents ELSE 0 END,
			updated = CASE WHEN c.ack_at != 0 THEN c.ack_at ELSE c.sent_at END
		FROM c
		WHERE d.notification_id = c.id AND d.username = c.user AND d.state != 'acked'
		AND (c.ack_at != 0 OR d.state IN ('queued', 'sent'))`

	// recordInsertQuery gives a row to the broadcast recipients Record
	// touches for the first time: accounts created no later than the
	// broadcast. Untouched recipients of an expired broadcast are
	// expired: an ack makes them acked, a send changes nothing. It
	// returns the notification of each row, for the untouched counters.
	recordInsertQuery = recordChanges + `INSERT INTO deliveries (notification_id, username, state, attempts, updated)
		SELECT c.id, c.user,
			CASE WHEN c.ack_at != 0 THEN 'acked' ELSE 'sent' END,
			CASE WHEN n.expired = 0 THEN c.sents ELSE 0 END,
			CASE WHEN c.ack_at != 0 THEN c.ack_at ELSE c.sent_at END
		FROM c
		JOIN notifications AS n ON n.id = c.id AND n.broadcast = 1
		JOIN users AS u ON u.name = c.user AND u.created <= n.created
		WHERE (c.ack_at != 0 OR n.expired = 0)
		AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.notification_id = c.id AND d.username = c.user)
		RETURNING notification_id`

	// The API's statements: every request looks its token up, a push
	// enqueues, and clients poll a notification's state.
	apiTokenQuery = `SELECT name, hash, created, expires, 0 FROM api_tokens WHERE hash = ?`

	unknownRecipientsQuery = `SELECT j.value FROM json_each(?) AS j
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = j.value)
		ORDER BY j.value`

	insertNoteQuery = `INSERT INTO notifications
		(id, title, message, uri, broadcast, sender, created, expires, untouched)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
			CASE WHEN ?5 THEN (SELECT COUNT(*) FROM users WHERE created <= ?7) ELSE 0 END)
		RETURNING seq`

	insertRecipientsQuery = `INSERT INTO deliveries
		(notification_id, username, state, attempts, updated)
		SELECT ?, j.value, 'queued', 0, ? FROM json_each(?) AS j`

	noteStateQuery = `SELECT ` + noteColumns + `, n.expired FROM notifications AS n WHERE n.id = ?`

	broadcastStatesQuery = `SELECT u.name,
		COALESCE(d.state, ?2), COALESCE(d.attempts, 0), COALESCE(d.updated, ?3)
		FROM users AS u LEFT JOIN deliveries AS d
		ON d.notification_id = ?1 AND d.username = u.name
		WHERE u.created <= ?4 ORDER BY u.name`

	directedStatesQuery = `SELECT username, state, attempts, updated
		FROM deliveries WHERE notification_id = ? ORDER BY username`

	unsentQuery = `UPDATE deliveries SET state = 'queued', updated = ?
		WHERE username = ? AND state = 'sent'`
)

// stmts are a DB's prepared statements.
type stmts struct {
	// On the read pool (the writer, for an in-memory database).
	user, pending, readUserCreated                       *sql.Stmt
	apiToken, noteState, broadcastStates, directedStates *sql.Stmt
	// On the writer.
	userCreated, note, recipient, updateDelivery, insertDelivery, touched, unsent *sql.Stmt
	recordUpdate, recordInsert                                                    *sql.Stmt
	unknownRecipients, insertNote, insertRecipients                               *sql.Stmt

	all []*sql.Stmt // every one of the above, for close
}

// prepare prepares the statements: the reads on r, the writes on w.
func (s *stmts) prepare(ctx context.Context, r, w *sql.DB) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&s.user, r, userQuery},
		{&s.pending, r, pendingQuery},
		{&s.readUserCreated, r, userCreatedQuery},
		{&s.apiToken, r, apiTokenQuery},
		{&s.noteState, r, noteStateQuery},
		{&s.broadcastStates, r, broadcastStatesQuery},
		{&s.directedStates, r, directedStatesQuery},
		{&s.userCreated, w, userCreatedQuery},
		{&s.note, w, noteQuery},
		{&s.recipient, w, recipientQuery},
		{&s.updateDelivery, w, updateDeliveryQuery},
		{&s.insertDelivery, w, insertDeliveryQuery},
		{&s.touched, w, touchedQuery},
		{&s.unsent, w, unsentQuery},
		{&s.recordUpdate, w, recordUpdateQuery},
		{&s.recordInsert, w, recordInsertQuery},
		{&s.unknownRecipients, w, unknownRecipientsQuery},
		{&s.insertNote, w, insertNoteQuery},
		{&s.insertRecipients, w, insertRecipientsQuery},
	} {
		st, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	return nil
}

// close closes the statements that prepare prepared.
func (s *stmts) close() error {
	var errs []error
	for _, st := range s.all {
		errs = append(errs, st.Close())
	}
	s.all = nil
	return errors.Join(errs...)
}

// wtx is a write transaction. Its stmt binds a statement prepared on the
// writer to the transaction, once per transaction and statement: a
// transaction of thousands of changes does not make thousands of
// transaction statements.
type wtx struct {
	*sql.Tx
	ctx   context.Context
	bound map[*sql.Stmt]*sql.Stmt
}

func (t *wtx) stmt(s *sql.Stmt) *sql.Stmt {
	b, ok := t.bound[s]
	if !ok {
		if t.bound == nil {
			t.bound = make(map[*sql.Stmt]*sql.Stmt)
		}
		b = t.StmtContext(t.ctx, s)
		t.bound[s] = b
	}
	return b
}
