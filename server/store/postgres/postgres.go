package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xpush/xpush/server/store"
)

// ErrNewerSchema is Open's error for a schema written by a newer xpushd:
// its version is beyond the migrations this binary has.
var ErrNewerSchema = errors.New("postgres: database schema is newer than this program")

// maxAttempts bounds how often a transaction is tried when PostgreSQL
// aborts it for a deadlock or a serialization failure.
const maxAttempts = 8

// lockSpace is the first key of the store's advisory lock; the second is
// a hash of the schema, so stores in different schemas of one database
// do not share it.
const lockSpace = 0x78707368 // "xpsh"

// DB is a store.Store on a PostgreSQL database, in the schema that the
// connection's search_path names first. It is safe for concurrent use,
// and several DBs, in one process or in several, may share the schema.
type DB struct {
	pool *pgxpool.Pool
	// schemaKey is the second key of the store's advisory lock.
	schemaKey int32
}

var _ store.Store = (*DB)(nil)

// Open connects to the database that dsn names (a postgres:// URL or
// key=value pairs, as pgx takes them, with pgxpool's pool_* settings),
// and brings the schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, fmt.Errorf("postgres: the connection string does not parse: %w", store.ErrInvalid)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool}
	var schema *string
	err = pool.QueryRow(ctx, `SELECT current_schema(), COALESCE(hashtext(current_schema()), 0)`).Scan(&schema, &db.schemaKey)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if schema == nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: no schema of the search_path exists in database %s", cfg.ConnConfig.Database)
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the connections, once every query has returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// ns and fromNS convert times to the stored Unix nanoseconds and back;
// the zero time is 0.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// like returns an ILIKE pattern (backslash is ILIKE's default escape)
// matching s as a substring. Text columns have the "C" collation, so
// ILIKE folds ASCII letters only, as SQLite's LIKE does.
func like(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// limit turns a Page into LIMIT and OFFSET values; a nil LIMIT is none.
func limit(p store.Page) (lim *int64, off int64) {
	if p.Limit > 0 {
		l := int64(p.Limit)
		lim = &l
	}
	return lim, int64(max(p.Offset, 0))
}

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeCharNotInRepertoire  = "22021" // invalid UTF-8, or a NUL byte in text
	codeUntranslatableChar   = "22P05"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool { return pgCode(err) == codeUniqueViolation }

// retryable reports an error after which the whole transaction may
// succeed when tried again.
func retryable(err error) bool {
	c := pgCode(err)
	return c == codeSerializationFailure || c == codeDeadlockDetected
}

// wrap prefixes a database error with the operation. Text the database
// cannot hold (a NUL byte, invalid UTF-8) is also store.ErrInvalid.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrInvalid),
		errors.Is(err, ErrNewerSchema):
		return err // already says what it is
	}
	switch pgCode(err) {
	case codeCharNotInRepertoire, codeUntranslatableChar:
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrInvalid, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// lockMode is how a write transaction takes the store's advisory lock.
//
// The lock orders the writers that keep a broadcast's untouched counter
// in step with the accounts and delivery rows it summarizes: those that
// add accounts or remove them, or expire notifications (exclusive), and
// those that give broadcast recipients their first row or count the
// accounts (shared, so they run alongside each other).
type lockMode int

const (
	noLock lockMode = iota
	sharedLock
	exclusiveLock
)

// write runs f in a READ COMMITTED transaction that first takes the
// advisory lock as asked, and commits it. After a deadlock or a
// serialization failure it tries the whole transaction again, with a
// short random pause, up to maxAttempts times.
func (db *DB) write(ctx context.Context, op string, lock lockMode, f func(tx pgx.Tx) error) error {
	return db.writeTx(ctx, op, lock, false, f)
}

// writeNoSync is write with synchronous_commit off for this transaction:
// the commit returns once it is in the server's write-ahead log buffers,
// without waiting for the disk. It survives xpushd dying, and the server
// process too, but a crash of the server's machine can lose the last
// fraction of a second of such commits (never leaving a partial one).
// It is visible to other transactions at once, like any commit.
func (db *DB) writeNoSync(ctx context.Context, op string, lock lockMode, f func(tx pgx.Tx) error) error {
	return db.writeTx(ctx, op, lock, true, f)
}

func (db *DB) writeTx(ctx context.Context, op string, lock lockMode, noSync bool, f func(tx pgx.Tx) error) error {
	return retry(ctx, op, func() error { return db.writeOnce(ctx, lock, noSync, f) })
}

// retry calls f until it succeeds or fails with an error that trying
// again would not cure, at most maxAttempts times, with a short random
// pause between tries, and wraps its error with op.
func retry(ctx context.Context, op string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return wrap(op, err)
		}
		pause := time.Duration(attempt) * time.Millisecond
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return wrap(op, errors.Join(err, ctx.Err()))
		case <-t.C:
		}
	}
}

func (db *DB) writeOnce(ctx context.Context, lock lockMode, noSync bool, f func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// One round trip for the settings and the lock.
	var b pgx.Batch
	if noSync {
		b.Queue(`SET LOCAL synchronous_commit = off`)
	}
	switch lock {
	case sharedLock:
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1, $2)`, lockSpace, db.schemaKey)
	case exclusiveLock:
		b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, db.schemaKey)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec runs one statement in a transaction of its own (one round trip),
// tried again after a deadlock like write, and returns the rows it
// changed.
func (db *DB) exec(ctx context.Context, op, sql string, args ...any) (int64, error) {
	var n int64
	err := retry(ctx, op, func() error {
		tag, err := db.pool.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// read runs f in a read-only REPEATABLE READ transaction, so that its
// queries see one snapshot.
func (db *DB) read(ctx context.Context, op string, f func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return wrap(op, fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := f(tx); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit(ctx))
}
