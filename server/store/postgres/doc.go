// Package postgres is xpushd's store on PostgreSQL (github.com/jackc/pgx,
// a connection pool), for several xpushd instances sharing their state.
//
// [Open] connects and brings the schema up to date; [DB] implements
// store.Store and passes the same conformance suite as store.Memory and
// store/sqlite (storetest.Run). Beyond store.Store it has delivery claims
// with leases (claims.go): [DB.Claim], [DB.ClaimRecipients], [DB.Renew],
// [DB.Release] and [DB.Reclaim], with which instances sharing the
// database never both deliver a (notification, recipient) as new, and a
// dead instance's deliveries in flight pass to another once its lease has
// run out.
//
// # Schema
//
// The tables and their meaning are the SQLite store's: users;
// notifications (seq is the delivery order; a broadcast is one row with a
// counter of its untouched recipients); deliveries (one row per recipient
// of a directed notification, and per broadcast recipient touched so
// far); api_tokens; invites; settings. Times are Unix nanoseconds in
// bigint columns, 0 for unset; text is COLLATE "C". They live in the
// first schema of the connection's search_path (public by default; a
// DSN's search_path parameter picks another, which is how the tests get
// a fresh schema each).
//
// Migrations are the numbered files migrations/NNNN_*.sql, embedded in
// the binary. The table schema_version records how many have been
// applied; Open applies the missing ones in order, each in its own
// transaction together with the version bump, under an advisory lock so
// that instances starting together apply each once, and refuses a schema
// whose version is newer than the binary knows ([ErrNewerSchema]).
//
// # Concurrency
//
// Write transactions run at READ COMMITTED. What keeps a broadcast's
// untouched counter exact with writers in several processes is one
// advisory lock per schema: creating or deleting an account and Expire
// take it exclusively; Enqueue, Record, MarkSent, Ack and the claims take
// it shared, so they run alongside each other. Rows are changed in a
// fixed order (deliveries by notification and user, then notifications by
// ID), and a transaction that PostgreSQL still aborts for a deadlock or a
// serialization failure is tried again from the start.
//
// The deliveries have no foreign keys (their checks were half the cost of
// recording a broadcast): rows are inserted only for an account and a
// notification the same statement finds, under the shared lock that
// keeps DeleteUser out, and DeleteUser deletes the account's rows.
//
// Record, the delivery path's bookkeeping, is set-based: a batch of
// changes is one upsert of the deliveries through unnest arrays (the
// rows that exist are updated by its ON CONFLICT branch, the broadcast
// recipients touched for the first time inserted) and one update of the
// broadcasts' counters, whatever its size.
//
// # Durability
//
// Each write method is one transaction, committed with the server's
// synchronous_commit (on by default): once Enqueue has returned, the
// notification is in PostgreSQL's write-ahead log on disk. Record alone
// commits without waiting for the disk, as the SQLite store's does: its
// changes survive xpushd dying, and a crash of the database's machine
// costs at most a redelivery.
package postgres
