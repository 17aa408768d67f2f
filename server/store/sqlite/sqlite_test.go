package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/storetest"
)

// crashEnv names the database a re-executed test binary writes to until
// it is killed; see TestCrashSafety.
const crashEnv = "XPUSH_SQLITE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "xpushd.db"))
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
// the accounts and rows it summarizes, and the database's integrity.
func checkInvariants(t *testing.T, db *DB) {
	t.Helper()
	rows, err := db.r.Query(`SELECT n.id, n.untouched,
		(SELECT COUNT(*) FROM users AS u WHERE u.created <= n.created
			AND NOT EXISTS (SELECT 1 FROM deliveries AS d
				WHERE d.notification_id = n.id AND d.username = u.name))
		FROM notifications AS n WHERE n.broadcast = 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var stored, actual int
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
	for _, q := range []string{"integrity_check", "foreign_key_check"} {
		var res sql.NullString
		err := db.r.QueryRow("PRAGMA " + q).Scan(&res)
		if q == "foreign_key_check" && errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil || res.String != "ok" {
			t.Errorf("PRAGMA %s = %v, %v", q, res, err)
		}
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return checked{openTemp(t), t} })
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		return checked{db, t}
	})
}

// count counts the rows of a table; test-only, so the name is trusted.
func count(t testing.TB, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.r.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// addUsers inserts n accounts u00000... created at created, in one
// transaction (CreateUser would commit, and fsync, each). It bypasses
// the broadcast counters: call it before any broadcast.
func addUsers(t testing.TB, db *DB, n int, created time.Time) {
	t.Helper()
	err := db.write(t.Context(), func(tx *sql.Tx) error {
		for i := range n {
			if _, err := tx.Exec(`INSERT INTO users (name, created) VALUES (?, ?)`,
				fmt.Sprintf("u%05d", i), ns(created)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestMigrationsFromEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(ms) == 0 {
		t.Fatal(len(ms), err)
	}
	if got, want := pragma(t, db.w, "user_version"), fmt.Sprint(len(ms)); got != want {
		t.Errorf("user_version = %s, want %s", got, want)
	}
	rows, err := db.r.QueryContext(t.Context(),
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	want := []string{"api_tokens", "deliveries", "invites", "notifications", "settings", "users"}
	if !slices.Equal(tables, want) {
		t.Errorf("tables = %q, want %q", tables, want)
	}
	for _, tc := range []struct {
		db            *sql.DB
		pragma, value string
	}{
		{db.w, "journal_mode", "wal"},
		{db.w, "synchronous", "2"}, // FULL
		{db.w, "foreign_keys", "1"},
		{db.w, "busy_timeout", "10000"},
		{db.r, "journal_mode", "wal"},
		{db.r, "foreign_keys", "1"},
		{db.r, "query_only", "1"},
		{db.r, "busy_timeout", "10000"},
	} {
		if got := pragma(t, tc.db, tc.pragma); got != tc.value {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.value)
		}
	}
	if got := pragma(t, db.r, "integrity_check"); got != "ok" {
		t.Errorf("integrity_check = %s", got)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "xpushd.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, store.User{Name: "alice", Created: t0, SHA256: store.Credentials{Salt: []byte("s"), Iters: 4096}}); err != nil {
		t.Fatal(err)
	}
	n1 := store.Notification{ID: "n1", Title: "hi", To: []string{"alice"}, Created: t0.Add(time.Minute)}
	if err := db.Enqueue(ctx, &n1); err != nil {
		t.Fatal(err)
	}
	if err := db.SetAdminHash(ctx, []byte("h")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.User(ctx, "alice")
	if err != nil || u.SHA256.Iters != 4096 || !u.Created.Equal(t0) {
		t.Errorf("User after reopen = %+v, %v", u, err)
	}
	ps, err := db.Pending(ctx, "alice", t0.Add(time.Hour), 0)
	if err != nil || len(ps) != 1 || ps[0].ID != "n1" || ps[0].Title != "hi" {
		t.Errorf("Pending after reopen = %+v, %v", ps, err)
	}
	if h, err := db.AdminHash(ctx); err != nil || string(h) != "h" {
		t.Errorf("AdminHash after reopen = %q, %v", h, err)
	}
	// Seq keeps increasing across restarts.
	n2 := store.Notification{ID: "n2", Broadcast: true, Created: t0.Add(2 * time.Minute)}
	if err := db.Enqueue(ctx, &n2); err != nil {
		t.Fatal(err)
	}
	if n2.Seq <= n1.Seq {
		t.Errorf("Seq after reopen = %d, want > %d", n2.Seq, n1.Seq)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = Open(t.Context(), path)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open(future): %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{"999", "newer", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(future) error %q does not mention %q", err, want)
		}
	}
	t.Log(err)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(t.Context(), filepath.Join(dir, "missing", "x.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), junk); err == nil {
		t.Error("Open of a non-database file succeeded")
	}
	if _, err := Open(t.Context(), ""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}

// TestPathIsNotURI: characters that mean something in a URI are part of
// the file name.
func TestPathIsNotURI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.db?mode=ro")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetAdminHash(t.Context(), []byte("h")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}

// TestBroadcastStoredOnce: a broadcast to 1,000 accounts is one row, and
// a delivery row appears only when a recipient is touched.
func TestBroadcastStoredOnce(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	defer db.Close()
	addUsers(t, db, 1000, t0)
	b := store.Notification{ID: "b1", Title: "all", Broadcast: true, Created: t0.Add(time.Minute)}
	if err := db.Enqueue(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "notifications"); n != 1 {
		t.Errorf("notifications rows = %d, want 1", n)
	}
	if n := count(t, db, "deliveries"); n != 0 {
		t.Errorf("deliveries rows = %d, want 0", n)
	}
	if d, err := db.QueueDepth(ctx, t0.Add(time.Hour)); err != nil || d != 1000 {
		t.Errorf("QueueDepth = %d, %v; want 1000", d, err)
	}
	_, ds, err := db.Notification(ctx, "b1")
	if err != nil || len(ds) != 1000 {
		t.Fatalf("Notification(b1): %d deliveries, %v", len(ds), err)
	}
	if err := db.MarkSent(ctx, "b1", "u00007", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.Ack(ctx, "b1", "u00008", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "deliveries"); n != 2 {
		t.Errorf("deliveries rows after two touches = %d, want 2", n)
	}
	h, err := db.History(ctx, store.Page{})
	if err != nil || len(h) != 1 || h[0].Counts[store.StateQueued] != 998 || h[0].Counts[store.StateSent] != 1 || h[0].Counts[store.StateAcked] != 1 {
		t.Errorf("History = %+v, %v", h, err)
	}
	if n, err := db.Expire(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("Expire(no TTL) = %d, %v", n, err)
	}
}

// TestCrashSafety re-executes the test binary as a child that enqueues
// notifications in a loop, printing each ID once Enqueue has returned,
// and SIGKILLs it mid-stream. Every printed notification must be in the
// reopened database. (A kill tests the process dying, not the machine:
// the OS page cache survives it. Power loss is what synchronous=FULL is
// for.)
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "crash.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, store.User{Name: "alice", Created: t0}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Whatever happens here, the child does not outlive the test.
	t.Cleanup(func() { cmd.Process.Kill() })
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()

	const killAfter = 20
	var enqueued []string
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Error(err)
			}
			break // a line cut short by the kill does not count
		}
		id, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "enqueued ")
		if !ok {
			t.Fatalf("child: %q", line)
		}
		enqueued = append(enqueued, id)
		if len(enqueued) == killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if len(enqueued) < killAfter {
		t.Fatalf("child printed %d IDs before it ended (%v)", len(enqueued), err)
	}
	t.Logf("child killed after %d acknowledged enqueues (%v)", len(enqueued), err)

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := pragma(t, db.r, "integrity_check"); got != "ok" {
		t.Errorf("integrity_check = %s", got)
	}
	ps, err := db.Pending(ctx, "alice", t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	pending := make(map[string]bool, len(ps))
	for _, p := range ps {
		pending[p.ID] = true
	}
	for _, id := range enqueued {
		if !pending[id] {
			t.Errorf("%s: acknowledged to the caller but not pending after the crash", id)
		}
	}
}

// crashChild is TestCrashSafety's child process.
func crashChild(path string) int {
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range 100000 {
		n := store.Notification{
			ID: fmt.Sprintf("crash-%d", i), Title: "crash", To: []string{"alice"},
			Created: t0.Add(time.Duration(i)),
		}
		if err := db.Enqueue(ctx, &n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("enqueued %s\n", n.ID) // os.Stdout is unbuffered
	}
	return 0
}

func BenchmarkEnqueue(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	defer db.Close()
	if err := db.CreateUser(ctx, store.User{Name: "alice", Created: t0}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		n := store.Notification{
			ID: fmt.Sprintf("n%d", i), Title: "title", Message: "message", URI: "https://example.com/",
			To: []string{"alice"}, Created: t0.Add(time.Duration(i)), Expires: t0.Add(24 * time.Hour),
		}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}

// BenchmarkEnqueueParallel: writers from many goroutines queue on the
// one write connection; each commit is still its own fsync.
func BenchmarkEnqueueParallel(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	defer db.Close()
	if err := db.CreateUser(ctx, store.User{Name: "alice", Created: t0}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			n := store.Notification{ID: fmt.Sprintf("n%d", i), Title: "t", To: []string{"alice"}, Created: t0}
			if err := db.Enqueue(ctx, &n); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}

// setupBroadcasts makes 10,000 accounts and 100 broadcasts; the first
// touched accounts have acked every other broadcast.
func setupBroadcasts(b *testing.B, touched int) *DB {
	ctx := b.Context()
	db := openTemp(b)
	addUsers(b, db, 10000, t0)
	for i := range 100 {
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Title: "all", Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Minute)}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			continue
		}
		for u := range touched {
			if err := db.Ack(ctx, n.ID, fmt.Sprintf("u%05d", u), t0.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return db
}

func BenchmarkBroadcastPending(b *testing.B) {
	ctx := b.Context()
	db := setupBroadcasts(b, 1)
	defer db.Close()
	for _, tc := range []struct {
		name, user string
		want       int
	}{
		{"untouched", "u05000", 100},
		{"half-acked", "u00000", 50},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				ps, err := db.Pending(ctx, tc.user, t0.Add(24*time.Hour), 0)
				if err != nil || len(ps) != tc.want {
					b.Fatalf("Pending = %d, %v; want %d", len(ps), err, tc.want)
				}
			}
		})
	}
}

// BenchmarkQueueDepth is the /metrics query with 10,000 accounts and 100
// live broadcasts.
func BenchmarkQueueDepth(b *testing.B) {
	ctx := b.Context()
	db := setupBroadcasts(b, 1)
	defer db.Close()
	for b.Loop() {
		if d, err := db.QueueDepth(ctx, t0.Add(24*time.Hour)); err != nil || d != 100*10000-50 {
			b.Fatalf("QueueDepth = %d, %v", d, err)
		}
	}
}

// BenchmarkPending is the login path's query for an account with nothing
// pending, among 10,000 accounts.
func BenchmarkPending(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	defer db.Close()
	addUsers(b, db, 10000, t0)
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf("u%05d", i)
	}
	now := t0.Add(time.Hour)
	i := 0
	for b.Loop() {
		ps, err := db.Pending(ctx, names[i%len(names)], now, 0)
		if err != nil || len(ps) != 0 {
			b.Fatalf("Pending = %d, %v; want 0", len(ps), err)
		}
		i++
	}
}

// BenchmarkRecordBroadcast is the delivery path for one broadcast to
// 10,000 accounts: Record of the 10,000 sent changes, then of the 10,000
// acks. Each op is a new broadcast (enqueued outside the timer).
func BenchmarkRecordBroadcast(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	defer db.Close()
	const users = 10000
	addUsers(b, db, users, t0)
	sent := make([]store.Change, users)
	acked := make([]store.Change, users)
	i := 0
	for b.Loop() {
		b.StopTimer()
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Title: "all", Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Second)}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
		for u := range users {
			name := fmt.Sprintf("u%05d", u)
			sent[u] = store.Change{ID: n.ID, User: name, State: store.StateSent, At: n.Created.Add(time.Second)}
			acked[u] = store.Change{ID: n.ID, User: name, State: store.StateAcked, At: n.Created.Add(2 * time.Second)}
		}
		b.StartTimer()
		if err := db.Record(ctx, sent); err != nil {
			b.Fatal(err)
		}
		if err := db.Record(ctx, acked); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N*users)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkRecordBroadcastAcks records the acks of a broadcast to 10,000
// users in batches of 1,024, as xpushd's recorder does when every
// recipient acks within its hold on sent states: one row per recipient.
func BenchmarkRecordBroadcastAcks(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	defer db.Close()
	const users, batch = 10000, 1024
	addUsers(b, db, users, t0)
	changes := make([]store.Change, 0, 2*users)
	i := 0
	for b.Loop() {
		b.StopTimer()
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Title: "all", Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Second)}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
		changes = changes[:0]
		for u := range users {
			name := fmt.Sprintf("u%05d", (u*7919)%users) // acks come in no order
			changes = append(changes,
				store.Change{ID: n.ID, User: name, State: store.StateSent, At: n.Created.Add(time.Second)},
				store.Change{ID: n.ID, User: name, State: store.StateAcked, At: n.Created.Add(2 * time.Second)})
		}
		b.StartTimer()
		for lo := 0; lo < len(changes); lo += batch {
			if err := db.Record(ctx, changes[lo:min(lo+batch, len(changes))]); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
	b.ReportMetric(float64(b.N*users)/b.Elapsed().Seconds(), "deliveries/s")
}
