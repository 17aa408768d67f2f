package agent

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/secret"
)

// fakeClock is a wall clock and a monotonic one that tests move apart,
// as a suspend does.
type fakeClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (c *fakeClock) read() (time.Time, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall, c.mono
}

// run advances both clocks by d: the machine was awake.
func (c *fakeClock) run(d time.Duration) {
	c.mu.Lock()
	c.wall, c.mono = c.wall.Add(d), c.mono+d
	c.mu.Unlock()
}

// sleep advances the wall clock alone by d: the machine was suspended.
func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}

// set moves the wall clock alone to t (the user or NTP set it).
func (c *fakeClock) set(d time.Duration) { c.sleep(d) }

func TestSleepDetector(t *testing.T) {
	c := &fakeClock{wall: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	d := newSleepDetector(c.read, SleepThreshold)
	steps := []struct {
		name  string
		move  func()
		slept time.Duration
	}{
		{"awake", func() { c.run(30 * time.Second) }, 0},
		{"a late tick is no sleep", func() { c.run(3 * time.Minute) }, 0},
		{"small drift", func() { c.run(30 * time.Second); c.sleep(5 * time.Second) }, 0},
		{"suspended", func() { c.run(10 * time.Second); c.sleep(2 * time.Hour) }, 2 * time.Hour},
		{"awake again", func() { c.run(30 * time.Second) }, 0},
		{"clock set back", func() { c.run(30 * time.Second); c.set(-time.Hour) }, 0},
		{"just over the threshold", func() { c.run(30 * time.Second); c.sleep(SleepThreshold + time.Second) }, SleepThreshold + time.Second},
	}
	for _, s := range steps {
		s.move()
		if got := d.check(); got != s.slept {
			t.Errorf("%s: slept %v, want %v", s.name, got, s.slept)
		}
	}
}

func newTestAgent(t *testing.T) *Agent {
	t.Helper()
	h, err := history.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	a, err := New(Options{ConfigPath: filepath.Join(t.TempDir(), "c.toml"), History: h, Secrets: &secret.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHousekeepReconnectsAfterSleep(t *testing.T) {
	a := newTestAgent(t)
	var wakes atomic.Int32
	a.wake = func() { wakes.Add(1) }
	c := &fakeClock{wall: time.Now()}
	ticks := make(chan time.Time) // unbuffered: a send returns once the last tick was handled
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.housekeep(ctx, ticks, c.read)
	}()
	defer func() { cancel(); <-done }()
	tick := func() { ticks <- time.Time{} }

	for range 3 {
		c.run(DefaultWakeInterval)
		tick()
	}
	c.run(DefaultWakeInterval)
	c.sleep(8 * time.Hour)
	tick()
	c.run(DefaultWakeInterval)
	tick() // handled only after the one before
	if n := wakes.Load(); n != 1 {
		t.Fatalf("%d reconnects, want 1", n)
	}
}

func TestHousekeepEndsDNDOnTime(t *testing.T) {
	a := newTestAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.housekeep(ctx, nil, (&fakeClock{}).read)
	}()
	defer func() { cancel(); <-done }()
	a.mu.Lock()
	a.cfg.DNDUntil = time.Now().Add(100 * time.Millisecond)
	if s := a.statusLocked(); s.DNDUntil.IsZero() {
		t.Fatal("dnd not active")
	}
	a.mu.Unlock()
	select {
	case <-a.dirty:
	default:
	}
	a.dndSet <- struct{}{}
	select {
	case <-a.dirty:
	case <-time.After(5 * time.Second):
		t.Fatal("no status change when do-not-disturb ended")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.statusLocked(); !s.DNDUntil.IsZero() {
		t.Fatalf("dnd still shown: %v", s.DNDUntil)
	}
}
