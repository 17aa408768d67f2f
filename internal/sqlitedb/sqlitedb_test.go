package sqlitedb

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func openT(t *testing.T, path string, o Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	db := openT(t, path, Options{
		Pragmas:       []string{"foreign_keys(1)"},
		WriterPragmas: []string{"cache_size(-1234)"},
		ReadConns:     2,
	})
	if db.R == db.W {
		t.Fatal("a file database shares its reader and writer")
	}
	for _, tc := range []struct {
		db          *sql.DB
		names, want string
	}{
		{db.W, "journal_mode synchronous foreign_keys busy_timeout cache_size query_only", "wal 2 1 10000 -1234 0"},
		{db.R, "journal_mode foreign_keys busy_timeout query_only", "wal 1 10000 1"},
	} {
		var got []string
		for name := range strings.FieldsSeq(tc.names) {
			got = append(got, pragma(t, tc.db, name))
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.names, g, tc.want)
		}
	}
	if s := db.W.Stats(); s.MaxOpenConnections != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", s.MaxOpenConnections)
	}
	if s := db.R.Stats(); s.MaxOpenConnections != 2 {
		t.Errorf("reader MaxOpenConnections = %d, want 2", s.MaxOpenConnections)
	}
	// Transactions on the writer take the write lock at BEGIN.
	other := openT(t, path, Options{BusyTimeout: 1})
	tx, err := db.W.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := other.W.BeginTx(t.Context(), nil); err == nil {
		t.Error("a second writer began a transaction while the first held the lock")
	}
}

func TestMemory(t *testing.T) {
	fsys := fstest.MapFS{"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")}}
	db := openT(t, ":memory:", Options{Memory: true, Migrations: fsys, Pragmas: []string{"foreign_keys(1)"}})
	if db.R != db.W {
		t.Error("an in-memory database has a separate reader")
	}
	if v := pragma(t, db.W, "user_version"); v != "1" {
		t.Errorf("user_version = %s, want 1", v)
	}
	if v := pragma(t, db.W, "foreign_keys"); v != "1" {
		t.Errorf("foreign_keys = %s, want 1", v)
	}
	if _, err := os.Stat(":memory:"); err == nil {
		t.Error(`Open(":memory:") created a file`)
	}
}

func TestPathWithURISyntax(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%41d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.db")
	db := openT(t, path, Options{})
	if _, err := db.W.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %s: %v", path, err)
	}
}

func TestMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1); THIS IS NOT SQL;")},
	}
	o := Options{Name: "test", Migrations: fsys}
	_, err := Open(t.Context(), path, o)
	if err == nil || !strings.HasPrefix(err.Error(), "test: open "+path+": migration 0002_b.sql: ") {
		t.Fatalf("Open with a broken migration: %v, want an error naming 0002_b.sql", err)
	}
	// Version 1 stayed, and nothing of version 2.
	ms, err := loadMigrations("test", fsys)
	if err != nil {
		t.Fatal(err)
	}
	o1 := o.withDefaults()
	db, err := open(t.Context(), path, &o1, ms[:1])
	if err != nil {
		t.Fatal(err)
	}
	if v := pragma(t, db.W, "user_version"); v != "1" {
		t.Errorf("user_version = %s, want 1", v)
	}
	if n := count(t, db.R, "SELECT COUNT(*) FROM a"); n != 0 {
		t.Errorf("table a has %d rows, want 0", n)
	}
	if n := count(t, db.R, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'b'"); n != 0 {
		t.Error("table b exists after the failed migration")
	}
	db.Close()

	fsys["migrations/0002_b.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1);")}
	db = openT(t, path, o)
	if v := pragma(t, db.W, "user_version"); v != "2" {
		t.Errorf("user_version = %s, want 2", v)
	}
	if n := count(t, db.R, "SELECT COUNT(*) FROM a"); n != 1 {
		t.Errorf("table a has %d rows, want 1", n)
	}
	// Nothing left to do.
	db.Close()
	db = openT(t, path, o)
	if v := pragma(t, db.W, "user_version"); v != "2" {
		t.Errorf("user_version on reopening = %s, want 2", v)
	}
}

