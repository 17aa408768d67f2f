package history

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/notification"
)

// t0 is the fixed clock's start.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fixed clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStore opens path and closes it when the test ends.
func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// newStore opens a fresh history in a temporary directory, with the
// fixed clock c (time.Now when nil).
func newStore(t testing.TB, c *clock, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xpush", "history.db")
	if c != nil {
		opts.Now = c.Now
	}
	return openStore(t, path, opts), path
}

func entry(key string, received time.Time) Entry {
	return Entry{
		Key: key, ID: strings.TrimPrefix(key, "iq:"), Title: "title " + key, Message: "message " + key,
		From: "push.example.org", Kind: notification.KindIQ, Received: received,
	}
}

func mustAdd(t testing.TB, s *Store, e Entry) {
	t.Helper()
	added, err := s.Add(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if !added {
		t.Fatalf("Add(%q) = false, want true", e.Key)
	}
}

func keys(es []Entry) []string {
	var ks []string
	for _, e := range es {
		ks = append(ks, e.Key)
	}
	return ks
}

func listKeys(t testing.TB, s *Store, q Query) []string {
	t.Helper()
	es, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return keys(es)
}

func version(t testing.TB, s *Store) int64 {
	t.Helper()
	v, err := s.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkCounters compares the counts the triggers keep with the table.
func checkCounters(t testing.TB, s *Store) {
	t.Helper()
	var entries, unread, realEntries, realUnread int
	ctx := context.Background()
	if err := s.r.QueryRowContext(ctx, `SELECT entries, unread FROM meta`).Scan(&entries, &unread); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE is_read = 0) FROM entries`).
		Scan(&realEntries, &realUnread); err != nil {
		t.Fatal(err)
	}
	if entries != realEntries || unread != realUnread {
		t.Errorf("meta counts entries=%d unread=%d, table has %d and %d", entries, unread, realEntries, realUnread)
	}
}

func TestAddDedupe(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, _ := newStore(t, c, Options{})
	e := entry("iq:1", c.Now())
	e.URI = "javascript:alert(1)"
	e.URIUnsafe = true
	mustAdd(t, s, e)
	v := version(t, s)

	dup := e
	dup.Title = "changed"
	added, err := s.Add(ctx, dup)
	if err != nil || added {
		t.Fatalf("Add(duplicate) = %v, %v; want false, nil", added, err)
	}
	if got := version(t, s); got != v {
		t.Errorf("Version changed on a duplicate: %d -> %d", v, got)
	}
	got, err := s.Get(ctx, "iq:1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Received.Equal(e.Received) {
		t.Errorf("Received = %v, want %v", got.Received, e.Received)
	}
	got.Received = e.Received
	if got != e {
		t.Errorf("Get = %+v, want %+v", got, e)
	}

	// No key, no time: a random key and now.
	for range 2 {
		mustAdd(t, s, Entry{Title: "keyless"})
	}
	es, err := s.List(ctx, Query{Search: "keyless"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Key == es[1].Key || !strings.HasPrefix(es[0].Key, randomPrefix) {
		t.Errorf("keyless entries: %+v", es)
	}
	if !es[0].Received.Equal(c.Now()) {
		t.Errorf("Received = %v, want the clock's %v", es[0].Received, c.Now())
	}
	if _, err := s.Get(ctx, "iq:none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	checkCounters(t, s)
}

func TestFromNotification(t *testing.T) {
	n := &notification.Notification{
		ID: "n1", Title: "T", Message: "M", URI: "https://example.org/", From: "push.example.org",
		Kind: notification.KindIQ, Received: t0,
	}
	e := FromNotification(n)
	want := Entry{
		Key: "iq:n1", ID: "n1", Title: "T", Message: "M", URI: "https://example.org/",
		From: "push.example.org", Kind: notification.KindIQ, Received: t0,
	}
	if e != want {
		t.Errorf("FromNotification = %+v, want %+v", e, want)
	}
	m := &notification.Notification{Title: "T", Kind: notification.KindMessage, From: "a@example.org"}
	a, b := FromNotification(m), FromNotification(m)
	if !strings.HasPrefix(a.Key, randomPrefix) || a.Key == b.Key {
		t.Errorf("keys of a notification without ids: %q, %q", a.Key, b.Key)
	}
	m.StanzaID = "s1"
	if k := FromNotification(m).Key; k != m.DedupeKey() {
		t.Errorf("Key = %q, want %q", k, m.DedupeKey())
	}
}

func TestListOrder(t *testing.T) {
	c := newClock()
	s, _ := newStore(t, c, Options{})
	mustAdd(t, s, entry("iq:b", t0.Add(2*time.Minute)))
	mustAdd(t, s, entry("iq:a", t0.Add(time.Minute)))
	mustAdd(t, s, entry("iq:c", t0.Add(3*time.Minute)))
	// Same instant: the later insertion is newer.
	mustAdd(t, s, entry("iq:d1", t0.Add(4*time.Minute)))
	mustAdd(t, s, entry("iq:d2", t0.Add(4*time.Minute)))

	all := []string{"iq:d2", "iq:d1", "iq:c", "iq:b", "iq:a"}
	if got := listKeys(t, s, Query{}); !slices.Equal(got, all) {
		t.Errorf("List = %q, want %q", got, all)
	}
	for _, tc := range []struct {
		limit, offset int
		want          []string
	}{
		{2, 0, all[:2]},
		{2, 2, all[2:4]},
		{2, 4, all[4:]},
		{0, 3, all[3:]},
		{10, 10, nil},
		{-1, -1, all},
	} {
		if got := listKeys(t, s, Query{Limit: tc.limit, Offset: tc.offset}); !slices.Equal(got, tc.want) {
			t.Errorf("List(limit %d, offset %d) = %q, want %q", tc.limit, tc.offset, got, tc.want)
		}
	}
}

func TestSearch(t *testing.T) {
	s, _ := newStore(t, newClock(), Options{})
	add := func(key, title, message, uri, from string) {
		t.Helper()
		mustAdd(t, s, Entry{Key: key, Title: title, Message: message, URI: uri, From: from, Received: t0})
	}
	add("pct", "100% sure", "", "", "")
	add("pct-no", "100 percent", "", "", "")
	add("under", "a_b", "", "", "")
	add("under-no", "axb", "", "", "")
	add("slash", `back\slash`, "", "", "")
	add("quote", `it's "quoted"`, "", "", "")
	add("umlaut", "ÄRGER im Büro", "", "", "")
	add("msg", "", "Deploy FINISHED", "", "")
	add("uri", "", "", "https://Example.ORG/path?q=1", "")
	add("from", "", "", "", "Alice@Example.org/Res")

	for _, tc := range []struct {
		search string
		want   []string
	}{
		{"", nil}, // all, checked below
		{"%", []string{"pct"}},
		{"100%", []string{"pct"}},
		{"100", []string{"pct", "pct-no"}},
		{"_", []string{"under"}},
		{"a_b", []string{"under"}},
		{`\`, []string{"slash"}},
		{`k\s`, []string{"slash"}},
		{`'`, []string{"quote"}},
		{`"quoted"`, []string{"quote"}},
		{"ärger", []string{"umlaut"}},
		{"BÜRO", []string{"umlaut"}},
		{"finished", []string{"msg"}},
		{"example.org/PATH", []string{"uri"}},
		{"alice@", []string{"from"}},
		{"example", []string{"uri", "from"}},
		{"  ärger   büro ", []string{"umlaut"}}, // every word, anywhere
		{"ärger sure", nil},
		{"nothing", nil},
	} {
		got := listKeys(t, s, Query{Search: tc.search})
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if tc.search == "" {
			if len(got) != 10 {
				t.Errorf("List(search %q) = %d entries, want 10", tc.search, len(got))
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(search %q) = %q, want %q", tc.search, got, want)
		}
	}
	// A word never spans two fields.
	if got := listKeys(t, s, Query{Search: "sure\n100"}); len(got) != 1 {
		t.Errorf("search across fields: %q", got)
	}
}

func TestReadUnread(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, newClock(), Options{})
	for i := range 4 {
		mustAdd(t, s, entry(fmt.Sprintf("iq:%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	unread := func(want int) {
		t.Helper()
		n, err := s.Unread(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("Unread = %d, want %d", n, want)
		}
		checkCounters(t, s)
	}
	unread(4)
	if err := s.SetRead(ctx, "iq:1", true); err != nil {
		t.Fatal(err)
	}
	unread(3)
	v := version(t, s)
	if err := s.SetRead(ctx, "iq:1", true); err != nil { // no change
		t.Fatal(err)
	}
	if got := version(t, s); got != v {
		t.Errorf("Version changed on a no-op SetRead: %d -> %d", v, got)
	}
	if e, _ := s.Get(ctx, "iq:1"); !e.Read {
		t.Errorf("iq:1 not read")
	}
	if got, want := listKeys(t, s, Query{UnreadOnly: true}), []string{"iq:3", "iq:2", "iq:0"}; !slices.Equal(got, want) {
		t.Errorf("List(unread) = %q, want %q", got, want)
	}
	if got, want := listKeys(t, s, Query{UnreadOnly: true, Search: "iq:2"}), []string{"iq:2"}; !slices.Equal(got, want) {
		t.Errorf("List(unread, search) = %q, want %q", got, want)
	}
	if err := s.SetRead(ctx, "iq:1", false); err != nil {
		t.Fatal(err)
	}
	unread(4)
	if err := s.SetRead(ctx, "iq:missing", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRead(missing) = %v, want ErrNotFound", err)
	}
	if err := s.MarkAllRead(ctx); err != nil {
		t.Fatal(err)
	}
	unread(0)
	if got := listKeys(t, s, Query{UnreadOnly: true}); len(got) != 0 {
		t.Errorf("List(unread) after MarkAllRead = %q", got)
	}
	if v2 := version(t, s); v2 == v {
		t.Errorf("Version unchanged by MarkAllRead")
	}
	// An entry added as read stays out of the count.
	e := entry("iq:read", t0)
	e.Read = true
	mustAdd(t, s, e)
	unread(0)
}

func TestDeleteClear(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, newClock(), Options{})
	for i := range 5 {
		mustAdd(t, s, entry(fmt.Sprintf("iq:%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	v := version(t, s)
	if err := s.Delete(ctx, "iq:2"); err != nil {
		t.Fatal(err)
	}
	if version(t, s) == v {
		t.Errorf("Version unchanged by Delete")
	}
	if _, err := s.Get(ctx, "iq:2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "iq:2"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	// A redelivery of a deleted notification is a duplicate.
	if added, err := s.Add(ctx, entry("iq:2", t0)); err != nil || added {
		t.Errorf("Add(deleted key) = %v, %v; want false, nil", added, err)
	}
	if got, want := listKeys(t, s, Query{}), []string{"iq:4", "iq:3", "iq:1", "iq:0"}; !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	checkCounters(t, s)

	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, s, Query{}); len(got) != 0 {
		t.Errorf("List after Clear = %q", got)
	}
	if n, _ := s.Unread(ctx); n != 0 {
		t.Errorf("Unread after Clear = %d", n)
	}
	checkCounters(t, s)
	for _, k := range []string{"iq:0", "iq:4"} {
		if added, err := s.Add(ctx, entry(k, t0)); err != nil || added {
			t.Errorf("Add(cleared key %s) = %v, %v; want false, nil", k, added, err)
		}
	}
	mustAdd(t, s, entry("iq:new", t0))
	if err := s.Clear(ctx); err != nil { // again, over existing tombstones
		t.Fatal(err)
	}
	checkCounters(t, s)
}

func TestRetentionCount(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, path := newStore(t, c, Options{MaxEntries: 5})
	for i := range 8 {
		mustAdd(t, s, entry(fmt.Sprintf("iq:%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	want := []string{"iq:7", "iq:6", "iq:5", "iq:4", "iq:3"}
	if got := listKeys(t, s, Query{}); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	checkCounters(t, s)
	// Older than the five kept: retention would drop it at once.
	if added, err := s.Add(ctx, entry("iq:old", t0.Add(-time.Hour))); err != nil || added {
		t.Errorf("Add(older than all kept) = %v, %v; want false, nil", added, err)
	}
	if got := listKeys(t, s, Query{}); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}

	// Tombstones are bounded by MaxEntries too.
	for i := range 8 {
		mustAdd(t, s, entry(fmt.Sprintf("iq:t%d", i), t0.Add(time.Hour+time.Duration(i)*time.Second)))
		if err := s.Delete(ctx, fmt.Sprintf("iq:t%d", i)); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM tombstones`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d tombstones, want 5", n)
	}

	// A second handle with a lower limit prunes on open.
	s2 := openStore(t, path, Options{MaxEntries: 2, Now: c.Now})
	if got, want := listKeys(t, s2, Query{}), []string{"iq:7", "iq:6"}; !slices.Equal(got, want) {
		t.Errorf("List after reopening with MaxEntries 2 = %q, want %q", got, want)
	}
	checkCounters(t, s2)
}

func TestRetentionAge(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s, path := newStore(t, c, Options{MaxAge: time.Hour})
	mustAdd(t, s, entry("iq:a", c.Now()))
	c.Advance(30 * time.Minute)
	mustAdd(t, s, entry("iq:b", c.Now()))
	if err := s.Delete(ctx, "iq:b"); err != nil { // tombstone at t0+30m
		t.Fatal(err)
	}
	mustAdd(t, s, entry("iq:c", c.Now()))
	c.Advance(40 * time.Minute) // t0+70m: a is past an hour
	if added, err := s.Add(ctx, entry("iq:late", c.Now().Add(-61*time.Minute))); err != nil || added {
		t.Errorf("Add(received beyond MaxAge) = %v, %v; want false, nil", added, err)
	}
	mustAdd(t, s, entry("iq:d", c.Now()))
	if got, want := listKeys(t, s, Query{}), []string{"iq:d", "iq:c"}; !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	// The tombstone of b is still young: b is a duplicate.
	if added, _ := s.Add(ctx, entry("iq:b", c.Now())); added {
		t.Errorf("Add(deleted b) = true within MaxAge")
	}
	checkCounters(t, s)

	// Time passes with no Add: reopening prunes.
	c.Advance(45 * time.Minute) // t0+115m: c (t0+30m) is past
	s2 := openStore(t, path, Options{MaxAge: time.Hour, Now: c.Now})
	if got, want := listKeys(t, s2, Query{}), []string{"iq:d"}; !slices.Equal(got, want) {
		t.Errorf("List after reopening = %q, want %q", got, want)
	}
	// b's tombstone is gone too: b is new again.
	mustAdd(t, s2, entry("iq:b", c.Now()))
	checkCounters(t, s2)
}

// TestTwoHandles opens one file twice, as the agent and the history
// window do, and checks that each sees the other's changes.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	agent, path := newStore(t, c, Options{})
	window := openStore(t, path, Options{Now: c.Now})

	v0 := version(t, window)
	mustAdd(t, agent, entry("iq:1", c.Now()))
	v1 := version(t, window)
	if v1 == v0 {
		t.Errorf("window's Version unchanged after the agent's Add")
	}
	if got := listKeys(t, window, Query{}); !slices.Equal(got, []string{"iq:1"}) {
		t.Errorf("window's List = %q", got)
	}
	if version(t, window) != v1 {
		t.Errorf("Version changed without a write")
	}
	if err := window.SetRead(ctx, "iq:1", true); err != nil {
		t.Fatal(err)
	}
	if e, err := agent.Get(ctx, "iq:1"); err != nil || !e.Read {
		t.Errorf("agent's Get = %+v, %v; want read", e, err)
	}
	if n, _ := agent.Unread(ctx); n != 0 {
		t.Errorf("agent's Unread = %d, want 0", n)
	}
	va := version(t, agent)
	if err := window.Delete(ctx, "iq:1"); err != nil {
		t.Fatal(err)
	}
	if version(t, agent) == va {
		t.Errorf("agent's Version unchanged after the window's Delete")
	}
	if added, err := agent.Add(ctx, entry("iq:1", c.Now())); err != nil || added {
		t.Errorf("agent's Add of the key the window deleted = %v, %v; want false, nil", added, err)
	}
}

// TestConcurrentAdds adds overlapping keys from many goroutines through
// two handles: each key is added exactly once.
func TestConcurrentAdds(t *testing.T) {
	ctx := context.Background()
	a, path := newStore(t, nil, Options{})
	b := openStore(t, path, Options{})
	const workers, perWorker, distinct = 8, 40, 100
	var mu sync.Mutex
	addedBy := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprintf("iq:%d", (w*perWorker/2+i)%distinct)
				added, err := s.Add(ctx, entry(key, time.Now()))
				if err != nil {
					t.Errorf("Add(%s): %v", key, err)
					return
				}
				if added {
					mu.Lock()
					addedBy[key]++
					mu.Unlock()
				}
				if i%10 == 0 {
					if _, err := s.List(ctx, Query{Limit: 20}); err != nil {
						t.Errorf("List: %v", err)
					}
					if err := s.SetRead(ctx, key, true); err != nil {
						t.Errorf("SetRead(%s): %v", key, err)
					}
				}
			}
		})
	}
	wg.Wait()
	es, err := a.List(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(addedBy) {
		t.Errorf("%d entries, %d keys reported added", len(es), len(addedBy))
	}
	for k, n := range addedBy {
		if n != 1 {
			t.Errorf("%s added %d times", k, n)
		}
	}
	checkCounters(t, a)
}

func TestNewerSchema(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t, nil, Options{})
	if _, err := s.w.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "version 99") {
		t.Errorf("error does not name the version: %v", err)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	_, path := newStore(t, nil, Options{})
	s := openStore(t, path, Options{}) // applied already: nothing to do
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	ms, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if v != len(ms) || v < 1 {
		t.Errorf("user_version = %d, want %d", v, len(ms))
	}
	// Loading and applying migrations is tested in internal/sqlitedb.
}

func TestNotHistoryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a history file") {
		t.Fatalf("Open(garbage) = %v", err)
	}
	t.Log(err)
	if _, err := Open(context.Background(), "", Options{}); err == nil {
		t.Errorf("Open(\"\") succeeded")
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	s, path := newStore(t, nil, Options{})
	mustAdd(t, s, entry("iq:1", time.Now()))
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(filepath.Dir(path)); m != 0o700 {
		t.Errorf("directory mode %o, want 700", m)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m := mode(p); m != 0o600 {
			t.Errorf("%s mode %o, want 600", filepath.Base(p), m)
		}
	}

	// An existing file readable by others is made private.
	other := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(other, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	openStore(t, other, Options{})
	if m := mode(other); m != 0o600 {
		t.Errorf("existing file mode %o, want 600", m)
	}
}

// TestDiskFullPageLimit makes SQLite run out of room with max_page_count,
// the same SQLITE_FULL a full disk gives (diskfull_linux_test.go fills a
// real file system).
func TestDiskFullPageLimit(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, nil, Options{})
	mustAdd(t, s, entry("iq:first", time.Now()))
	var pages int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := range 100 {
		e := entry(fmt.Sprintf("iq:%d", i), time.Now())
		e.Message = strings.Repeat("x", 16<<10)
		if _, err = s.Add(ctx, e); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Add on a full file = %v, want ErrDiskFull", err)
	}
	if !strings.HasPrefix(err.Error(), "history: the disk is full") {
		t.Errorf("error = %q, want it to start with %q", err, "history: the disk is full")
	}
	t.Log(err)
	// What was stored is still there and readable.
	if _, err := s.Get(ctx, "iq:first"); err != nil {
		t.Errorf("Get after a full disk: %v", err)
	}
	checkCounters(t, s)
}

func TestDataDir(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, goos string
		getenv     func(string) string
		home       func() (string, error)
		want       string // "" for an error
	}{
		{"linux xdg", "linux", env("XDG_DATA_HOME", "/data"), home, "/data"},
		{"linux relative xdg", "linux", env("XDG_DATA_HOME", "data"), home, filepath.Join("/home/u", ".local", "share")},
		{"linux default", "linux", env(), home, filepath.Join("/home/u", ".local", "share")},
		{"freebsd", "freebsd", env(), home, filepath.Join("/home/u", ".local", "share")},
		{"linux nothing", "linux", env(), noHome, ""},
		{"darwin", "darwin", env("XDG_DATA_HOME", "/data"), home, filepath.Join("/home/u", "Library", "Application Support")},
		{"windows", "windows", env("LOCALAPPDATA", `C:\Users\u\AppData\Local`), home, `C:\Users\u\AppData\Local`},
		{"windows unset", "windows", env(), home, ""},
	} {
		got, err := dataDir(tc.goos, tc.getenv, tc.home)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: dataDir = %q, want an error", tc.name, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: dataDir = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if runtime.GOOS == "linux" {
		t.Setenv("XDG_DATA_HOME", "/xdg")
		if p, err := DefaultPath(); err != nil || p != "/xdg/xpush/history.db" {
			t.Errorf("DefaultPath = %q, %v", p, err)
		}
	}
}
