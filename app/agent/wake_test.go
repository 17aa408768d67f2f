package agent

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/xmpp"
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

// startHousekeep runs a.housekeep with w and a ticker the test drives:
// a tick sent on the returned channel is taken when housekeep reads it.
// ticking reports whether housekeep holds a ticker.
func startHousekeep(t *testing.T, a *Agent, w *sleepWatch) (ticks chan<- time.Time, ticking func() bool) {
	t.Helper()
	ch := make(chan time.Time) // unbuffered: a send returns once housekeep took the tick
	var running atomic.Int32
	tick := func() (<-chan time.Time, func()) {
		running.Add(1)
		return ch, func() { running.Add(-1) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.housekeep(ctx, w, tick)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if n := running.Load(); n != 0 {
			t.Errorf("%d tickers left running", n)
		}
	})
	return ch, func() bool { return running.Load() == 1 }
}

// TestHousekeepTicksWhileOffline: while connecting, ticks take the
// readings and a sleep between two of them reconnects once; online, there
// is no ticker.
func TestHousekeepTicksWhileOffline(t *testing.T) {
	a := newTestAgent(t)
	wakes := make(chan struct{}, 4)
	a.wake = func() { wakes <- struct{}{} }
	c := &fakeClock{wall: time.Now()}
	ticks, ticking := startHousekeep(t, a, newSleepWatch(c.read))

	for range 3 {
		c.run(DefaultWakeInterval)
		ticks <- time.Time{}
	}
	if !ticking() {
		t.Fatal("no ticker while connecting")
	}
	c.run(DefaultWakeInterval)
	c.sleep(8 * time.Hour)
	ticks <- time.Time{}
	waitWake(t, wakes)
	c.run(DefaultWakeInterval)
	ticks <- time.Time{}
	noWake(t, wakes)

	// Online: the ticker stops; offline again, it starts.
	a.setState(control.StateOnline, "me@example.org/xpush", "", false)
	eventually(t, "the ticker stopped while online", func() bool { return !ticking() })
	a.setState(control.StateOffline, "", "The server cannot be reached.", false)
	eventually(t, "the ticker started while offline", ticking)
	// A wrong password is not fixed by reconnecting: no ticker.
	a.setState(control.StateOffline, "", "Wrong user name or password.", true)
	eventually(t, "the ticker stopped on a permanent error", func() bool { return !ticking() })
}

// TestSleepWatchConnection: online, the connection's reads and writes
// take the readings: the first write after a sleep reconnects, once.
func TestSleepWatchConnection(t *testing.T) {
	a := newTestAgent(t)
	wakes := make(chan struct{}, 4)
	a.wake = func() { wakes <- struct{}{} }
	a.setState(control.StateOnline, "me@example.org/xpush", "", false)
	c := &fakeClock{wall: time.Now()}
	w := newSleepWatch(c.read)
	_, ticking := startHousekeep(t, a, w)

	client, server := net.Pipe()
	defer server.Close()
	go io.Copy(io.Discard, server)
	conn, err := w.dial(func(context.Context, string, string) (net.Conn, error) { return client, nil })(context.Background(), "tcp", "x")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keepalive := func() {
		t.Helper()
		if _, err := conn.Write([]byte{' '}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		c.run(xmpp.DefaultKeepalive)
		keepalive()
	}
	noWake(t, wakes)
	c.run(10 * time.Second)
	c.sleep(2 * time.Hour)
	keepalive()
	waitWake(t, wakes)
	c.run(xmpp.DefaultKeepalive)
	keepalive()
	noWake(t, wakes)
	if ticking() {
		t.Error("a ticker runs while online")
	}

	// A read that returns after a sleep reports it too.
	go func() {
		c.sleep(time.Hour)
		server.Write([]byte("<iq/>"))
	}()
	if _, err := conn.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wakes)
}

func waitWake(t *testing.T, wakes <-chan struct{}) {
	t.Helper()
	select {
	case <-wakes:
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnect after the sleep")
	}
}

// noWake checks that no reconnect is pending. housekeep reports a sleep
// on its own goroutine, so this sees a wrong one only if it came in
// time: a check that cannot fail wrongly, though it may miss.
func noWake(t *testing.T, wakes <-chan struct{}) {
	t.Helper()
	select {
	case <-wakes:
		t.Fatal("a reconnect without a sleep")
	default:
	}
}

// eventually polls cond until it holds, for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHousekeepEndsDNDOnTime(t *testing.T) {
	a := newTestAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.housekeep(ctx, newSleepWatch((&fakeClock{}).read), func() (<-chan time.Time, func()) { return nil, func() {} })
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