func TestWrapError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	fsys := fstest.MapFS{"migrations/0001_bad.sql": {Data: []byte("NOT SQL;")}}
	var wrapped []error
	_, err := Open(t.Context(), path, Options{Migrations: fsys, WrapError: func(err error) error {
		wrapped = append(wrapped, err)
		return fmt.Errorf("wrapped: %w", err)
	}})
	if err == nil || !strings.HasPrefix(err.Error(), "wrapped: migration 0001_bad.sql: ") {
		t.Errorf("Open = %v, want the wrapped migration error", err)
	}
	if len(wrapped) != 1 {
		t.Errorf("WrapError called %d times, want 1", len(wrapped))
	}

	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := errors.New("sentinel")
	_, err = Open(t.Context(), junk, Options{WrapError: func(err error) error {
		return fmt.Errorf("%w: %w", sentinel, err)
	}})
	if !errors.Is(err, sentinel) {
		t.Errorf("Open(junk) = %v, want it wrapped", err)
	}
	_, err = Open(t.Context(), junk, Options{Name: "test"})
	if err == nil || !strings.HasPrefix(err.Error(), "test: open "+junk+": ") {
		t.Errorf("Open(junk) = %v", err)
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db := openT(t, path, Options{})
	if _, err := db.W.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	fsys := fstest.MapFS{"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x);")}}
	mine := errors.New("mine: newer")
	_, err := Open(t.Context(), path, Options{
		Migrations:  fsys,
		NewerSchema: mine,
		Program:     "prog",
		WrapError:   func(err error) error { t.Errorf("WrapError(%v)", err); return err },
	})
	want := "mine: newer: " + path + " has schema version 999, this program knows versions up to 1; use a newer prog"
	if !errors.Is(err, mine) || err.Error() != want {
		t.Errorf("Open(future) = %v, want %s", err, want)
	}
	if _, err := Open(t.Context(), path, Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open(future) = %v, want ErrNewerSchema", err)
	}
}

func TestLoadMigrationsChecksNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"no number": {"migrations/init.sql": {}},
		"zero":      {"migrations/0000_a.sql": {}},
		"duplicate": {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
	} {
		if _, err := loadMigrations("test", fsys); err == nil {
			t.Errorf("%s: loadMigrations succeeded", name)
		} else if !strings.HasPrefix(err.Error(), "test: migration ") {
			t.Errorf("%s: error %q does not begin with the name", name, err)
		}
		if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), Options{Migrations: fsys}); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	ms, err := loadMigrations("test", fstest.MapFS{
		"migrations/0002_b.sql": {Data: []byte("B")},
		"migrations/0001_a.sql": {Data: []byte("A")},
		"other/0003_c.sql":      {Data: []byte("C")},
	})
	if err != nil || len(ms) != 2 || ms[0] != (migration{1, "0001_a.sql", "A"}) || ms[1] != (migration{2, "0002_b.sql", "B"}) {
		t.Errorf("loadMigrations = %+v, %v", ms, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(t.Context(), "", Options{Name: "test"}); err == nil || err.Error() != "test: empty database path" {
		t.Errorf(`Open("") = %v`, err)
	}
	if _, err := Open(t.Context(), filepath.Join(dir, "missing", "x.db"), Options{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	if _, err := Open(t.Context(), filepath.Join(dir, "missing", "x.db"), Options{FileMode: 0o600}); err == nil {
		t.Error("Open with FileMode in a missing directory succeeded")
	}
	// Without Memory, ":memory:" is a file name.
	t.Chdir(dir)
	openT(t, ":memory:", Options{})
	if _, err := os.Stat(filepath.Join(dir, ":memory:")); err != nil {
		t.Errorf(`Open(":memory:") without Memory: %v`, err)
	}
}

func TestModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	path := filepath.Join(t.TempDir(), "a", "b", "x.db")
	db := openT(t, path, Options{DirMode: 0o700, FileMode: 0o600})
	if _, err := db.W.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(path), filepath.Dir(filepath.Dir(path))} {
		if m := mode(d); m != 0o700 {
			t.Errorf("directory %s mode %o, want 700", d, m)
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m := mode(p); m != 0o600 {
			t.Errorf("%s mode %o, want 600", filepath.Base(p), m)
		}
	}

	// An existing file loses the group and other permissions FileMode
	// lacks, and keeps the rest.
	for _, tc := range []struct {
		fileMode, before, after os.FileMode
	}{
		{0o600, 0o644, 0o600},
		{0o600, 0o755, 0o700},
		{0o600, 0o600, 0o600},
		{0o640, 0o666, 0o640},
	} {
		other := filepath.Join(t.TempDir(), "old.db")
		if err := os.WriteFile(other, nil, tc.before); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(other, tc.before); err != nil { // whatever the umask
			t.Fatal(err)
		}
		openT(t, other, Options{FileMode: tc.fileMode})
		if m := mode(other); m != tc.after {
			t.Errorf("FileMode %o: existing file mode %o became %o, want %o", tc.fileMode, tc.before, m, tc.after)
		}
	}
}
