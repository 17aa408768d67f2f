package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/server/store"
)

// t0 is the suite's epoch; every time is an offset from it.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// Run runs the suite. open must return a new, empty store for each call;
// Run closes it when the subtest ends. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"UserNamesAsGiven", testUserNamesAsGiven},
		{"Enqueue", testEnqueue},
		{"EnqueueInvalid", testEnqueueInvalid},
		{"EnqueueUnknownRecipient", testEnqueueUnknownRecipient},
		{"Broadcast", testBroadcast},
		{"PendingOrder", testPendingOrder},
		{"SentAckUnsent", testSentAckUnsent},
		{"UnsentAll", testUnsentAll},
		{"Record", testRecord},
		{"RecordLikeMemory", testRecordLikeMemory},
		{"Expire", testExpire},
		{"DeleteUserDeliveries", testDeleteUserDeliveries},
		{"History", testHistory},
		{"HistoryCounts", testHistoryCounts},
		{"QueueDepth", testQueueDepth},
		{"ConcurrentEnqueue", testConcurrentEnqueue},
		{"APITokens", testAPITokens},
		{"Invites", testInvites},
		{"AdminHash", testAdminHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.f(t, s)
		})
	}
}

// Helpers. They call t.Fatal, so they run on the test goroutine only.

func addUser(t *testing.T, s store.Store, name string, created time.Time) store.User {
	t.Helper()
	u := store.User{
		Name:    name,
		SHA1:    store.Credentials{Salt: []byte("salt1-" + name), Iters: 4096, StoredKey: []byte{1, 2, 3}, ServerKey: []byte{4, 5, 6}},
		SHA256:  store.Credentials{Salt: []byte("salt256-" + name), Iters: 4096, StoredKey: []byte{7, 8}, ServerKey: []byte{9, 0}},
		Created: created,
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func directed(id string, created time.Time, to ...string) store.Notification {
	return store.Notification{
		ID: id, Title: "title " + id, Message: "message " + id, URI: "https://example.com/" + id,
		To: to, Sender: "api:test", Created: created,
	}
}

func broadcast(id string, created time.Time) store.Notification {
	return store.Notification{
		ID: id, Title: "title " + id, Message: "message " + id, URI: "https://example.com/" + id,
		Broadcast: true, Sender: "console", Created: created,
	}
}

func enqueue(t *testing.T, s store.Store, n store.Notification) store.Notification {
	t.Helper()
	if err := s.Enqueue(t.Context(), &n); err != nil {
		t.Fatalf("Enqueue(%q): %v", n.ID, err)
	}
	if n.Seq <= 0 {
		t.Fatalf("Enqueue(%q): Seq = %d, want > 0", n.ID, n.Seq)
	}
	return n
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func noteID(n store.Notification) string { return n.ID }
func summaryID(s store.Summary) string   { return s.ID }
func userName(u store.User) string       { return u.Name }

func wantPending(t *testing.T, s store.Store, user string, now time.Time, limit int, want ...string) {
	t.Helper()
	got, err := s.Pending(t.Context(), user, now, limit)
	if err != nil {
		t.Fatalf("Pending(%q): %v", user, err)
	}
	if g := ids(got, noteID); !slices.Equal(g, want) {
		t.Errorf("Pending(%q, %v, %d) = %q, want %q", user, now.Sub(t0), limit, g, want)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("Pending(%q): Seq not increasing: %d after %d", user, got[i].Seq, got[i-1].Seq)
		}
	}
}

// deliveries returns the per-recipient deliveries of id by user.
func deliveries(t *testing.T, s store.Store, id string) (store.Notification, map[string]store.Delivery) {
	t.Helper()
	n, ds, err := s.Notification(t.Context(), id)
	if err != nil {
		t.Fatalf("Notification(%q): %v", id, err)
	}
	m := make(map[string]store.Delivery, len(ds))
	for i, d := range ds {
		if i > 0 && ds[i-1].User >= d.User {
			t.Errorf("Notification(%q): deliveries not sorted by user: %q after %q", id, d.User, ds[i-1].User)
		}
		m[d.User] = d
	}
	return n, m
}

// wantStates checks the state of every recipient of id, and that there
// are no others.
func wantStates(t *testing.T, s store.Store, id string, want map[string]string) {
	t.Helper()
	_, ds := deliveries(t, s, id)
	got := make(map[string]string, len(ds))
	for u, d := range ds {
		got[u] = d.State
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Notification(%q) states = %v, want %v", id, got, want)
	}
}

func wantDelivery(t *testing.T, s store.Store, id, user, state string, attempts int, updated time.Time) {
	t.Helper()
	_, ds := deliveries(t, s, id)
	d, ok := ds[user]
	if !ok {
		t.Errorf("Notification(%q): no delivery for %q", id, user)
		return
	}
	if d.State != state || d.Attempts != attempts || !d.Updated.Equal(updated) {
		t.Errorf("Notification(%q) delivery to %q = %s, %d attempts, updated %v; want %s, %d, %v",
			id, user, d.State, d.Attempts, d.Updated.Sub(t0), state, attempts, updated.Sub(t0))
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func wantNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantDepth(t *testing.T, s store.Store, now time.Time, want int) {
	t.Helper()
	got, err := s.QueueDepth(t.Context(), now)
	wantNoErr(t, "QueueDepth", err)
	if got != want {
		t.Errorf("QueueDepth(%v) = %d, want %d", now.Sub(t0), got, want)
	}
}

func equalCreds(a, b store.Credentials) bool {
	return bytes.Equal(a.Salt, b.Salt) && a.Iters == b.Iters &&
		bytes.Equal(a.StoredKey, b.StoredKey) && bytes.Equal(a.ServerKey, b.ServerKey)
}

func wantUser(t *testing.T, got, want store.User) {
	t.Helper()
	if got.Name != want.Name || !equalCreds(got.SHA1, want.SHA1) || !equalCreds(got.SHA256, want.SHA256) ||
		got.Legacy != want.Legacy || !got.Created.Equal(want.Created) {
		t.Errorf("user = %+v, want %+v", got, want)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := addUser(t, s, "alice", at(0))
	got, err := s.User(ctx, "alice")
	wantNoErr(t, "User", err)
	wantUser(t, got, alice)
	if got.Created.Location() != time.UTC {
		t.Errorf("User: Created in %v, want UTC", got.Created.Location())
	}

	wantErr(t, "CreateUser(dup)", s.CreateUser(ctx, store.User{Name: "alice", Created: at(1)}), store.ErrExists)
	wantErr(t, "CreateUser(no name)", s.CreateUser(ctx, store.User{Created: at(1)}), store.ErrInvalid)
	wantErr(t, "CreateUser(no time)", s.CreateUser(ctx, store.User{Name: "zoe"}), store.ErrInvalid)
	_, err = s.User(ctx, "nobody")
	wantErr(t, "User(nobody)", err, store.ErrNotFound)

	// SetCredentials replaces both key sets and the legacy password.
	c1 := store.Credentials{Salt: []byte("s1"), Iters: 10000, StoredKey: []byte("k1"), ServerKey: []byte("v1")}
	c256 := store.Credentials{Salt: []byte("s256"), Iters: 20000, StoredKey: []byte("k256"), ServerKey: []byte("v256")}
	wantNoErr(t, "SetCredentials", s.SetCredentials(ctx, "alice", c1, c256, "clear"))
	alice.SHA1, alice.SHA256, alice.Legacy = c1, c256, "clear"
	got, err = s.User(ctx, "alice")
	wantNoErr(t, "User", err)
	wantUser(t, got, alice)
	wantErr(t, "SetCredentials(nobody)", s.SetCredentials(ctx, "nobody", c1, c256, ""), store.ErrNotFound)

	for i, name := range []string{"dave", "bob", "carol"} {
		addUser(t, s, name, at(time.Duration(i+1)*time.Minute))
	}
	for _, tc := range []struct {
		p    store.Page
		want []string
	}{
		{store.Page{}, []string{"alice", "bob", "carol", "dave"}},
		{store.Page{Offset: 1, Limit: 2}, []string{"bob", "carol"}},
		{store.Page{Offset: 3, Limit: 2}, []string{"dave"}},
		{store.Page{Offset: 9}, []string{}},
		{store.Page{Offset: -1, Limit: 1}, []string{"alice"}},
		{store.Page{Query: "a"}, []string{"alice", "carol", "dave"}},
		{store.Page{Query: "A", Limit: 2}, []string{"alice", "carol"}},
		{store.Page{Query: "o"}, []string{"bob", "carol"}},
		{store.Page{Query: "zzz"}, []string{}},
	} {
		us, err := s.ListUsers(ctx, tc.p)
		wantNoErr(t, "ListUsers", err)
		if g := ids(us, userName); !slices.Equal(g, tc.want) {
			t.Errorf("ListUsers(%+v) = %q, want %q", tc.p, g, tc.want)
		}
	}
	us, err := s.ListUsers(ctx, store.Page{Query: "alice"})
	wantNoErr(t, "ListUsers", err)
	if len(us) != 1 {
		t.Fatalf("ListUsers(alice) = %d users", len(us))
	}
	wantUser(t, us[0], alice)

	n, err := s.CountUsers(ctx)
	wantNoErr(t, "CountUsers", err)
	if n != 4 {
		t.Errorf("CountUsers = %d, want 4", n)
	}
	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, "bob"))
	_, err = s.User(ctx, "bob")
	wantErr(t, "User(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, "bob"), store.ErrNotFound)
	if n, _ := s.CountUsers(ctx); n != 3 {
		t.Errorf("CountUsers after delete = %d, want 3", n)
	}
	// A name can be taken again after a delete.
	addUser(t, s, "bob", at(time.Hour))
}

// testUserNamesAsGiven: the store neither folds nor normalizes names.
func testUserNamesAsGiven(t *testing.T, s store.Store) {
	ctx := t.Context()
	// "\u00fc" and "u\u0308" are the same letter, NFC and NFD.
	names := []string{"Alice", "alice", "\u00fcber", "u\u0308ber", "o'brien", "a%b", "x_y", `"; DROP TABLE users; --`}
	for i, name := range names {
		addUser(t, s, name, at(time.Duration(i)))
	}
	for _, name := range names {
		u, err := s.User(ctx, name)
		wantNoErr(t, "User("+name+")", err)
		if u.Name != name {
			t.Errorf("User(%q).Name = %q", name, u.Name)
		}
	}
	if _, err := s.User(ctx, "ALICE"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(ALICE): %v, want ErrNotFound (lookups are exact)", err)
	}
	if n, _ := s.CountUsers(ctx); n != len(names) {
		t.Errorf("CountUsers = %d, want %d", n, len(names))
	}
}

func testEnqueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []string{"alice", "bob", "carol"} {
		addUser(t, s, u, at(0))
	}
	n1 := enqueue(t, s, directed("n1", at(time.Minute), "alice"))
	created := time.Date(2025, 6, 1, 14, 1, 2, 345678901, time.FixedZone("CEST", 2*3600))
	in := directed("n2", created, "bob", "alice", "bob")
	in.Expires = created.Add(24 * time.Hour)
	n2 := enqueue(t, s, in)
	if n2.Seq <= n1.Seq {
		t.Errorf("Seq %d after %d, want increasing", n2.Seq, n1.Seq)
	}

	got, ds := deliveries(t, s, "n2")
	if got.ID != "n2" || got.Seq != n2.Seq || got.Title != in.Title || got.Message != in.Message ||
		got.URI != in.URI || got.Sender != in.Sender || got.Broadcast ||
		!got.Created.Equal(created) || !got.Expires.Equal(in.Expires) {
		t.Errorf("Notification(n2) = %+v, want %+v", got, in)
	}
	if got.Created.Location() != time.UTC || got.Created.Nanosecond() != 345678901 {
		t.Errorf("Notification(n2).Created = %v, want UTC to the nanosecond", got.Created)
	}
	if !slices.Equal(got.To, []string{"alice", "bob"}) {
		t.Errorf("Notification(n2).To = %q, want [alice bob]", got.To)
	}
	if len(ds) != 2 {
		t.Errorf("Notification(n2): %d deliveries, want 2", len(ds))
	}
	for _, u := range []string{"alice", "bob"} {
		wantDelivery(t, s, "n2", u, store.StateQueued, 0, created)
	}
	n, _ := deliveries(t, s, "n1")
	if !n.Expires.IsZero() {
		t.Errorf("Notification(n1).Expires = %v, want zero", n.Expires)
	}

	wantPending(t, s, "alice", at(time.Hour), 0, "n1", "n2")
	wantPending(t, s, "bob", at(time.Hour), 0, "n2")
	wantPending(t, s, "carol", at(time.Hour), 0)

	// Pending carries the content, not the recipient list.
	ps, err := s.Pending(ctx, "bob", at(time.Hour), 0)
	wantNoErr(t, "Pending", err)
	if p := ps[0]; p.Title != in.Title || p.Message != in.Message || p.URI != in.URI || p.Seq != n2.Seq ||
		!p.Created.Equal(created) || !p.Expires.Equal(in.Expires) || len(p.To) != 0 {
		t.Errorf("Pending(bob)[0] = %+v", p)
	}

	// A taken ID is refused, and changes nothing.
	dup := directed("n1", at(time.Hour), "carol")
	wantErr(t, "Enqueue(dup)", s.Enqueue(ctx, &dup), store.ErrExists)
	wantPending(t, s, "carol", at(time.Hour), 0)
	wantStates(t, s, "n1", map[string]string{"alice": store.StateQueued})
	_, _, err = s.Notification(ctx, "nope")
	wantErr(t, "Notification(nope)", err, store.ErrNotFound)
}

func testEnqueueInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	bad := map[string]store.Notification{
		"no ID":           directed("", at(1), "alice"),
		"no created":      directed("x", time.Time{}, "alice"),
		"no recipients":   directed("x", at(1)),
		"empty recipient": directed("x", at(1), "alice", ""),
		"not UTF-8":       directed("x", at(1), "alice", "bad\xff"),
		"both":            {ID: "x", To: []string{"alice"}, Broadcast: true, Created: at(1)},
	}
	for name, n := range bad {
		wantErr(t, "Enqueue("+name+")", s.Enqueue(ctx, &n), store.ErrInvalid)
	}
	wantPending(t, s, "alice", at(time.Hour), 0)
	if h, _ := s.History(ctx, store.Page{}); len(h) != 0 {
		t.Errorf("History after invalid enqueues: %d entries", len(h))
	}
}

func testEnqueueUnknownRecipient(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	n := directed("n1", at(time.Minute), "alice", "zed", "ghost", "zed")
	err := s.Enqueue(ctx, &n)
	wantErr(t, "Enqueue(unknown)", err, store.ErrNotFound)
	var ue *store.UnknownRecipientsError
	if !errors.As(err, &ue) {
		t.Fatalf("Enqueue(unknown): %T %v, want *UnknownRecipientsError", err, err)
	}
	if !slices.Equal(ue.Users, []string{"ghost", "zed"}) {
		t.Errorf("unknown recipients = %q, want [ghost zed]", ue.Users)
	}
	// Nothing stored.
	_, _, err = s.Notification(ctx, "n1")
	wantErr(t, "Notification(n1)", err, store.ErrNotFound)
	wantPending(t, s, "alice", at(time.Hour), 0)
	if h, _ := s.History(ctx, store.Page{}); len(h) != 0 {
		t.Errorf("History: %d entries, want 0", len(h))
	}
	wantDepth(t, s, at(time.Hour), 0)
	// The ID was not consumed.
	enqueue(t, s, directed("n1", at(time.Minute), "alice"))
	wantPending(t, s, "alice", at(time.Hour), 0, "n1")
}

func testBroadcast(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(time.Minute))
	b1 := enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	addUser(t, s, "dave", at(2*time.Minute)) // same instant: existed when sent
	addUser(t, s, "carol", at(3*time.Minute))

	for _, u := range []string{"alice", "bob", "dave"} {
		wantPending(t, s, u, at(time.Hour), 0, "b1")
	}
	wantPending(t, s, "carol", at(time.Hour), 0)
	_, err := s.Pending(ctx, "ghost", at(time.Hour), 0)
	wantErr(t, "Pending(ghost)", err, store.ErrNotFound)

	n, ds := deliveries(t, s, "b1")
	if !n.Broadcast || len(n.To) != 0 || n.Seq != b1.Seq {
		t.Errorf("Notification(b1) = %+v, want a broadcast without To", n)
	}
	wantStates(t, s, "b1", map[string]string{"alice": "queued", "bob": "queued", "dave": "queued"})
	if d := ds["alice"]; d.Attempts != 0 || !d.Updated.Equal(b1.Created) {
		t.Errorf("untouched delivery = %+v, want 0 attempts, updated at creation", d)
	}

	wantErr(t, "MarkSent(b1, carol)", s.MarkSent(ctx, "b1", "carol", at(time.Hour)), store.ErrNotFound)
	wantErr(t, "Ack(b1, carol)", s.Ack(ctx, "b1", "carol", at(time.Hour)), store.ErrNotFound)
	wantErr(t, "MarkSent(b1, ghost)", s.MarkSent(ctx, "b1", "ghost", at(time.Hour)), store.ErrNotFound)
	wantStates(t, s, "b1", map[string]string{"alice": "queued", "bob": "queued", "dave": "queued"})
	wantDepth(t, s, at(time.Hour), 3)
}

func testPendingOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(0))
	step := func(i int) time.Time { return at(time.Duration(i) * time.Minute) }
	enqueue(t, s, directed("d1", step(1), "alice"))
	enqueue(t, s, broadcast("b1", step(2)))
	enqueue(t, s, directed("d2", step(3), "bob"))
	enqueue(t, s, directed("d3", step(4), "alice", "bob"))
	enqueue(t, s, broadcast("b2", step(5)))
	enqueue(t, s, directed("d4", step(6), "alice"))
	now := step(10)
	wantPending(t, s, "alice", now, 0, "d1", "b1", "d3", "b2", "d4")
	wantPending(t, s, "bob", now, 0, "b1", "d2", "d3", "b2")
	wantPending(t, s, "alice", now, 2, "d1", "b1")
	wantPending(t, s, "alice", now, -1, "d1", "b1", "d3", "b2", "d4")

	// Requeued notifications keep their place: order is by Seq, not by
	// when they became pending again.
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "b1", "alice", step(11)))
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", step(11)))
	wantPending(t, s, "alice", now, 0, "d3", "b2", "d4")
	wantPending(t, s, "alice", now, 2, "d3", "b2")
	wantNoErr(t, "Unsent", s.Unsent(ctx, "alice", step(12)))
	wantPending(t, s, "alice", now, 0, "d1", "b1", "d3", "b2", "d4")
	wantPending(t, s, "bob", now, 0, "b1", "d2", "d3", "b2")
}

func testSentAckUnsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(0))
	enqueue(t, s, directed("d1", at(time.Minute), "alice", "bob"))
	enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	now := at(time.Hour)
	t1, t2, t3, t4, t5 := at(10*time.Minute), at(11*time.Minute), at(12*time.Minute), at(13*time.Minute), at(14*time.Minute)

	// MarkSent hides from Pending, for this user only.
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", t1))
	wantPending(t, s, "alice", now, 0, "b1")
	wantPending(t, s, "bob", now, 0, "d1", "b1")
	wantDelivery(t, s, "d1", "alice", store.StateSent, 1, t1)
	// Sent again (another session): one more attempt.
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", t2))
	wantDelivery(t, s, "d1", "alice", store.StateSent, 2, t2)

	// Unsent brings it back, keeping the attempts.
	wantNoErr(t, "Unsent", s.Unsent(ctx, "alice", t3))
	wantPending(t, s, "alice", now, 0, "d1", "b1")
	wantDelivery(t, s, "d1", "alice", store.StateQueued, 2, t3)

	// Ack is final and idempotent.
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", t3))
	wantNoErr(t, "Ack", s.Ack(ctx, "d1", "alice", t4))
	wantDelivery(t, s, "d1", "alice", store.StateAcked, 3, t4)
	wantNoErr(t, "Ack(again)", s.Ack(ctx, "d1", "alice", t5))
	wantNoErr(t, "MarkSent(acked)", s.MarkSent(ctx, "d1", "alice", t5))
	wantNoErr(t, "Unsent", s.Unsent(ctx, "alice", t5))
	wantDelivery(t, s, "d1", "alice", store.StateAcked, 3, t4)
	wantPending(t, s, "alice", now, 0, "b1")

	// An ack without a recorded send (the send was recorded elsewhere,
	// or lost) still counts.
	wantNoErr(t, "Ack(queued)", s.Ack(ctx, "d1", "bob", t1))
	wantDelivery(t, s, "d1", "bob", store.StateAcked, 0, t1)
	wantPending(t, s, "bob", now, 0, "b1")

	// The same for a broadcast, whose rows appear on first touch.
	wantNoErr(t, "MarkSent(b1)", s.MarkSent(ctx, "b1", "alice", t1))
	wantPending(t, s, "alice", now, 0)
	wantPending(t, s, "bob", now, 0, "b1")
	wantDelivery(t, s, "b1", "alice", store.StateSent, 1, t1)
	wantDelivery(t, s, "b1", "bob", store.StateQueued, 0, at(2*time.Minute))
	wantNoErr(t, "Unsent", s.Unsent(ctx, "alice", t2))
	wantPending(t, s, "alice", now, 0, "b1")
	wantDelivery(t, s, "b1", "alice", store.StateQueued, 1, t2)
	wantNoErr(t, "Ack(b1, bob)", s.Ack(ctx, "b1", "bob", t3))
	wantNoErr(t, "Ack(b1, bob) again", s.Ack(ctx, "b1", "bob", t4))
	wantDelivery(t, s, "b1", "bob", store.StateAcked, 0, t3)
	wantNoErr(t, "MarkSent(b1, bob)", s.MarkSent(ctx, "b1", "bob", t4))
	wantDelivery(t, s, "b1", "bob", store.StateAcked, 0, t3)
	wantPending(t, s, "bob", now, 0)

	// Not a recipient.
	wantErr(t, "MarkSent(nope)", s.MarkSent(ctx, "nope", "alice", t1), store.ErrNotFound)
	wantErr(t, "Ack(nope)", s.Ack(ctx, "nope", "alice", t1), store.ErrNotFound)
	wantErr(t, "Ack(ghost)", s.Ack(ctx, "d1", "ghost", t1), store.ErrNotFound)
	addUser(t, s, "carol", at(3*time.Minute))
	wantErr(t, "MarkSent(d1, carol)", s.MarkSent(ctx, "d1", "carol", t1), store.ErrNotFound)
	wantErr(t, "Ack(d1, carol)", s.Ack(ctx, "d1", "carol", t1), store.ErrNotFound)
	wantNoErr(t, "Unsent(ghost)", s.Unsent(ctx, "ghost", t1))
	wantStates(t, s, "d1", map[string]string{"alice": "acked", "bob": "acked"})
}

func testUnsentAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(0))
	enqueue(t, s, directed("d1", at(time.Minute), "alice", "bob"))
	enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	for _, u := range []string{"alice", "bob"} {
		for _, id := range []string{"d1", "b1"} {
			wantNoErr(t, "MarkSent", s.MarkSent(ctx, id, u, at(time.Hour)))
		}
	}
	wantNoErr(t, "Ack", s.Ack(ctx, "b1", "bob", at(time.Hour)))
	wantPending(t, s, "alice", at(time.Hour), 0)
	n, err := s.UnsentAll(ctx, at(2*time.Hour))
	wantNoErr(t, "UnsentAll", err)
	if n != 3 {
		t.Errorf("UnsentAll = %d, want 3", n)
	}
	wantPending(t, s, "alice", at(time.Hour), 0, "d1", "b1")
	wantPending(t, s, "bob", at(time.Hour), 0, "d1")
	wantDelivery(t, s, "b1", "alice", store.StateQueued, 1, at(2*time.Hour))
	if n, _ := s.UnsentAll(ctx, at(3*time.Hour)); n != 0 {
		t.Errorf("UnsentAll again = %d, want 0", n)
	}
}

func testExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(0))
	exp := at(time.Hour)
	d1 := directed("d1", at(time.Minute), "alice", "bob")
	d1.Expires = exp
	enqueue(t, s, d1)
	b1 := broadcast("b1", at(time.Minute))
	b1.Expires = exp
	enqueue(t, s, b1)
	enqueue(t, s, directed("d2", at(2*time.Minute), "alice")) // never expires
	enqueue(t, s, broadcast("b2", at(2*time.Minute)))         // never expires

	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", at(3*time.Minute)))
	wantNoErr(t, "Ack", s.Ack(ctx, "b1", "bob", at(3*time.Minute)))

	before := exp.Add(-time.Nanosecond)
	wantPending(t, s, "alice", before, 0, "b1", "d2", "b2")
	wantPending(t, s, "bob", before, 0, "d1", "b2")
	// At the TTL they are no longer pending, even before Expire runs.
	wantPending(t, s, "alice", exp, 0, "d2", "b2")
	wantPending(t, s, "bob", exp, 0, "b2")
	// d1: alice sent + bob queued; b1: alice untouched; d2: alice; b2: both.
	wantDepth(t, s, before, 6)
	wantDepth(t, s, exp, 3)

	n, err := s.Expire(ctx, before)
	wantNoErr(t, "Expire", err)
	if n != 0 {
		t.Errorf("Expire(before TTL) = %d, want 0", n)
	}
	wantStates(t, s, "d1", map[string]string{"alice": "sent", "bob": "queued"})

	// d1 alice (sent), d1 bob (queued), b1 alice (untouched).
	n, err = s.Expire(ctx, exp)
	wantNoErr(t, "Expire", err)
	if n != 3 {
		t.Errorf("Expire(TTL) = %d, want 3", n)
	}
	if n, _ := s.Expire(ctx, exp.Add(time.Hour)); n != 0 {
		t.Errorf("Expire(again) = %d, want 0", n)
	}
	wantDelivery(t, s, "d1", "alice", store.StateExpired, 1, exp)
	wantDelivery(t, s, "d1", "bob", store.StateExpired, 0, exp)
	wantDelivery(t, s, "b1", "alice", store.StateExpired, 0, exp)
	wantDelivery(t, s, "b1", "bob", store.StateAcked, 0, at(3*time.Minute))
	wantStates(t, s, "d2", map[string]string{"alice": "queued"})
	wantStates(t, s, "b2", map[string]string{"alice": "queued", "bob": "queued"})
	// Expired is final for sending: even a time before the TTL does
	// not bring them back.
	wantPending(t, s, "alice", before, 0, "d2", "b2")
	wantPending(t, s, "bob", before, 0, "b2")
	wantDepth(t, s, before, 3)

	// Sending and requeueing leave an expired delivery alone.
	wantNoErr(t, "MarkSent(expired)", s.MarkSent(ctx, "b1", "alice", exp))
	wantNoErr(t, "MarkSent(expired)", s.MarkSent(ctx, "d1", "bob", exp))
	wantNoErr(t, "Unsent", s.Unsent(ctx, "alice", exp))
	wantStates(t, s, "b1", map[string]string{"alice": "expired", "bob": "acked"})
	wantStates(t, s, "d1", map[string]string{"alice": "expired", "bob": "expired"})
	// A late ack is still recorded: the client did get it.
	wantNoErr(t, "Ack(expired)", s.Ack(ctx, "d1", "alice", exp.Add(time.Minute)))
	wantDelivery(t, s, "d1", "alice", store.StateAcked, 1, exp.Add(time.Minute))

	h, err := s.History(ctx, store.Page{Query: "b1"})
	wantNoErr(t, "History", err)
	if len(h) != 1 || h[0].Counts[store.StateExpired] != 1 || h[0].Counts[store.StateAcked] != 1 || h[0].Counts[store.StateQueued] != 0 {
		t.Errorf("History(b1) = %+v, want 1 expired, 1 acked", h)
	}

	// A broadcast with a touched-then-requeued row and an untouched
	// recipient: each counted once; accounts created later not at all.
	b3 := broadcast("b3", at(2*time.Hour))
	b3.Expires = at(3 * time.Hour)
	enqueue(t, s, b3)
	addUser(t, s, "carol", at(2*time.Hour+time.Second))
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "b3", "alice", at(2*time.Hour)))
	wantNoErr(t, "Unsent", s.Unsent(ctx, "alice", at(2*time.Hour)))
	n, err = s.Expire(ctx, at(3*time.Hour))
	wantNoErr(t, "Expire", err)
	if n != 2 {
		t.Errorf("Expire(b3) = %d, want 2", n)
	}
	wantStates(t, s, "b3", map[string]string{"alice": "expired", "bob": "expired"})
	wantDelivery(t, s, "b3", "bob", store.StateExpired, 0, at(3*time.Hour))
}

func testDeleteUserDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(0))
	enqueue(t, s, directed("d1", at(time.Minute), "alice", "bob"))
	enqueue(t, s, directed("d2", at(time.Minute), "alice"))
	enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "b1", "alice", at(3*time.Minute)))
	wantDepth(t, s, at(time.Hour), 5)

	wantNoErr(t, "DeleteUser", s.DeleteUser(ctx, "alice"))
	n, _ := deliveries(t, s, "d1")
	if !slices.Equal(n.To, []string{"bob"}) {
		t.Errorf("Notification(d1).To = %q, want [bob]", n.To)
	}
	wantStates(t, s, "d1", map[string]string{"bob": "queued"})
	wantStates(t, s, "d2", map[string]string{})
	wantStates(t, s, "b1", map[string]string{"bob": "queued"})
	wantDepth(t, s, at(time.Hour), 2)
	wantNoErr(t, "UnsentAll", func() error { _, err := s.UnsentAll(ctx, at(time.Hour)); return err }())

	// A new account of the same name inherits nothing.
	addUser(t, s, "alice", at(time.Hour))
	wantPending(t, s, "alice", at(2*time.Hour), 0)
	wantStates(t, s, "b1", map[string]string{"bob": "queued"})
	wantErr(t, "Ack(d1, new alice)", s.Ack(ctx, "d1", "alice", at(time.Hour)), store.ErrNotFound)
}

func testHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	drop := `"; DROP TABLE users; --`
	users := []string{"alice", "ab", "a%b", "x_y", "xay", "o'brien", drop, "bob"}
	for _, u := range users {
		addUser(t, s, u, at(0))
	}
	step := func(i int) time.Time { return at(time.Duration(i) * time.Minute) }
	add := func(i int, n store.Notification, title, message, uri string) {
		n.Title, n.Message, n.URI = title, message, uri
		enqueue(t, s, n)
	}
	add(1, directed("n1", step(1), "alice"), "Hello world", "first", "https://example.org/1")
	add(2, directed("n2", step(2), "ab"), "plain", "nothing", "")
	add(3, directed("n3", step(3), "a%b"), "percent", "p", "")
	add(4, directed("n4", step(4), "x_y"), "underscore", "u", "")
	add(5, directed("n5", step(5), "xay"), "xay note", `C:\path`, "")
	add(6, directed("n6", step(6), "o'brien"), "quote", "q", "")
	add(7, directed("n7", step(7), drop), "injection", "i", "")
	add(8, broadcast("n8", step(8)), "100% off", "sale_now", "https://example.org/sale?x=1&y=2")
	add(9, directed("n9", step(9), "bob"), "Done", "it's ok", "https://example.org/o'brien")

	for _, tc := range []struct {
		p    store.Page
		want []string
	}{
		{store.Page{}, []string{"n9", "n8", "n7", "n6", "n5", "n4", "n3", "n2", "n1"}},
		{store.Page{Limit: 4}, []string{"n9", "n8", "n7", "n6"}},
		{store.Page{Offset: 4, Limit: 4}, []string{"n5", "n4", "n3", "n2"}},
		{store.Page{Offset: 8, Limit: 4}, []string{"n1"}},
		{store.Page{Offset: 9, Limit: 4}, []string{}},
		{store.Page{Query: "hello"}, []string{"n1"}},
		{store.Page{Query: "HELLO WORLD"}, []string{"n1"}},
		{store.Page{Query: "a%b"}, []string{"n3"}},
		{store.Page{Query: "x_y"}, []string{"n4"}},
		{store.Page{Query: "%"}, []string{"n8", "n3"}},
		{store.Page{Query: "_"}, []string{"n8", "n4"}},
		{store.Page{Query: "o'brien"}, []string{"n9", "n6"}},
		{store.Page{Query: "'"}, []string{"n9", "n6"}},
		{store.Page{Query: drop}, []string{"n7"}},
		{store.Page{Query: `"`}, []string{"n7"}},
		{store.Page{Query: `\`}, []string{"n5"}},
		{store.Page{Query: `\p`}, []string{"n5"}},
		{store.Page{Query: "example.org"}, []string{"n9", "n8", "n1"}},
		{store.Page{Query: "example.org", Offset: 1, Limit: 1}, []string{"n8"}},
		{store.Page{Query: "?x=1&y"}, []string{"n8"}},
		{store.Page{Query: "ab"}, []string{"n7", "n2"}}, // "TABLE" matches case-insensitively
		{store.Page{Query: "bob"}, []string{"n9"}},      // recipients of directed notifications only
		{store.Page{Query: "nomatch"}, []string{}},
	} {
		h, err := s.History(ctx, tc.p)
		wantNoErr(t, "History", err)
		if g := ids(h, summaryID); !slices.Equal(g, tc.want) {
			t.Errorf("History(%+v) = %q, want %q", tc.p, g, tc.want)
		}
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"a%b", []string{"a%b"}},
		{"%", []string{"a%b"}},
		{"x_y", []string{"x_y"}},
		{"_", []string{"x_y"}},
		{"'", []string{"o'brien"}},
		{drop, []string{drop}},
		{"; DROP", []string{drop}},
	} {
		us, err := s.ListUsers(ctx, store.Page{Query: tc.q})
		wantNoErr(t, "ListUsers", err)
		if g := ids(us, userName); !slices.Equal(g, tc.want) {
			t.Errorf("ListUsers(%q) = %q, want %q", tc.q, g, tc.want)
		}
	}
	if n, _ := s.CountUsers(ctx); n != len(users) {
		t.Errorf("CountUsers = %d, want %d", n, len(users))
	}
	wantPending(t, s, drop, step(60), 0, "n7", "n8")
	wantPending(t, s, "o'brien", step(60), 0, "n6", "n8")

	h, err := s.History(ctx, store.Page{Query: "Done"})
	wantNoErr(t, "History", err)
	if len(h) != 1 {
		t.Fatalf("History(Done): %d entries", len(h))
	}
	if g := h[0]; g.Title != "Done" || g.Message != "it's ok" || g.URI != "https://example.org/o'brien" ||
		g.Sender != "api:test" || !g.Created.Equal(step(9)) || g.Broadcast || !slices.Equal(g.To, []string{"bob"}) || g.Seq == 0 {
		t.Errorf("History(Done)[0] = %+v", g)
	}
}

func testHistoryCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []string{"alice", "bob", "carol"} {
		addUser(t, s, u, at(0))
	}
	enqueue(t, s, directed("d1", at(time.Minute), "alice", "bob", "carol"))
	enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	addUser(t, s, "dave", at(3*time.Minute))
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", at(4*time.Minute)))
	wantNoErr(t, "Ack", s.Ack(ctx, "d1", "bob", at(4*time.Minute)))
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "b1", "alice", at(4*time.Minute)))
	wantNoErr(t, "Ack", s.Ack(ctx, "b1", "bob", at(4*time.Minute)))

	h, err := s.History(ctx, store.Page{})
	wantNoErr(t, "History", err)
	want := map[string]map[string]int{
		"b1": {"queued": 1, "sent": 1, "acked": 1, "expired": 0},
		"d1": {"queued": 1, "sent": 1, "acked": 1, "expired": 0},
	}
	if g := ids(h, summaryID); !slices.Equal(g, []string{"b1", "d1"}) {
		t.Fatalf("History = %q", g)
	}
	for _, sum := range h {
		if fmt.Sprint(sum.Counts) != fmt.Sprint(want[sum.ID]) {
			t.Errorf("History %s counts = %v, want %v", sum.ID, sum.Counts, want[sum.ID])
		}
	}
	if !h[0].Broadcast || len(h[0].To) != 0 || !slices.Equal(h[1].To, []string{"alice", "bob", "carol"}) {
		t.Errorf("History recipients: b1 %v %q, d1 %q", h[0].Broadcast, h[0].To, h[1].To)
	}
}

func testQueueDepth(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(time.Hour)
	wantDepth(t, s, now, 0)
	for _, u := range []string{"alice", "bob", "carol"} {
		addUser(t, s, u, at(0))
	}
	enqueue(t, s, directed("d1", at(time.Minute), "alice", "bob", "carol"))
	wantDepth(t, s, now, 3)
	enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	wantDepth(t, s, now, 6)
	addUser(t, s, "dave", at(3*time.Minute)) // not a recipient of b1
	wantDepth(t, s, now, 6)
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "d1", "alice", now))
	wantNoErr(t, "MarkSent", s.MarkSent(ctx, "b1", "alice", now))
	wantDepth(t, s, now, 6) // sent is still in the queue
	wantNoErr(t, "Ack", s.Ack(ctx, "d1", "alice", now))
	wantNoErr(t, "Ack", s.Ack(ctx, "b1", "bob", now))
	wantNoErr(t, "Ack", s.Ack(ctx, "b1", "bob", now))
	wantDepth(t, s, now, 4)
}

func testConcurrentEnqueue(t *testing.T, s store.Store) {
	const writers, each = 8, 200
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	seqs := make([][]int64, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				n := directed(fmt.Sprintf("g%d-%d", g, i), at(time.Duration(i)*time.Millisecond), "alice")
				if err := s.Enqueue(ctx, &n); err != nil {
					t.Errorf("Enqueue(%s): %v", n.ID, err)
					return
				}
				seqs[g] = append(seqs[g], n.Seq)
				if i%50 == 0 { // readers alongside the writers
					if _, err := s.Pending(ctx, "alice", at(time.Hour), 10); err != nil {
						t.Errorf("Pending: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := make(map[int64]bool)
	for g, ss := range seqs {
		for i, seq := range ss {
			if seen[seq] {
				t.Fatalf("Seq %d assigned twice", seq)
			}
			seen[seq] = true
			if i > 0 && seq <= ss[i-1] {
				t.Errorf("writer %d: Seq %d after %d", g, seq, ss[i-1])
			}
		}
	}
	ps, err := s.Pending(ctx, "alice", at(time.Hour), 0)
	wantNoErr(t, "Pending", err)
	if len(ps) != writers*each {
		t.Fatalf("Pending: %d, want %d", len(ps), writers*each)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Seq <= ps[i-1].Seq {
			t.Fatalf("Pending not in Seq order at %d", i)
		}
	}
	wantDepth(t, s, at(time.Hour), writers*each)
}

func testAPITokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	h1, h2, h3 := []byte("hash-1"), []byte("hash-2"), []byte("hash-3")
	wantNoErr(t, "CreateAPIToken", s.CreateAPIToken(ctx, store.Token{Name: "ci", Hash: h1, Created: at(0)}))
	got, err := s.APIToken(ctx, h1)
	wantNoErr(t, "APIToken", err)
	if got.Name != "ci" || !bytes.Equal(got.Hash, h1) || !got.Created.Equal(at(0)) || !got.Expires.IsZero() || got.Used {
		t.Errorf("APIToken = %+v", got)
	}
	_, err = s.APIToken(ctx, h2)
	wantErr(t, "APIToken(unknown)", err, store.ErrNotFound)
	wantErr(t, "CreateAPIToken(dup name)", s.CreateAPIToken(ctx, store.Token{Name: "ci", Hash: h2, Created: at(0)}), store.ErrExists)
	wantErr(t, "CreateAPIToken(dup hash)", s.CreateAPIToken(ctx, store.Token{Name: "other", Hash: h1, Created: at(0)}), store.ErrExists)
	wantErr(t, "CreateAPIToken(no name)", s.CreateAPIToken(ctx, store.Token{Hash: h2}), store.ErrInvalid)
	wantErr(t, "CreateAPIToken(no hash)", s.CreateAPIToken(ctx, store.Token{Name: "x"}), store.ErrInvalid)
	wantNoErr(t, "CreateAPIToken", s.CreateAPIToken(ctx, store.Token{Name: "alpha", Hash: h3, Created: at(1), Expires: at(time.Hour)}))

	ts, err := s.ListAPITokens(ctx)
	wantNoErr(t, "ListAPITokens", err)
	if len(ts) != 2 || ts[0].Name != "alpha" || ts[1].Name != "ci" || !ts[0].Expires.Equal(at(time.Hour)) || !bytes.Equal(ts[0].Hash, h3) {
		t.Errorf("ListAPITokens = %+v", ts)
	}
	wantNoErr(t, "RevokeAPIToken", s.RevokeAPIToken(ctx, "ci"))
	_, err = s.APIToken(ctx, h1)
	wantErr(t, "APIToken(revoked)", err, store.ErrNotFound)
	wantErr(t, "RevokeAPIToken(again)", s.RevokeAPIToken(ctx, "ci"), store.ErrNotFound)
	if ts, _ := s.ListAPITokens(ctx); len(ts) != 1 {
		t.Errorf("ListAPITokens after revoke: %d", len(ts))
	}
	// The name and hash are free again.
	wantNoErr(t, "CreateAPIToken", s.CreateAPIToken(ctx, store.Token{Name: "ci", Hash: h1, Created: at(2)}))
}

func testInvites(t *testing.T, s store.Store) {
	ctx := t.Context()
	i1, i2, i3, i4 := []byte("inv-1"), []byte("inv-2"), []byte("inv-3"), []byte("inv-4")
	wantNoErr(t, "CreateInvite", s.CreateInvite(ctx, store.Token{Name: "for bob", Hash: i1, Created: at(0)}))
	wantNoErr(t, "CreateInvite", s.CreateInvite(ctx, store.Token{Name: "for bob", Hash: i2, Created: at(1), Expires: at(time.Hour)}))
	wantNoErr(t, "CreateInvite", s.CreateInvite(ctx, store.Token{Name: "race", Hash: i3, Created: at(2)}))
	wantNoErr(t, "CreateInvite", s.CreateInvite(ctx, store.Token{Name: "late", Hash: i4, Created: at(3), Expires: at(time.Hour)}))
	wantErr(t, "CreateInvite(dup)", s.CreateInvite(ctx, store.Token{Name: "x", Hash: i1, Created: at(4)}), store.ErrExists)
	wantErr(t, "CreateInvite(no hash)", s.CreateInvite(ctx, store.Token{Name: "x"}), store.ErrInvalid)

	wantNoErr(t, "UseInvite", s.UseInvite(ctx, i1, at(time.Minute)))
	wantErr(t, "UseInvite(used)", s.UseInvite(ctx, i1, at(time.Minute)), store.ErrNotFound)
	wantErr(t, "UseInvite(unknown)", s.UseInvite(ctx, []byte("nope"), at(time.Minute)), store.ErrNotFound)
	wantErr(t, "UseInvite(at expiry)", s.UseInvite(ctx, i4, at(time.Hour)), store.ErrNotFound)
	wantNoErr(t, "UseInvite(just before expiry)", s.UseInvite(ctx, i2, at(time.Hour).Add(-time.Nanosecond)))

	// Single use under contention.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.UseInvite(ctx, i3, at(time.Minute)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("UseInvite(concurrent): %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("UseInvite(concurrent): %d succeeded, want 1", ok)
	}

	ts, err := s.ListInvites(ctx)
	wantNoErr(t, "ListInvites", err)
	var got []string
	for _, tk := range ts {
		got = append(got, fmt.Sprintf("%s:%s:%v", tk.Name, tk.Hash, tk.Used))
	}
	want := []string{"for bob:inv-1:true", "for bob:inv-2:true", "race:inv-3:true", "late:inv-4:false"}
	if !slices.Equal(got, want) {
		t.Errorf("ListInvites = %q, want %q", got, want)
	}
	if !ts[1].Expires.Equal(at(time.Hour)) || !ts[1].Created.Equal(at(1)) || !ts[0].Expires.IsZero() {
		t.Errorf("ListInvites times = %+v", ts[:2])
	}
}

func testAdminHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AdminHash(ctx)
	wantErr(t, "AdminHash(unset)", err, store.ErrNotFound)
	wantErr(t, "SetAdminHash(empty)", s.SetAdminHash(ctx, nil), store.ErrInvalid)
	for _, h := range []string{"$argon2id$first", "$argon2id$second"} {
		wantNoErr(t, "SetAdminHash", s.SetAdminHash(ctx, []byte(h)))
		got, err := s.AdminHash(ctx)
		wantNoErr(t, "AdminHash", err)
		if string(got) != h {
			t.Errorf("AdminHash = %q, want %q", got, h)
		}
	}
}

func testRecord(t *testing.T, s store.Store) {
	ctx := t.Context()
	addUser(t, s, "alice", at(0))
	addUser(t, s, "bob", at(0))
	enqueue(t, s, directed("d1", at(time.Minute), "alice", "bob"))
	enqueue(t, s, broadcast("b1", at(2*time.Minute)))
	t1, t2 := at(10*time.Minute), at(11*time.Minute)
	err := s.Record(ctx, []store.Change{
		{ID: "d1", User: "alice", State: store.StateSent, At: t1},
		{ID: "b1", User: "alice", State: store.StateSent, At: t1},
		{ID: "b1", User: "bob", State: store.StateSent, At: t1},
		{ID: "d1", User: "alice", State: store.StateAcked, At: t2},
		// Gone notification and non-recipient: skipped, not fatal.
		{ID: "nope", User: "alice", State: store.StateAcked, At: t2},
		{ID: "d1", User: "carol", State: store.StateAcked, At: t2},
	})
	wantNoErr(t, "Record", err)
	wantDelivery(t, s, "d1", "alice", store.StateAcked, 1, t2)
	wantDelivery(t, s, "b1", "alice", store.StateSent, 1, t1)
	wantDelivery(t, s, "b1", "bob", store.StateSent, 1, t1)
	wantDelivery(t, s, "d1", "bob", store.StateQueued, 0, at(time.Minute))
	wantNoErr(t, "Record(empty)", s.Record(ctx, nil))
	if err := s.Record(ctx, []store.Change{{ID: "d1", User: "bob", State: store.StateExpired, At: t2}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Record(expired state) = %v, want ErrInvalid", err)
	}
	wantDelivery(t, s, "d1", "bob", store.StateQueued, 0, at(time.Minute))
}
