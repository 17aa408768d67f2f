package postgres

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/postgres/pgtest"
)

const lease = 30 * time.Second

// twoInstances opens two stores (two connection pools, as two xpushd
// would have) on one fresh schema.
func twoInstances(t *testing.T) (a, b *DB) {
	t.Helper()
	dsn := pgtest.New(t)
	a, b = openDSN(t, dsn), openDSN(t, dsn)
	t.Cleanup(func() {
		checkInvariants(t, a)
		a.Close()
		b.Close()
	})
	return a, b
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func noteIDs(ns []store.Notification) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func wantClaim(t *testing.T, db *DB, owner, user string, now time.Time, limit int, want ...string) {
	t.Helper()
	got, err := db.Claim(t.Context(), owner, user, now, lease, limit)
	mustDo(t, "Claim", err)
	if want == nil {
		want = []string{}
	}
	if g := noteIDs(got); !slices.Equal(g, want) {
		t.Errorf("Claim(%s, %s, %v) = %q, want %q", owner, user, now.Sub(t0), g, want)
	}
}

func wantRow(t *testing.T, db *DB, id, user, state, owner string, attempts int) {
	t.Helper()
	var gotState string
	var gotOwner *string
	var gotAttempts int
	err := db.pool.QueryRow(t.Context(), `SELECT state, owner, attempts FROM deliveries
		WHERE notification_id = $1 AND username = $2`, id, user).Scan(&gotState, &gotOwner, &gotAttempts)
	mustDo(t, "delivery row", err)
	o := ""
	if gotOwner != nil {
		o = *gotOwner
	}
	if gotState != state || o != owner || gotAttempts != attempts {
		t.Errorf("delivery %s/%s = %s owner %q, %d attempts; want %s owner %q, %d",
			id, user, gotState, o, gotAttempts, state, owner, attempts)
	}
}

func setupClaims(t *testing.T, db *DB) {
	t.Helper()
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		mustDo(t, "CreateUser", db.CreateUser(ctx, store.User{Name: u, Created: t0}))
	}
	for _, n := range []store.Notification{
		{ID: "d1", To: []string{"alice", "bob"}, Created: t0.Add(time.Minute)},
		{ID: "b1", Broadcast: true, Created: t0.Add(2 * time.Minute)},
		{ID: "d2", To: []string{"alice"}, Created: t0.Add(3 * time.Minute), Expires: t0.Add(time.Hour)},
	} {
		mustDo(t, "Enqueue", db.Enqueue(ctx, &n))
	}
}

// TestClaimOnce: a claim takes what is pending once; the other instance
// gets nothing until the owner releases it or its lease runs out.
func TestClaimOnce(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	setupClaims(t, a)
	now := t0.Add(10 * time.Minute)

	wantClaim(t, a, "A", "alice", now, 2, "d1", "b1")
	wantClaim(t, b, "B", "alice", now, 0, "d2")
	wantClaim(t, a, "A", "alice", now, 0)
	wantClaim(t, b, "B", "alice", now.Add(lease-time.Nanosecond), 0)
	if ps, err := b.Pending(ctx, "alice", now, 0); err != nil || len(ps) != 0 {
		t.Errorf("Pending(alice) after claims = %q, %v", noteIDs(ps), err)
	}
	wantRow(t, a, "d1", "alice", store.StateSent, "A", 1)
	wantRow(t, a, "b1", "alice", store.StateSent, "A", 1)
	wantRow(t, a, "d2", "alice", store.StateSent, "B", 1)

	// Fan-out: only bob is still claimable; carol is no recipient.
	got, err := b.ClaimRecipients(ctx, "B", "b1", []string{"alice", "bob", "carol", "bob"}, now, lease)
	mustDo(t, "ClaimRecipients", err)
	if !slices.Equal(got, []string{"bob"}) {
		t.Errorf("ClaimRecipients(b1) = %q, want [bob]", got)
	}
	got, err = a.ClaimRecipients(ctx, "A", "b1", []string{"bob"}, now, lease)
	mustDo(t, "ClaimRecipients", err)
	if len(got) != 0 {
		t.Errorf("ClaimRecipients(b1, bob) again = %q, want none", got)
	}
	got, err = a.ClaimRecipients(ctx, "A", "d1", []string{"alice", "bob"}, now, lease)
	mustDo(t, "ClaimRecipients", err)
	if !slices.Equal(got, []string{"bob"}) {
		t.Errorf("ClaimRecipients(d1) = %q, want [bob]", got)
	}

	// The session ends before the ack: A gives alice's back.
	n, err := a.Release(ctx, "A", "alice", now.Add(time.Second))
	if err != nil || n != 2 {
		t.Errorf("Release(A, alice) = %d, %v; want 2", n, err)
	}
	wantRow(t, a, "d1", "alice", store.StateQueued, "", 1)
	wantRow(t, a, "d1", "bob", store.StateSent, "A", 1) // not alice's
	wantClaim(t, b, "B", "alice", now.Add(2*time.Second), 0, "d1", "b1")
	wantRow(t, a, "d1", "alice", store.StateSent, "B", 2)

	// An ack, recorded by either instance, ends the claim for good.
	mustDo(t, "Ack", a.Ack(ctx, "d1", "alice", now.Add(3*time.Second)))
	wantRow(t, a, "d1", "alice", store.StateAcked, "B", 2)
	wantClaim(t, a, "A", "alice", now.Add(time.Hour+time.Minute), 0, "b1") // d2 expired at 1h
	if n, err := b.Release(ctx, "B", "", now); err != nil || n != 2 {
		t.Errorf("Release(B) = %d, %v; want 2 (d2 to alice, b1 to bob)", n, err)
	}

	_, err = a.Claim(ctx, "A", "ghost", now, lease, 0)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Claim(ghost) = %v, want ErrNotFound", err)
	}
	for _, err := range []error{
		func() error { _, err := a.Claim(ctx, "", "alice", now, lease, 0); return err }(),
		func() error { _, err := a.Claim(ctx, "A", "alice", now, 0, 0); return err }(),
		func() error { _, err := a.Release(ctx, "", "", now); return err }(),
	} {
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("claim without an owner or lease: %v, want ErrInvalid", err)
		}
	}
}

