package postgres

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/server/store"
)

// Benchmarks of the same operations as server/store/sqlite's, on the
// test server (fsync and synchronous_commit on, as installed).

// addUsers inserts n accounts u00000... created at created, in one
// statement. It bypasses the broadcast counters: call it before any
// broadcast.
func addUsers(tb testing.TB, db *DB, n int, created time.Time) []string {
	tb.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("u%05d", i)
	}
	_, err := db.pool.Exec(tb.Context(), `INSERT INTO users (name, created) SELECT unnest($1::text[]), $2`, names, ns(created))
	if err != nil {
		tb.Fatal(err)
	}
	return names
}

func BenchmarkEnqueue(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
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

// BenchmarkEnqueueParallel: writers from many goroutines commit on their
// own connections; PostgreSQL's group commit shares the WAL flushes.
func BenchmarkEnqueueParallel(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
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

// BenchmarkPending is the login path's query for an account with nothing
// pending, among 10,000 accounts.
func BenchmarkPending(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	names := addUsers(b, db, 10000, t0)
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

// BenchmarkQueueDepth is the /metrics query with 10,000 accounts and 100
// live broadcasts.
func BenchmarkQueueDepth(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	addUsers(b, db, 10000, t0)
	for i := range 100 {
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Minute)}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if d, err := db.QueueDepth(ctx, t0.Add(24*time.Hour)); err != nil || d != 100*10000 {
			b.Fatalf("QueueDepth = %d, %v", d, err)
		}
	}
}

// BenchmarkRecordBroadcast is the delivery path for one broadcast to
// 10,000 accounts: Record of the 10,000 sent changes, then of the 10,000
// acks. Each op is a new broadcast (enqueued outside the timer).
func BenchmarkRecordBroadcast(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	const users = 10000
	names := addUsers(b, db, users, t0)
	sent := make([]store.Change, users)
	acked := make([]store.Change, users)
	i := 0
	for b.Loop() {
		b.StopTimer()
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Title: "all", Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Second)}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
		for u, name := range names {
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

// BenchmarkClaimRecipients is a cluster instance's fan-out of a
// broadcast to 10,000 online recipients in claims of 1,024, then the acks
// of the same size recorded: the claim path's Record.
func BenchmarkClaimRecipients(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	const users, batch = 10000, 1024
	names := addUsers(b, db, users, t0)
	acks := make([]store.Change, users)
	i := 0
	for b.Loop() {
		b.StopTimer()
		n := store.Notification{ID: fmt.Sprintf("b%d", i), Title: "all", Broadcast: true, Created: t0.Add(time.Duration(i+1) * time.Second)}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
		for u, name := range names {
			acks[u] = store.Change{ID: n.ID, User: name, State: store.StateAcked, At: n.Created.Add(2 * time.Second)}
		}
		b.StartTimer()
		for lo := 0; lo < users; lo += batch {
			got, err := db.ClaimRecipients(ctx, "A", n.ID, names[lo:min(lo+batch, users)], n.Created.Add(time.Second), time.Minute)
			if err != nil || len(got) != min(batch, users-lo) {
				b.Fatalf("ClaimRecipients = %d, %v", len(got), err)
			}
		}
		for lo := 0; lo < users; lo += batch {
			if err := db.Record(ctx, acks[lo:min(lo+batch, users)]); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
	b.ReportMetric(float64(b.N*users)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkClaim is the login path of a cluster instance: one user's
// claim of 10 pending notifications (5 directed, 5 broadcasts), among
// 1,000 accounts; each op claims for the next account.
func BenchmarkClaim(b *testing.B) {
	ctx := b.Context()
	db := openTemp(b)
	const users = 1000
	names := addUsers(b, db, users, t0)
	for i := range 10 {
		n := store.Notification{ID: fmt.Sprintf("n%d", i), Created: t0.Add(time.Duration(i+1) * time.Minute)}
		if i%2 == 0 {
			n.To = names
		} else {
			n.Broadcast = true
		}
		if err := db.Enqueue(ctx, &n); err != nil {
			b.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	i := 0
	for b.Loop() {
		if i == users {
			// Everyone claimed: give them all back, off the clock.
			b.StopTimer()
			if _, err := db.Release(ctx, "A", "", now); err != nil {
				b.Fatal(err)
			}
			i = 0
			b.StartTimer()
		}
		got, err := db.Claim(ctx, "A", names[i], now, time.Minute, 0)
		if err != nil || len(got) != 10 {
			b.Fatalf("Claim = %d, %v", len(got), err)
		}
		i++
	}
}
