package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xpush/xpush/internal/sqlitedb"
	"github.com/xpush/xpush/server/store"
)

// ErrNewerSchema is Open's error for a database written by a newer
// xpushd: its schema version is beyond the migrations this binary has.
var ErrNewerSchema = errors.New("sqlite: database schema is newer than this program")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type DB struct {
	conns *sqlitedb.DB
	w     *sql.DB // conns.W: exactly one connection, every write
	r     *sql.DB // conns.R: read-only pool; == w for an in-memory database
	st    stmts
}

var _ store.Store = (*DB)(nil)

// Open opens the database at path, creating it if needed, and applies
// any missing migrations. The path ":memory:" gives a private in-memory
// database (one connection, nothing durable), for tests.
func Open(ctx context.Context, path string) (*DB, error) {
	conns, err := sqlitedb.Open(ctx, path, sqlitedb.Options{
		Name:        "sqlite",
		Program:     "xpushd",
		NewerSchema: ErrNewerSchema,
		Migrations:  migrationFiles,
		// temp_store(MEMORY): the statement journal of Record's
		// multi-row statements and its materialized batch stay in
		// memory instead of temporary files.
		Pragmas: []string{"foreign_keys(1)", "temp_store(MEMORY)"},
		Memory:  true,
	})
	if err != nil {
		return nil, err
	}
	db := &DB{conns: conns, w: conns.W, r: conns.R}
	if err := db.st.prepare(ctx, db.r, db.w); err != nil {
		return nil, errors.Join(err, db.st.close(), conns.Close())
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	return errors.Join(db.st.close(), db.conns.Close())
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

// like returns a LIKE pattern (with ESCAPE '\') matching s as a
// substring.
func like(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// limit turns a Page into LIMIT and OFFSET values.
func limit(p store.Page) (lim, off int) {
	lim = p.Limit
	if lim <= 0 {
		lim = -1
	}
	return lim, max(p.Offset, 0)
}

// isUnique reports a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// write runs f in a write transaction and commits it.
func (db *DB) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	return db.writeTx(ctx, func(t *wtx) error { return f(t.Tx) })
}

// writeTx is write for a function that uses the prepared statements.
func (db *DB) writeTx(ctx context.Context, f func(t *wtx) error) error {
	return inTx(ctx, db.w, f)
}

// inTx runs f in a transaction begun on b (the writer pool, or one of its
// connections) and commits it unless f fails.
func inTx(ctx context.Context, b interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, f func(t *wtx) error,
) error {
	tx, err := b.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(&wtx{Tx: tx, ctx: ctx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// writeTxNoSync is writeTx with synchronous=NORMAL for this one
// transaction: the commit reaches the WAL in the OS's cache (it survives
// the process dying) without waiting for the disk. The writer's single
// connection is held throughout, so no other transaction commits in
// between without its fsync.
func (db *DB) writeTxNoSync(ctx context.Context, f func(t *wtx) error) (err error) {
	if db.r == db.w {
		return db.writeTx(ctx, f) // in memory: nothing to sync
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: writer: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return fmt.Errorf("sqlite: synchronous: %w", err)
	}
	defer func() {
		// Back to FULL even when ctx has ended: the next write must sync.
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); rerr != nil {
			// The connection cannot be trusted to sync: drop it; the
			// pool opens a new one with synchronous(FULL).
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("sqlite: synchronous: %w", rerr))
		}
	}()
	return inTx(ctx, conn, f)
}

// read runs f in a read transaction, so that its queries see one
// snapshot.
func (db *DB) read(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: db.r != db.w})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	return f(tx)
}

// wrap prefixes a database error with the operation.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
