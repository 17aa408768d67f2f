package delivery

import (
	"slices"
	"testing"
	"time"

	"github.com/xpush/xpush/server/store"
)

func sent(id, user string, at time.Time) store.Change {
	return store.Change{ID: id, User: user, State: store.StateSent, At: at}
}

func TestHeld(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var hd held
	var wrote []store.Change
	write := func(c store.Change) { wrote = append(wrote, c) }

	hd.put(sent("n1", "alice", t0), write)
	hd.put(sent("n1", "bob", t0.Add(time.Second)), write)
	hd.put(sent("n2", "alice", t0.Add(2*time.Second)), write)
	if len(wrote) != 0 {
		t.Fatalf("put wrote %v", wrote)
	}
	// Sent again while held: the new attempt is written at once, the
	// first stays held.
	hd.put(sent("n1", "bob", t0.Add(3*time.Second)), write)
	if len(wrote) != 1 || !wrote[0].At.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("second attempt: wrote %v", wrote)
	}
	wrote = nil

	// An ack takes its delivery's held state.
	c, ok := hd.take("n1", "bob")
	if !ok || !c.At.Equal(t0.Add(time.Second)) {
		t.Fatalf("take(n1, bob) = %v, %v", c, ok)
	}
	if _, ok := hd.take("n1", "bob"); ok {
		t.Fatal("taken twice")
	}
	if _, ok := hd.take("n9", "bob"); ok {
		t.Fatal("took a delivery never held")
	}

	// Aging writes what is older than the cutoff, oldest first.
	hd.takeOlder(t0.Add(1500*time.Millisecond), write)
	if len(wrote) != 1 || wrote[0].ID != "n1" || wrote[0].User != "alice" {
		t.Fatalf("takeOlder: wrote %v", wrote)
	}
	wrote = nil

	hd.put(sent("n3", "carol", t0.Add(4*time.Second)), write)
	hd.takeUser("alice", write)
	if len(wrote) != 1 || wrote[0].ID != "n2" {
		t.Fatalf("takeUser(alice): wrote %v", wrote)
	}
	wrote = nil
	hd.takeOlder(time.Time{}, write) // everything
	if len(wrote) != 1 || wrote[0].User != "carol" || len(hd.byKey) != 0 || hd.order != nil {
		t.Fatalf("takeOlder(zero): wrote %v, left %v %v", wrote, hd.byKey, hd.order)
	}
}

// TestHeldBounded checks that a full held set writes its oldest state
// instead of growing, and that acked keys do not pile up in order.
func TestHeldBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var hd held
	var wrote []store.Change
	write := func(c store.Change) { wrote = append(wrote, c) }
	for i := range maxHeld + 3 {
		hd.put(sent("n", string(rune('a'+i%26))+time.Duration(i).String(), t0.Add(time.Duration(i))), write)
	}
	if len(hd.byKey) != maxHeld || len(wrote) != 3 {
		t.Fatalf("held %d, wrote %d; want %d and 3", len(hd.byKey), len(wrote), maxHeld)
	}
	if !slices.IsSortedFunc(wrote, func(a, b store.Change) int { return a.At.Compare(b.At) }) || !wrote[0].At.Equal(t0) {
		t.Errorf("not the oldest first: %v", wrote)
	}
	// Put and ack many more: order stays bounded.
	for i := range 4 * maxHeld {
		c := sent("m", time.Duration(i).String(), t0.Add(time.Hour))
		hd.put(c, write)
		hd.take(c.ID, c.User)
	}
	if len(hd.order) > 2*maxHeld+1 {
		t.Errorf("order grew to %d", len(hd.order))
	}
}
