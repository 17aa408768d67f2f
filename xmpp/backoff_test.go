package xmpp

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackoff checks the delays with the random source at both ends of
// its range: exponential ceilings from min, capped at max, full jitter in
// between, and a reset.
func TestBackoff(t *testing.T) {
	const (
		lo = DefaultBackoffMin
		hi = DefaultBackoffMax
	)
	ceilings := []time.Duration{
		lo, 2 * lo, 4 * lo, 8 * lo, 16 * lo, 32 * lo, 64 * lo, 128 * lo, 256 * lo,
		hi, hi, hi, // 512 s > 5 min
	}
	for _, tc := range []struct {
		name string
		pick func(n int64) int64 // the random source: [0, n)
		want func(ceil time.Duration) time.Duration
	}{
		{"lowest draw", func(int64) int64 { return 0 }, func(time.Duration) time.Duration { return lo }},
		{"highest draw", func(n int64) int64 { return n - 1 }, func(c time.Duration) time.Duration { return c }},
		{"middle draw", func(n int64) int64 { return n / 2 }, func(c time.Duration) time.Duration { return lo + (c-lo+1)/2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ranges []int64
			b := backoff{min: lo, max: hi, rand: func(n int64) int64 {
				ranges = append(ranges, n)
				return tc.pick(n)
			}}
			for i, ceil := range ceilings {
				got := b.next()
				if want := tc.want(ceil); got != want {
					t.Errorf("attempt %d: delay %v, want %v", i, got, want)
				}
				if got < lo || got > hi {
					t.Errorf("attempt %d: delay %v outside [%v, %v]", i, got, lo, hi)
				}
			}
			// The first attempt has nothing to draw; then the draw
			// covers [min, ceiling].
			for i, n := range ranges {
				if want := int64(ceilings[i+1]-lo) + 1; n != want {
					t.Errorf("draw %d over %d, want %d", i, n, want)
				}
			}
			b.reset()
			if got := b.next(); got != lo {
				t.Errorf("after reset: %v, want %v", got, lo)
			}
		})
	}
}

// TestBackoffRandomBounds draws with the real random source.
func TestBackoffRandomBounds(t *testing.T) {
	b := backoff{min: DefaultBackoffMin, max: DefaultBackoffMax}
	for i := range 1000 {
		if i%40 == 0 {
			b.reset()
		}
		if d := b.next(); d < DefaultBackoffMin || d > DefaultBackoffMax {
			t.Fatalf("delay %v out of bounds", d)
		}
	}
	// A long run of failures does not overflow.
	b.attempt = 1 << 30
	if d := b.next(); d < DefaultBackoffMin || d > DefaultBackoffMax {
		t.Fatalf("delay %v out of bounds after many attempts", d)
	}
	// min above max: min wins, no panic.
	b = backoff{min: time.Minute, max: time.Second}
	if d := b.next(); d != time.Minute {
		t.Errorf("min > max: %v", d)
	}
}

// TestBackoffInRun: Run backs off more after each failed connection, and
// starts again from the minimum after a session that lasted StableAfter.
// The random source records the range of each draw, which tells the
// attempt; it always picks the minimum so the test runs fast.
func TestBackoffInRun(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64 // the fake clock's advance
	p := newPair(t, func(c *Config) {
		c.BackoffMin = time.Millisecond
		c.BackoffMax = time.Second
		c.StableAfter = time.Hour
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	draws := make(chan int64, 100)
	p.c.backoffRand = func(n int64) int64 { draws <- n; return 0 }
	p.start()
	refused := errors.New("connection refused")
	for range 4 {
		p.state(StateConnecting)
		p.d.Refuse(refused)
		if sc := p.offline(); !errors.Is(sc.Err, refused) || !sc.Retry {
			t.Fatalf("offline with %v", sc.Err)
		}
	}
	// A session that lasts: the clock jumps past StableAfter.
	srv := p.online(onlineOpts{})
	skew.Add(int64(2 * time.Hour))
	srv.Close()
	p.offline()
	p.state(StateConnecting)
	p.d.Refuse(refused)
	p.offline()
	p.state(StateConnecting)

	ms := int64(time.Millisecond)
	// Attempts 1-3 draw over 1, 3, 7 ms; attempt 0 (the first failure,
	// and the first after the stable session) does not draw; then 1 ms
	// again rather than 15.
	want := []int64{1*ms + 1, 3*ms + 1, 7*ms + 1, 1*ms + 1}
	var got []int64
	for len(draws) > 0 {
		got = append(got, <-draws)
	}
	if !slices.Equal(got, want) {
		t.Errorf("draws over %v, want %v", got, want)
	}
}

// TestReconnectSkipsBackoff: Reconnect cuts a long backoff short.
func TestReconnectSkipsBackoff(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) {
		c.BackoffMin = time.Hour
		c.BackoffMax = time.Hour
	})
	p.state(StateConnecting)
	p.d.Refuse(errors.New("network is unreachable"))
	sc := p.offline()
	if got := Explain(sc.Err); got != "The server cannot be reached." {
		t.Errorf("Explain: %q", got)
	}
	p.d.ExpectNoDial(quiet)
	p.c.Reconnect()
	p.online(onlineOpts{})
}

// TestDedupe: the last n keys are remembered, the oldest forgotten first.
func TestDedupe(t *testing.T) {
	d := newDedupe(3)
	for _, k := range []string{"a", "b", "c"} {
		if !d.add(k) {
			t.Fatalf("%s not new", k)
		}
	}
	if d.add("a") || d.add("c") {
		t.Fatal("a repeat was new")
	}
	if !d.add("d") { // forgets a
		t.Fatal("d not new")
	}
	if !d.add("a") {
		t.Error("a still remembered after 3 newer keys")
	}
	if d.add("d") {
		t.Error("d forgotten")
	}
	if d.order.Len() != 3 || len(d.keys) != 3 {
		t.Errorf("holds %d/%d keys, want 3", d.order.Len(), len(d.keys))
	}
}
