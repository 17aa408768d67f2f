package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xpush/xpush/server/store"
)

// ErrNewerSchema is Open's error for a database written by a newer
// xpushd: its schema version is beyond the migrations this binary has.
var ErrNewerSchema = errors.New("sqlite: database schema is newer than this program")

// Defaults for the connections.
const (
	// busyTimeout is how long a statement waits for another process's
	// lock (the CLI and the server on one file) before SQLITE_BUSY.
	busyTimeout = 10 * time.Second
	// readConns bounds the read pool; SQLite readers in WAL mode do not
	// block each other or the writer.
	readConns = 4
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type DB struct {
	w *sql.DB // exactly one connection: every write
	r *sql.DB // read-only pool; == w for an in-memory database
}

var _ store.Store = (*DB)(nil)

// Open opens the database at path, creating it if needed, and applies
// any missing migrations. The path ":memory:" gives a private in-memory
// database (one connection, nothing durable), for tests.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	return open(ctx, path, ms)
}

func open(ctx context.Context, path string, ms []migration) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	timeout := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	pragmas := "_pragma=busy_timeout(" + timeout + ")&_pragma=foreign_keys(1)"
	if path == ":memory:" {
		w, err := sql.Open("sqlite", "file::memory:?"+pragmas+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		db := &DB{w: w, r: w}
		if err := migrate(ctx, w, path, ms); err != nil {
			w.Close()
			return nil, err
		}
		return db, nil
	}

	uri, err := fileURI(path)
	if err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", uri+"?"+pragmas+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, not WAL", path, mode)
	}
	if err := migrate(ctx, w, path, ms); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", uri+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &DB{w: w, r: r}, nil
}

// fileURI turns a file path into an SQLite URI, so that characters such
// as ? and # in the path are not read as URI syntax.
func fileURI(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	abs = filepath.ToSlash(abs)
	if !strings.HasPrefix(abs, "/") {
		abs = "/" + abs // Windows: file:///C:/...
	}
	var b strings.Builder
	b.WriteString("file://")
	for i := 0; i < len(abs); i++ {
		switch c := abs[i]; c {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// Close closes the database.
func (db *DB) Close() error {
	var err error
	if db.r != db.w {
		err = db.r.Close()
	}
	return errors.Join(err, db.w.Close())
}

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys; the numbers
// must run 1, 2, 3... without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("sqlite: migration %s: name is not NNNN_name.sql", base)
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(text)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations db (at path) lacks, one transaction
// each. Each transaction reads the version again, so two processes
// opening a new database at once do not both apply a migration.
func migrate(ctx context.Context, db *sql.DB, path string, ms []migration) error {
	for {
		done, err := migrateOne(ctx, db, path, ms)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB, path string, ms []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil) // IMMEDIATE: holds the write lock
	if err != nil {
		return false, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	switch {
	case v > len(ms):
		return false, fmt.Errorf("%w: %s has schema version %d, this program knows versions up to %d; use a newer xpushd",
			ErrNewerSchema, path, v, len(ms))
	case v == len(ms):
		return true, nil
	}
	m := ms[v]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("sqlite: open %s: migration %s: %w", path, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, fmt.Errorf("sqlite: open %s: migration %s: %w", path, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: open %s: migration %s: %w", path, m.name, err)
	}
	return false, nil
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
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
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