// TestLeaseRunsOut: a dead owner's claims pass to another instance once
// the lease has run out, not before; an owner that renews keeps them.
func TestLeaseRunsOut(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	setupClaims(t, a)
	now := t0.Add(10 * time.Minute)

	wantClaim(t, a, "A", "alice", now, 0, "d1", "b1", "d2")
	wantClaim(t, a, "A", "bob", now, 0, "d1", "b1")
	// A renews at now+20s: its leases now end at now+50s.
	if n, err := a.Renew(ctx, "A", now.Add(20*time.Second), lease); err != nil || n != 5 {
		t.Errorf("Renew(A) = %d, %v; want 5", n, err)
	}
	if cs, err := b.Reclaim(ctx, "B", now.Add(49*time.Second), lease, 0); err != nil || len(cs) != 0 {
		t.Errorf("Reclaim before the lease ran out = %+v, %v", cs, err)
	}
	wantClaim(t, b, "B", "alice", now.Add(49*time.Second), 0)

	// A dies. After its lease, Claim for alice takes hers, and B's sweep
	// takes bob's.
	after := now.Add(50 * time.Second)
	wantClaim(t, b, "B", "alice", after, 1, "d1")
	cs, err := b.Reclaim(ctx, "B", after, lease, 0)
	mustDo(t, "Reclaim", err)
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s/%s/%d", c.ID, c.User, c.Attempts))
		if c.Title != "" || c.Seq == 0 || !c.Created.After(t0) {
			t.Errorf("Reclaim: notification %+v", c.Notification)
		}
	}
	slices.Sort(got)
	want := []string{"b1/alice/2", "b1/bob/2", "d1/bob/2", "d2/alice/2"}
	if !slices.Equal(got, want) {
		t.Errorf("Reclaim = %q, want %q", got, want)
	}
	wantRow(t, a, "d1", "alice", store.StateSent, "B", 2)
	// A, back from a pause, renews nothing: its claims are B's now.
	if n, err := a.Renew(ctx, "A", after, lease); err != nil || n != 0 {
		t.Errorf("Renew(A) after takeover = %d, %v; want 0", n, err)
	}
	// Nothing more to reclaim; an expired notification is never reclaimed.
	if cs, err := a.Reclaim(ctx, "A", t0.Add(2*time.Hour), lease, 0); err != nil || len(cs) != 4 {
		t.Errorf("Reclaim after the TTL of d2 = %d, %v; want 4 (all of B's but d2)", len(cs), err)
	}
}

