package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/postgres/pgtest"
	"github.com/xpush/xpush/server/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// openTemp opens a store in a fresh schema, closed when t ends.
func openTemp(t testing.TB) *DB {
	t.Helper()
	db := openDSN(t, pgtest.New(t))
	t.Cleanup(func() { db.Close() })
	return db
}

func openDSN(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// checked checks the stored invariants when the suite closes it.
type checked struct {
	*DB
	t *testing.T
}

func (c checked) Close() error {
	checkInvariants(c.t, c.DB)
	return c.DB.Close()
}

// checkInvariants verifies the denormalized broadcast counter against
// the accounts and rows it summarizes.
func checkInvariants(t *testing.T, db *DB) {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), `SELECT n.id, n.untouched,
		(SELECT count(*) FROM users AS u WHERE u.created <= n.created
			AND NOT EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username = u.name))
		FROM notifications AS n WHERE n.broadcast`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var stored, actual int64
		if err := rows.Scan(&id, &stored, &actual); err != nil {
			t.Fatal(err)
		}
		if stored != actual {
			t.Errorf("broadcast %s: untouched = %d, want %d", id, stored, actual)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The references that foreign keys would keep.
	var orphans int
	err = db.pool.QueryRow(context.Background(), `SELECT count(*) FROM deliveries AS d
		WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.name = d.username)
		OR NOT EXISTS (SELECT 1 FROM notifications AS n WHERE n.id = d.notification_id)`).Scan(&orphans)
	if err != nil || orphans != 0 {
		t.Errorf("%d deliveries without their account or notification, %v", orphans, err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return checked{openDSN(t, pgtest.New(t)), t} })
}

func TestMigrationsFromEmpty(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	ms, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(ms) == 0 {
		t.Fatal(len(ms), err)
	}
	var v int
	if err := db.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(ms) {
		t.Errorf("schema_version = %d, %v; want %d", v, err, len(ms))
	}
	rows, err := db.pool.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	want := []string{"api_tokens", "deliveries", "invites", "notifications", "schema_version", "settings", "users"}
	if !slices.Equal(tables, want) {
		t.Errorf("tables = %q, want %q", tables, want)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	db := openDSN(t, dsn)
	if err := db.CreateUser(ctx, store.User{Name: "alice", Created: t0}); err != nil {
		t.Fatal(err)
	}
	n1 := store.Notification{ID: "n1", Title: "hi", To: []string{"alice"}, Created: t0.Add(time.Minute)}
	if err := db.Enqueue(ctx, &n1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDSN(t, dsn)
	defer db.Close()
	ps, err := db.Pending(ctx, "alice", t0.Add(time.Hour), 0)
	if err != nil || len(ps) != 1 || ps[0].ID != "n1" {
		t.Errorf("Pending after reopen = %+v, %v", ps, err)
	}
	n2 := store.Notification{ID: "n2", Broadcast: true, Created: t0.Add(2 * time.Minute)}
	if err := db.Enqueue(ctx, &n2); err != nil || n2.Seq <= n1.Seq {
		t.Errorf("Enqueue after reopen: Seq %d after %d, %v", n2.Seq, n1.Seq, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	db := openDSN(t, dsn)
	if _, err := db.pool.Exec(ctx, `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(ctx, dsn)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open(newer schema) = %v, want ErrNewerSchema", err)
	}
	t.Log(err)
}

// TestMigrationFailsWhole: a migration that fails leaves neither its
// changes nor a version bump, and the earlier ones stay applied.
func TestMigrationFailsWhole(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	bad := fstest.MapFS{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("migrations/%04d_m.sql", i)
		bad[name] = &fstest.MapFile{Data: fmt.Appendf(nil, "CREATE TABLE m%d (x int);", i)}
	}
	bad["migrations/0003_m.sql"].Data = []byte("CREATE TABLE m3 (x int); SELECT no_such_function();")
	err := db.migrateFS(ctx, bad)
	if err == nil {
		t.Fatal("migrate with a failing migration: no error")
	}
	t.Log(err)
	var v int
	if err := db.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil || v != 2 {
		t.Errorf("version = %d, %v; want 2", v, err)
	}
	var m3 bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('m3') IS NOT NULL`).Scan(&m3); err != nil || m3 {
		t.Errorf("table m3 exists = %v, %v; want rolled back", m3, err)
	}
}

// TestOpenConcurrently: instances starting together on a new schema
// apply each migration once.
func TestOpenConcurrently(t *testing.T) {
	dsn := pgtest.New(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := Open(t.Context(), dsn)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := Open(ctx, "postgres://u:secret@[::1"); !errors.Is(err, store.ErrInvalid) || contains(err, "secret") {
		t.Errorf("Open(bad DSN) = %v", err)
	}
	dsn := pgtest.New(t)
	missing, err := pgtest.WithSearchPath(dsn, "no_such_schema")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, missing); err == nil {
		t.Error("Open(missing schema): no error")
	} else {
		t.Log(err)
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// TestTextTheDatabaseRefuses: a NUL byte in text is ErrInvalid, not an
// internal error.
func TestTextTheDatabaseRefuses(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	if err := db.CreateUser(ctx, store.User{Name: "a\x00b", Created: t0}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateUser(NUL) = %v, want ErrInvalid", err)
	}
	if err := db.CreateUser(ctx, store.User{Name: "alice", Created: t0}); err != nil {
		t.Fatal(err)
	}
	n := store.Notification{ID: "n1", Title: "t\x00", To: []string{"alice"}, Created: t0}
	if err := db.Enqueue(ctx, &n); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Enqueue(NUL title) = %v, want ErrInvalid", err)
	}
}

// TestBytewiseLikeMemory: names sort byte by byte and searches fold
// ASCII letters only, as in store.Memory and SQLite, whatever the
// database's locale: every text column has the "C" collation.
func TestBytewiseLikeMemory(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	var other []string
	rows, err := db.pool.Query(ctx, `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'text'
		AND table_name != 'schema_version' AND collation_name IS DISTINCT FROM 'C'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		other = append(other, c)
	}
	if len(other) > 0 {
		t.Errorf("text columns without COLLATE \"C\": %q", other)
	}
	mem := store.NewMemory()
	for _, s := range []store.Store{db, mem} {
		for _, name := range []string{"émile", "Zed", "Émile", "alice", "bob", "Bob"} {
			if err := s.CreateUser(ctx, store.User{Name: name, Created: t0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{"", "é", "É", "b", "B", "mile"} {
		got, err1 := db.ListUsers(ctx, store.Page{Query: q})
		want, err2 := mem.ListUsers(ctx, store.Page{Query: q})
		g, w := make([]string, 0), make([]string, 0)
		for _, u := range got {
			g = append(g, u.Name)
		}
		for _, u := range want {
			w = append(w, u.Name)
		}
		if err1 != nil || err2 != nil || !slices.Equal(g, w) {
			t.Errorf("ListUsers(%q) = %q, %v; memory %q, %v", q, g, err1, w, err2)
		}
	}
}
