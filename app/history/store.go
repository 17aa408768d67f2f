package history

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/xpush/xpush/internal/sqlitedb"
)

// Retention defaults.
const (
	// DefaultMaxEntries bounds the history by count: a few megabytes of
	// notifications, and a list the window still shows at once.
	DefaultMaxEntries = 10_000
	// DefaultMaxAge bounds it by age: a season of notifications.
	DefaultMaxAge = 90 * 24 * time.Hour
)

// Errors callers may branch on.
var (
	// ErrNotFound is returned for a key that is not in the history.
	ErrNotFound = errors.New("history: no such entry")
	// ErrDiskFull is wrapped by the error of a write that failed because
	// the disk (or the file system holding the history) is full.
	ErrDiskFull = errors.New("history: the disk is full")
	// ErrNewerSchema is Open's error for a history written by a newer
	// xpush: its schema is beyond the migrations this program has.
	ErrNewerSchema = errors.New("history: the history file is from a newer xpush")
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configure a Store. The zero value gives the defaults. Every
// process that opens the same file should use the same retention, since
// each prunes by its own.
type Options struct {
	// MaxEntries is the most entries kept; the oldest go first. 0 means
	// DefaultMaxEntries, a negative value no limit.
	MaxEntries int
	// MaxAge is how long an entry is kept after it was received. 0 means
	// DefaultMaxAge, a negative value no limit.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is the notification history in one SQLite file. It is safe for
// concurrent use, and several Stores (in one process or several) may have
// the same file open at once.
type Store struct {
	conns      *sqlitedb.DB
	w          *sql.DB // conns.W: exactly one connection, every write
	r          *sql.DB // conns.R: read-only pool
	path       string
	maxEntries int           // 0: no limit
	maxAge     time.Duration // 0: no limit
	now        func() time.Time
}

// Open opens the history at path, creating the file (mode 0600) and its
// directory (mode 0700) if needed, applies any missing migrations and
// prunes entries past retention. The file is in WAL mode, so another
// process may have it open at the same time.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("history: empty path")
	}
	s := &Store{path: path, now: opts.Now}
	switch {
	case opts.MaxEntries == 0:
		s.maxEntries = DefaultMaxEntries
	case opts.MaxEntries > 0:
		s.maxEntries = opts.MaxEntries
	}
	switch {
	case opts.MaxAge == 0:
		s.maxAge = DefaultMaxAge
	case opts.MaxAge > 0:
		s.maxAge = opts.MaxAge
	}
	if s.now == nil {
		s.now = time.Now
	}

	// The file is created private, since SQLite would create it readable
	// by everyone. fullfsync makes synchronous=FULL durable on macOS too,
	// where a plain fsync leaves the write in the drive's cache; elsewhere
	// it is a no-op. busy_timeout (sqlitedb.DefaultBusyTimeout) is how
	// long a write waits for the other process: the agent and the
	// history window share the file.
	conns, err := sqlitedb.Open(ctx, path, sqlitedb.Options{
		Name:          "history",
		Program:       "xpush",
		NewerSchema:   ErrNewerSchema,
		Migrations:    migrationFiles,
		WriterPragmas: []string{"fullfsync(1)"},
		DirMode:       0o700,
		FileMode:      0o600,
		WrapError:     func(err error) error { return s.wrap("open", err) },
	})
	if err != nil {
		return nil, err
	}
	s.conns, s.w, s.r = conns, conns.W, conns.R
	if err := s.write(ctx, "prune", func(tx *sql.Tx) error {
		return s.prune(ctx, tx, s.now())
	}); err != nil {
		conns.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the store. A write that returned before Close is on disk
// whether or not Close is called.
func (s *Store) Close() error {
	return s.conns.Close()
}

// write runs f in a write transaction (BEGIN IMMEDIATE: it holds the
// file's write lock from the start) and commits it. With synchronous=FULL
// in WAL mode, the commit has reached the disk when write returns.
func (s *Store) write(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(op, err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return s.wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// wrap gives a database error the operation and, for the failures a user
// can do something about, a sentence saying what happened.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNewerSchema) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("%w: %s: %w", ErrDiskFull, op, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("history: %s: %s is locked by another program for too long: %w", op, s.path, err)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("history: %s: %s is read-only: %w", op, s.path, err)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("history: %s: %s is damaged or not a history file: %w", op, s.path, err)
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("history: %s: cannot open %s: %w", op, s.path, err)
		case sqlite3.SQLITE_IOERR:
			return fmt.Errorf("history: %s: input/output error on %s: %w", op, s.path, err)
		}
	}
	return fmt.Errorf("history: %s: %w", op, err)
}