// TestClaimsConcurrent: two instances (two pools) claim the same
// recipients' notifications at once, per user and per notification, while
// acks for what they claimed are recorded through the other instance.
// Every (notification, recipient) is claimed exactly once, and the
// broadcast counters end exact.
func TestClaimsConcurrent(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	const nusers, ndirected, nbroadcasts = 60, 4, 4
	var users []string
	for i := range nusers {
		users = append(users, fmt.Sprintf("u%02d", i))
		mustDo(t, "CreateUser", a.CreateUser(ctx, store.User{Name: users[i], Created: t0}))
	}
	var ids []string
	for i := range ndirected + nbroadcasts {
		n := store.Notification{ID: fmt.Sprintf("n%d", i), Created: t0.Add(time.Duration(i+1) * time.Minute)}
		if i < ndirected {
			n.To = users
		} else {
			n.Broadcast = true
		}
		mustDo(t, "Enqueue", a.Enqueue(ctx, &n))
		ids = append(ids, n.ID)
	}
	now := t0.Add(time.Hour)

	type claim struct{ id, user, owner string }
	var mu sync.Mutex
	var claims []claim
	var wg sync.WaitGroup
	for w := range 6 {
		db, other, owner := a, b, "A"
		if w%2 == 1 {
			db, other, owner = b, a, "B"
		}
		rnd := rand.New(rand.NewPCG(uint64(w), 7))
		wg.Go(func() {
			var mine []claim
			var acks []store.Change
			for _, i := range rnd.Perm(nusers) {
				u := users[i]
				if rnd.IntN(3) == 0 {
					// Fan-out of a notification to some users.
					id := ids[rnd.IntN(len(ids))]
					some := []string{u, users[rnd.IntN(nusers)], users[rnd.IntN(nusers)]}
					got, err := db.ClaimRecipients(ctx, owner, id, some, now, lease)
					if err != nil {
						t.Errorf("ClaimRecipients: %v", err)
						return
					}
					for _, g := range got {
						mine = append(mine, claim{id, g, owner})
					}
				}
				got, err := db.Claim(ctx, owner, u, now, lease, rnd.IntN(len(ids)+1))
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				for _, n := range got {
					mine = append(mine, claim{n.ID, u, owner})
					if rnd.IntN(2) == 0 {
						acks = append(acks, store.Change{ID: n.ID, User: u, State: store.StateAcked, At: now})
					}
				}
				if len(acks) >= 8 {
					// The IQ results reach the other instance.
					if err := other.Record(ctx, acks); err != nil {
						t.Errorf("Record: %v", err)
						return
					}
					acks = acks[:0]
				}
			}
			if err := other.Record(ctx, acks); err != nil {
				t.Errorf("Record: %v", err)
			}
			mu.Lock()
			claims = append(claims, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Whatever a limit left behind, a last pass claims.
	for _, u := range users {
		got, err := a.Claim(ctx, "A", u, now, lease, 0)
		mustDo(t, "Claim", err)
		for _, n := range got {
			claims = append(claims, claim{n.ID, u, "A"})
		}
	}
	seen := make(map[[2]string]string)
	for _, c := range claims {
		k := [2]string{c.id, c.user}
		if o, ok := seen[k]; ok {
			t.Errorf("%s/%s claimed twice: by %s and %s", c.id, c.user, o, c.owner)
		}
		seen[k] = c.owner
	}
	if len(seen) != nusers*len(ids) {
		t.Errorf("%d deliveries claimed, want %d", len(seen), nusers*len(ids))
	}
	var rows, attempts int
	err := a.pool.QueryRow(ctx, `SELECT count(*), COALESCE(max(attempts), 0) FROM deliveries`).Scan(&rows, &attempts)
	if err != nil || rows != nusers*len(ids) || attempts != 1 {
		t.Errorf("deliveries: %d rows, max %d attempts, %v; want %d, 1", rows, attempts, err, nusers*len(ids))
	}
	if d, err := a.QueueDepth(ctx, now); err != nil {
		t.Error(err)
	} else {
		t.Logf("%d claims, %d still sent (not acked)", len(seen), d)
	}
}

// TestRecordConcurrentOverlap: two instances record sends and acks of
// the same broadcast recipients at once, in batches of different orders
// (one records the sends, the other the IQ results): no batch fails,
// every delivery ends acked, and the counter stays exact.
func TestRecordConcurrentOverlap(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	const nusers = 300
	var users []string
	for i := range nusers {
		users = append(users, fmt.Sprintf("u%03d", i))
	}
	_, err := a.pool.Exec(ctx, `INSERT INTO users (name, created) SELECT unnest($1::text[]), $2`, users, ns(t0))
	mustDo(t, "users", err)
	for i := range 3 {
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Minute)}
		mustDo(t, "Enqueue", a.Enqueue(ctx, &n))
	}
	var wg sync.WaitGroup
	for w, db := range []*DB{a, b, a, b} {
		rnd := rand.New(rand.NewPCG(uint64(w), 11))
		state := store.StateSent
		if w%2 == 1 {
			state = store.StateAcked
		}
		wg.Go(func() {
			var changes []store.Change
			for _, i := range rnd.Perm(nusers * 3) {
				changes = append(changes, store.Change{
					ID: fmt.Sprintf("b%d", i%3), User: users[i/3], State: state,
					At: t0.Add(time.Hour + time.Duration(w)*time.Second),
				})
				if len(changes) == 50 {
					if err := db.Record(ctx, changes); err != nil {
						t.Errorf("Record: %v", err)
						return
					}
					changes = changes[:0]
				}
			}
		})
	}
	wg.Wait()
	var states []string
	rows, err := a.pool.Query(ctx, `SELECT state || ':' || count(*) FROM deliveries GROUP BY state ORDER BY 1`)
	mustDo(t, "states", err)
	for rows.Next() {
		var s string
		mustDo(t, "scan", rows.Scan(&s))
		states = append(states, s)
	}
	if want := []string{fmt.Sprintf("acked:%d", nusers*3)}; !slices.Equal(states, want) {
		t.Errorf("states = %q, want %q", states, want)
	}
	if d, err := a.QueueDepth(ctx, t0.Add(2*time.Hour)); err != nil || d != 0 {
		t.Errorf("QueueDepth = %d, %v; want 0", d, err)
	}
}

// TestMixedConcurrent: two instances run every kind of write at once
// (accounts created, back-dated and deleted; directed notifications and
// broadcasts; sends and acks; claims, releases and reclaims; Unsent and
// Expire) and no write fails for any reason but the documented ones; the
// broadcast counters end exact and no delivery outlives its account
// (checked when the instances close).
func TestMixedConcurrent(t *testing.T) {
	ctx := t.Context()
	a, b := twoInstances(t)
	name := func(i int) string { return fmt.Sprintf("u%02d", i) }
	for i := range 20 {
		mustDo(t, "CreateUser", a.CreateUser(ctx, store.User{Name: name(i), Created: t0}))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		db, owner := a, "A"
		if w%2 == 1 {
			db, owner = b, "B"
		}
		rnd := rand.New(rand.NewPCG(uint64(w), 3))
		wg.Go(func() {
			for range 80 {
				i := next.Add(1)
				at := t0.Add(time.Duration(i) * time.Second)
				u := name(rnd.IntN(30))
				id := fmt.Sprintf("n%d", rnd.Int64N(max(i, 1)))
				var err error
				switch op := rnd.IntN(12); op {
				case 0:
					created := at
					if rnd.IntN(2) == 0 {
						created = t0 // back-dated: a recipient of every broadcast
					}
					err = db.CreateUser(ctx, store.User{Name: u, Created: created})
				case 1:
					err = db.DeleteUser(ctx, u)
				case 2, 3:
					n := store.Notification{ID: fmt.Sprintf("n%d", i), Created: at, Expires: at.Add(time.Duration(rnd.IntN(120)) * time.Second)}
					if op == 2 {
						n.Broadcast = true
					} else {
						n.To = []string{u, name(rnd.IntN(30))}
					}
					err = db.Enqueue(ctx, &n)
				case 4, 5:
					var changes []store.Change
					for range rnd.IntN(20) {
						st := store.StateSent
						if rnd.IntN(2) == 0 {
							st = store.StateAcked
						}
						changes = append(changes, store.Change{
							ID: fmt.Sprintf("n%d", rnd.Int64N(max(i, 1))), User: name(rnd.IntN(30)), State: st, At: at,
						})
					}
					err = db.Record(ctx, changes)
				case 6:
					_, err = db.Claim(ctx, owner, u, at, lease, rnd.IntN(5))
				case 7:
					var users []string
					for range 5 {
						users = append(users, name(rnd.IntN(30)))
					}
					_, err = db.ClaimRecipients(ctx, owner, id, users, at, lease)
				case 8:
					_, err = db.Release(ctx, owner, u, at)
				case 9:
					_, err = db.Reclaim(ctx, owner, at, lease, 10)
				case 10:
					err = db.Unsent(ctx, u, at)
				case 11:
					_, err = db.Expire(ctx, at)
				}
				var unknown *store.UnknownRecipientsError
				if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) && !errors.As(err, &unknown) {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
