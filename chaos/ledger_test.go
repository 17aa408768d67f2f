package chaos

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kinds of sends.
const (
	kindSingle = "single"
	kindList   = "list"
	kindAll    = "all"
	kindBulk   = "bulk" // to a stopped listener, large
)

// note is one notification the API accepted.
type note struct {
	id     string
	sender string
	seq    int
	kind   string
	to     []string // nil for a broadcast
}

// ledger is what was sent: every notification the API accepted, and the
// accounts a broadcast goes to.
type ledger struct {
	accounts []string // every account, made before the first send

	mu    sync.Mutex
	notes map[string]*note
	order []*note // as accepted
}

func newLedger(accounts []string) *ledger {
	return &ledger{accounts: accounts, notes: make(map[string]*note)}
}

// add records a notification the API accepted (202, or 409 for a retry
// of one it had accepted already).
func (l *ledger) add(n *note) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.notes[n.id] == nil {
		l.notes[n.id] = n
		l.order = append(l.order, n)
	}
}

// all returns the accepted notifications in acceptance order.
func (l *ledger) all() []*note {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.order)
}

func (l *ledger) lookup(id string) *note {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.notes[id]
}

// recipients returns who n is for.
func (l *ledger) recipients(n *note) []string {
	if n.to == nil {
		return l.accounts
	}
	return n.to
}

// expected returns, per account, the notifications addressed to it.
func (l *ledger) expected() map[string][]*note {
	want := make(map[string][]*note, len(l.accounts))
	for _, n := range l.all() {
		for _, u := range l.recipients(n) {
			want[u] = append(want[u], n)
		}
	}
	return want
}

// inbox is what one account's client received, after the client's own
// dedupe by id, and how its connection fared.
type inbox struct {
	user string

	mu      sync.Mutex
	count   map[string]int // notifications by id
	first   []string       // ids in the order they first came
	wire    int            // notification pushes read off the wire
	onlines int            // sessions started (resumed or new)
	resumed int            // of those, XEP-0198 resumptions
	offline int            // sessions lost to an error
	errs    map[string]int // their errors, addresses left out
	// lastOffline and lastOnline are when the last ones happened.
	lastOffline, lastOnline time.Time
}

func newInbox(user string) *inbox { return &inbox{user: user, count: make(map[string]int)} }

// got records a notification the client reported.
func (b *inbox) got(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.count[id] == 0 {
		b.first = append(b.first, id)
	}
	b.count[id]++
}

func (b *inbox) online(resumed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onlines++
	if resumed {
		b.resumed++
	}
	b.lastOnline = time.Now()
}

// addrRE matches an address in an error, to group errors by kind.
var addrRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

func (b *inbox) lost(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.offline++
	if err != nil {
		if b.errs == nil {
			b.errs = make(map[string]int)
		}
		b.errs[addrRE.ReplaceAllString(err.Error(), "ADDR")]++
	}
	b.lastOffline = time.Now()
}

func (b *inbox) pushes(n int) {
	b.mu.Lock()
	b.wire += n
	b.mu.Unlock()
}

// delivery names one notification for one account.
type delivery struct{ user, id string }

func (d delivery) String() string { return d.user + ":" + d.id }

// missing counts the expected deliveries not received yet, and returns
// up to limit of them.
func missing(want map[string][]*note, boxes map[string]*inbox, limit int) (int, []delivery) {
	n := 0
	var some []delivery
	for _, u := range sortedKeys(want) {
		b := boxes[u]
		b.mu.Lock()
		for _, nt := range want[u] {
			if b.count[nt.id] == 0 {
				n++
				if len(some) < limit {
					some = append(some, delivery{u, nt.id})
				}
			}
		}
		b.mu.Unlock()
	}
	return n, some
}

// verdict is the outcome of a run, per account and notification.
type verdict struct {
	expected  int // deliveries expected
	delivered int // of those, received (at least once)
	lost      []delivery
	dups      []dup
	unknown   []delivery // received, never sent
	disorder  []disorder
}

type dup struct {
	delivery
	times int
}

// disorder is a notification that came after a later one of the same
// sender.
type disorder struct {
	user, sender string
	later, early *note // later came first
}

