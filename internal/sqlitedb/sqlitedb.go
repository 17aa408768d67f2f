package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Defaults for the zero Options fields.
const (
	// DefaultBusyTimeout is how long a statement waits for another
	// process's lock on the file before it fails with SQLITE_BUSY.
	DefaultBusyTimeout = 10 * time.Second
	// DefaultReadConns bounds the read pool; SQLite readers in WAL mode
	// block neither each other nor the writer.
	DefaultReadConns = 4
)

// ErrNewerSchema is what Open's error for a database with a newer schema
// wraps when Options.NewerSchema is nil.
var ErrNewerSchema = errors.New("sqlitedb: database schema is newer than this program")

// Options say how Open opens a database. The zero value opens a file that
// must exist in a directory that must exist, with no migrations.
type Options struct {
	// Name begins Open's error messages: "sqlite" gives
	// "sqlite: open x.db: ...". Empty means "sqlitedb".
	Name string
	// Program names the program in the advice that ends the error for a
	// newer schema: "use a newer <Program>". Empty means "program".
	Program string
	// NewerSchema is the error that Open's error for a database whose
	// schema version is beyond Migrations wraps, for errors.Is. nil means
	// ErrNewerSchema.
	NewerSchema error
	// Migrations holds the schema as migrations/NNNN_name.sql, numbered
	// 1, 2, 3... without gaps. nil means no migrations.
	Migrations fs.FS

	// Pragmas are pragmas every connection (writer and readers) sets
	// after busy_timeout, each as the driver's _pragma parameter takes
	// it: "foreign_keys(1)".
	Pragmas []string
	// WriterPragmas are pragmas the writer of a database file sets after
	// journal_mode(WAL) and synchronous(FULL): "fullfsync(1)".
	WriterPragmas []string
	// BusyTimeout is every connection's busy_timeout; 0 means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// ReadConns bounds the read pool; 0 means DefaultReadConns.
	ReadConns int

	// DirMode, if not 0, makes Open create the file's directory (and
	// its parents) with this mode if it is missing.
	DirMode fs.FileMode
	// FileMode, if not 0, makes Open create the file with this mode
	// before SQLite does (SQLite would create it readable by everyone;
	// the -wal and -shm files take the mode of the database file), and
	// take from an existing file the group and other permissions
	// FileMode lacks. Not on Windows, which has no such modes.
	FileMode fs.FileMode
	// Memory makes the path ":memory:" open a private in-memory database
	// on one connection (DB.R == DB.W, nothing durable), for tests.
	Memory bool

	// WrapError, if not nil, turns an error from the database while
	// opening it (a connection that would not open, a failed statement
	// or migration) into Open's error. nil gives
	// "<Name>: open <path>: <err>". It is not given the error for a
	// newer schema, nor those for the file system.
	WrapError func(err error) error
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "sqlitedb"
	}
	if o.Program == "" {
		o.Program = "program"
	}
	if o.NewerSchema == nil {
		o.NewerSchema = ErrNewerSchema
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.ReadConns == 0 {
		o.ReadConns = DefaultReadConns
	}
	return o
}

// dbErr is Open's error for err from the database at path.
func (o *Options) dbErr(path string, err error) error {
	if o.WrapError != nil {
		return o.WrapError(err)
	}
	return fmt.Errorf("%s: open %s: %w", o.Name, path, err)
}

// DB is an open database: one writer connection and a pool of readers.
type DB struct {
	W *sql.DB // exactly one connection: every write, transactions IMMEDIATE
	R *sql.DB // read-only (query_only) pool; == W for an in-memory database
}

// Open opens the database at path, creating it if needed, and applies
// the migrations it lacks.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	o := opts.withDefaults()
	ms, err := loadMigrations(o.Name, o.Migrations)
	if err != nil {
		return nil, err
	}
	return open(ctx, path, &o, ms)
}

func open(ctx context.Context, path string, o *Options, ms []migration) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%s: empty database path", o.Name)
	}
	pragmas := "_pragma=busy_timeout(" + strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10) + ")"
	for _, p := range o.Pragmas {
		pragmas += "&_pragma=" + p
	}
	if o.Memory && path == ":memory:" {
		w, err := sql.Open("sqlite", "file::memory:?"+pragmas+"&_txlock=immediate")
		if err != nil {
			return nil, o.dbErr(path, err)
		}
		oneConn(w)
		if err := migrate(ctx, w, path, o, ms); err != nil {
			w.Close()
			return nil, err
		}
		return &DB{W: w, R: w}, nil
	}

	if err := o.createFile(path); err != nil {
		return nil, err
	}
	uri, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Name, err)
	}
	wp := pragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	for _, p := range o.WriterPragmas {
		wp += "&_pragma=" + p
	}
	w, err := sql.Open("sqlite", uri+"?"+wp+"&_txlock=immediate")
	if err != nil {
		return nil, o.dbErr(path, err)
	}
	oneConn(w)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, o.dbErr(path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("%s: open %s: journal mode is %q, not WAL", o.Name, path, mode)
	}
	if err := migrate(ctx, w, path, o, ms); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", uri+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, o.dbErr(path, err)
	}
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, o.dbErr(path, err)
	}
	return &DB{W: w, R: r}, nil
}

// oneConn keeps db to one connection, open for as long as db is.
func oneConn(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

// createFile makes path's directory and the file itself, as DirMode and
// FileMode ask.
func (o *Options) createFile(path string) error {
	if o.DirMode != 0 {
		if err := os.MkdirAll(filepath.Dir(path), o.DirMode); err != nil {
			return fmt.Errorf("%s: %w", o.Name, err)
		}
	}
	if o.FileMode == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, o.FileMode)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Name, err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", o.Name, err)
	}
	perm := fi.Mode().Perm()
	if extra := perm & 0o077 &^ o.FileMode; runtime.GOOS != "windows" && extra != 0 {
		if err := os.Chmod(path, perm&^extra); err != nil {
			return fmt.Errorf("%s: %w", o.Name, err)
		}
	}
	return nil
}

// fileURI turns a file path into an SQLite URI, so that characters such
// as ? and # in the path are not read as URI syntax.
func fileURI(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
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
	if db.R != db.W {
		err = db.R.Close()
	}
	return errors.Join(err, db.W.Close())
}
