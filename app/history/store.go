package history

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Retention defaults.
const (
	// DefaultMaxEntries bounds the history by count: a few megabytes of
	// notifications, and a list the window still shows at once.
	DefaultMaxEntries = 10_000
	// DefaultMaxAge bounds it by age: a season of notifications.
	DefaultMaxAge = 90 * 24 * time.Hour
)

// Connection settings.
const (
	// busyTimeout is how long a write waits for the other process (the
	// agent and the history window share the file) before giving up.
	busyTimeout = 10 * time.Second
	// readConns bounds the read pool; WAL readers block neither each
	// other nor the writer.
	readConns = 4
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
	w          *sql.DB // exactly one connection: every write
	r          *sql.DB // read-only pool
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
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	return open(ctx, path, opts, ms)
}

func open(ctx context.Context, path string, opts Options, ms []migration) (*Store, error) {
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
	if err := createFile(path); err != nil {
		return nil, err
	}
	uri, err := fileURI(path)
	if err != nil {
		return nil, err
	}

	// fullfsync makes synchronous=FULL durable on macOS too, where a plain
	// fsync leaves the write in the drive's cache; elsewhere it is a no-op.
	timeout := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	pragmas := "_pragma=busy_timeout(" + timeout + ")"
	w, err := sql.Open("sqlite", uri+"?"+pragmas+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=fullfsync(1)&_txlock=immediate")
	if err != nil {
		return nil, s.wrap("open", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s.w = w
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, s.wrap("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("history: open %s: journal mode is %q, not WAL", path, mode)
	}
	if err := s.migrate(ctx, ms); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.write(ctx, "prune", func(tx *sql.Tx) error {
		return s.prune(ctx, tx, s.now())
	}); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", uri+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, s.wrap("open", err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, s.wrap("open", err)
	}
	s.r = r
	return s, nil
}

// createFile makes path's directory (0700) and the file itself (0600)
// before SQLite does, since SQLite would create it readable by everyone;
// the -wal and -shm files take the mode of the database file. An
// existing file readable by others is made private.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	return nil
}

// fileURI turns a file path into an SQLite URI, so that characters such
// as ? and # in the path are not read as URI syntax.
func fileURI(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("history: %w", err)
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

// Close closes the store. A write that returned before Close is on disk
// whether or not Close is called.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
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
		return nil, fmt.Errorf("history: migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("history: migration %s: name is not NNNN_name.sql", base)
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("history: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(text)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("history: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations the file lacks, one transaction each.
// Each transaction reads the version again under the write lock, so two
// processes opening a new file at once do not both apply a migration.
func (s *Store) migrate(ctx context.Context, ms []migration) error {
	for {
		done := false
		err := s.write(ctx, "open", func(tx *sql.Tx) error {
			var v int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
				return err
			}
			switch {
			case v > len(ms):
				return fmt.Errorf("%w: %s has schema version %d, this program knows versions up to %d; use a newer xpush",
					ErrNewerSchema, s.path, v, len(ms))
			case v == len(ms):
				done = true
				return nil
			}
			m := ms[v]
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
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
