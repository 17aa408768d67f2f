package storetest

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xpush/xpush/server/store"
)

// testRecordLikeMemory: Record (set-based in the database stores) leaves
// the same deliveries, counts and queue depth as store.Memory does for
// the same batches of changes: repeated and conflicting changes to one
// delivery, several notifications per batch, an expired broadcast, an
// account created after a broadcast, unknown notifications and users.
func testRecordLikeMemory(t *testing.T, db store.Store) {
	ctx := t.Context()
	mem := store.NewMemory()
	stores := []store.Store{db, mem}
	var users []string
	for i := range 12 {
		users = append(users, fmt.Sprintf("u%02d", i))
	}
	do := func(what string, f func(s store.Store) error) {
		t.Helper()
		for _, s := range stores {
			if err := f(s); err != nil {
				t.Fatalf("%s (%T): %v", what, s, err)
			}
		}
	}
	for _, u := range users {
		do("CreateUser", func(s store.Store) error { return s.CreateUser(ctx, store.User{Name: u, Created: t0}) })
	}
	notes := []store.Notification{
		{ID: "b1", Title: "b1", Broadcast: true, Created: at(time.Minute)},
		{ID: "b2", Title: "b2", Broadcast: true, Created: at(2 * time.Minute), Expires: at(time.Hour)},
		{ID: "d1", Title: "d1", To: users[:5], Created: at(3 * time.Minute)},
		{ID: "b3", Title: "b3", Broadcast: true, Created: at(4 * time.Minute)},
	}
	for _, n := range notes {
		do("Enqueue", func(s store.Store) error { c := n; return s.Enqueue(ctx, &c) })
	}
	do("CreateUser(late)", func(s store.Store) error {
		return s.CreateUser(ctx, store.User{Name: "late", Created: at(150 * time.Second)})
	})
	do("Expire", func(s store.Store) error { _, err := s.Expire(ctx, at(2*time.Hour)); return err })

	ids := []string{"b1", "b2", "d1", "b3", "gone"}
	who := append(slices.Clone(users), "late", "ghost")
	rnd := rand.New(rand.NewPCG(1, 2))
	now := at(3 * time.Hour)
	for batch := range 40 {
		changes := make([]store.Change, rnd.IntN(30))
		for i := range changes {
			now = now.Add(time.Second)
			st := store.StateSent
			if rnd.IntN(3) == 0 {
				st = store.StateAcked
			}
			changes[i] = store.Change{ID: ids[rnd.IntN(len(ids))], User: who[rnd.IntN(len(who))], State: st, At: now}
		}
		do(fmt.Sprintf("Record(batch %d)", batch), func(s store.Store) error { return s.Record(ctx, changes) })
		if batch%10 == 9 {
			do("Unsent", func(s store.Store) error { return s.Unsent(ctx, who[rnd.IntN(len(who))], now) })
		}
	}

	for _, id := range ids[:4] {
		_, got, err := db.Notification(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := mem.Notification(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, func(a, b store.Delivery) bool {
			return a.User == b.User && a.State == b.State && a.Attempts == b.Attempts && a.Updated.Equal(b.Updated)
		}) {
			t.Errorf("Notification(%s) deliveries:\n%T %+v\nmemory %+v", id, db, got, want)
		}
	}
	for _, when := range []time.Time{t0, now} {
		got, err1 := db.QueueDepth(ctx, when)
		want, err2 := mem.QueueDepth(ctx, when)
		if err1 != nil || err2 != nil || got != want {
			t.Errorf("QueueDepth(%v) = %d, %v; memory %d, %v", when, got, err1, want, err2)
		}
	}
	got, err1 := db.History(ctx, store.Page{})
	want, err2 := mem.History(ctx, store.Page{})
	if err1 != nil || err2 != nil || len(got) != len(want) {
		t.Fatalf("History: %d, %v; memory %d, %v", len(got), err1, len(want), err2)
	}
	for i := range got {
		if !maps.Equal(got[i].Counts, want[i].Counts) {
			t.Errorf("History %s counts = %v, memory %v", got[i].ID, got[i].Counts, want[i].Counts)
		}
	}
}
