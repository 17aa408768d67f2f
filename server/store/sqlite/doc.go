// Package sqlite is xpushd's store on an embedded SQLite database
// (modernc.org/sqlite: pure Go, builds with CGO_ENABLED=0).
//
// [Open] opens or creates the database file and brings its schema up to
// date; [DB] implements store.Store and passes the same conformance
// suite as store.Memory (storetest.Run).
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit
// fsyncs the write-ahead log before it returns. So once Enqueue has
// returned, and the API has answered 202, the notification survives the
// process being killed (kill -9) and the machine losing power, as far as
// the disk honours fsync. Each write method is one transaction.
//
// # Connections
//
// All writes go through one connection (a *sql.DB limited to one open
// connection, transactions begun IMMEDIATE), so writers queue in Go
// rather than spin on SQLITE_BUSY; reads use a separate pool of
// read-only connections that WAL lets run alongside the writer. Both set
// busy_timeout, for other processes using the same file (the xpushd CLI
// while the server runs), and foreign_keys=ON.
//
// The statements of the login path (User, Pending) and of the delivery
// path (MarkSent, Ack, Record, Unsent) are prepared once, when the
// database is opened, rather than parsed on every call (stmts.go).
//
// # Schema
//
// Migrations are the numbered files migrations/NNNN_*.sql, embedded in
// the binary. PRAGMA user_version records how many have been applied;
// Open applies the missing ones in order, each in its own transaction
// together with the version bump, and refuses a database whose version
// is newer than the binary knows ([ErrNewerSchema]) rather than guess at
// it. A new migration is a new file with the next number; applied files
// never change.
//
// Tables: users (SCRAM keys, legacy password, created); notifications
// (seq is the delivery order, expired records when Expire passed it);
// deliveries (notification_id, username) with state, attempts and
// updated, one per recipient of a directed notification and, for a
// broadcast, one per recipient touched so far; api_tokens; invites;
// settings (the admin password hash). Times are Unix nanoseconds, 0 for
// unset.
package sqlite