// check compares what every inbox received with what was sent.
func check(l *ledger, boxes map[string]*inbox) verdict {
	var v verdict
	want := l.expected()
	for _, u := range sortedKeys(boxes) {
		b := boxes[u]
		b.mu.Lock()
		wanted := make(map[string]bool, len(want[u]))
		for _, n := range want[u] {
			wanted[n.id] = true
			v.expected++
			switch c := b.count[n.id]; {
			case c == 0:
				v.lost = append(v.lost, delivery{u, n.id})
			case c > 1:
				v.dups = append(v.dups, dup{delivery{u, n.id}, c})
				v.delivered++
			default:
				v.delivered++
			}
		}
		last := map[string]*note{} // per sender, the latest seen
		for _, id := range b.first {
			n := l.lookup(id)
			if n == nil || !wanted[id] {
				v.unknown = append(v.unknown, delivery{u, id})
				continue
			}
			if p := last[n.sender]; p != nil && p.seq > n.seq {
				v.disorder = append(v.disorder, disorder{user: u, sender: n.sender, later: p, early: n})
				continue
			}
			last[n.sender] = n
		}
		b.mu.Unlock()
	}
	return v
}

// ok reports whether nothing went wrong.
func (v verdict) ok() bool {
	return len(v.lost) == 0 && len(v.dups) == 0 && len(v.unknown) == 0 && len(v.disorder) == 0
}

// failures describes what went wrong, at most limit items of each kind.
func (v verdict) failures(limit int) string {
	var sb strings.Builder
	list := func(what string, n int, item func(i int) string) {
		if n == 0 {
			return
		}
		fmt.Fprintf(&sb, "%s: %d", what, n)
		for i := range min(n, limit) {
			sb.WriteString("\n  " + item(i))
		}
		if n > limit {
			fmt.Fprintf(&sb, "\n  ... and %d more", n-limit)
		}
		sb.WriteString("\n")
	}
	list("lost (user:id)", len(v.lost), func(i int) string { return v.lost[i].String() })
	list("duplicated (user:id ×times)", len(v.dups), func(i int) string {
		return fmt.Sprintf("%s ×%d", v.dups[i].delivery, v.dups[i].times)
	})
	list("received but never sent to that user (user:id)", len(v.unknown), func(i int) string { return v.unknown[i].String() })
	list("out of order (user sender: later id (kind) came before earlier id (kind))", len(v.disorder), func(i int) string {
		d := v.disorder[i]
		return fmt.Sprintf("%s %s: %s (%s) before %s (%s)", d.user, d.sender, d.later.id, d.later.kind, d.early.id, d.early.kind)
	})
	return sb.String()
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}

// TestCheck makes sure the verdict sees each kind of failure: a test of
// the test.
func TestCheck(t *testing.T) {
	l := newLedger([]string{"a", "b", "c"})
	l.add(&note{id: "s0-1", sender: "s0", seq: 1, kind: kindSingle, to: []string{"a"}})
	l.add(&note{id: "s0-2", sender: "s0", seq: 2, kind: kindAll})
	l.add(&note{id: "s1-1", sender: "s1", seq: 1, kind: kindList, to: []string{"b", "c"}})
	l.add(&note{id: "s0-3", sender: "s0", seq: 3, kind: kindList, to: []string{"a", "c"}})
	l.add(&note{id: "s0-3", sender: "s0", seq: 3, kind: kindList, to: []string{"a", "c"}}) // a retry
	boxes := map[string]*inbox{"a": newInbox("a"), "b": newInbox("b"), "c": newInbox("c")}

	deliver := func(u string, ids ...string) {
		for _, id := range ids {
			boxes[u].got(id)
		}
	}
	deliver("a", "s0-1", "s0-2", "s0-3")
	deliver("b", "s1-1", "s0-2")
	deliver("c", "s0-2", "s1-1", "s0-3")
	if n, _ := missing(l.expected(), boxes, 10); n != 0 {
		t.Fatalf("missing = %d, want 0", n)
	}
	if v := check(l, boxes); !v.ok() || v.expected != 8 || v.delivered != 8 {
		t.Fatalf("a clean run: %+v\n%s", v, v.failures(10))
	}

	deliver("a", "s0-2") // a duplicate
	deliver("b", "s9-9") // never sent
	deliver("b", "s0-1") // sent, but not to b
	boxes["c"] = newInbox("c")
	deliver("c", "s0-3", "s0-2") // s0-2 after s0-3; s1-1 lost
	n, some := missing(l.expected(), boxes, 10)
	if n != 1 || len(some) != 1 || some[0] != (delivery{"c", "s1-1"}) {
		t.Fatalf("missing = %d %v", n, some)
	}
	v := check(l, boxes)
	if v.ok() {
		t.Fatal("a broken run passed")
	}
	want := `lost (user:id): 1
  c:s1-1
duplicated (user:id ×times): 1
  a:s0-2 ×2
received but never sent to that user (user:id): 2
  b:s9-9
  b:s0-1
out of order (user sender: later id (kind) came before earlier id (kind)): 1
  c s0: s0-3 (list) before s0-2 (all)
`
	if got := v.failures(10); got != want {
		t.Fatalf("failures:\n%s\nwant:\n%s", got, want)
	}
}
