package agent

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/xpush/xpush/app/control"
)

// clock reads the wall clock and a monotonic one, which stops while the
// machine sleeps.
type clock func() (wall time.Time, mono time.Duration)

// systemClock reads Go's clocks: the monotonic reading of time.Now stops
// during suspend on Linux (CLOCK_MONOTONIC) and macOS, while the wall
// clock does not.
func systemClock() clock {
	start := time.Now()
	return func() (time.Time, time.Duration) {
		now := time.Now()
		return now.Round(0), now.Sub(start)
	}
}

// sleepDetector notices that the machine slept between two readings: the
// wall clock ran ahead of the monotonic clock by more than threshold.
type sleepDetector struct {
	read      clock
	threshold time.Duration
	wall      time.Time
	mono      time.Duration
}

func newSleepDetector(read clock, threshold time.Duration) *sleepDetector {
	d := &sleepDetector{read: read, threshold: threshold}
	d.wall, d.mono = read()
	return d
}

// check takes a reading and returns how long the machine slept since the
// last one, or 0. A wall clock set back is not a sleep.
func (d *sleepDetector) check() time.Duration {
	wall, mono := d.read()
	gap := wall.Sub(d.wall) - (mono - d.mono)
	d.wall, d.mono = wall, mono
	if gap > d.threshold {
		return gap
	}
	return 0
}

// sleepWatch runs the sleep detector at moments when the agent is awake
// anyway, so that it costs no wake-up of its own while the agent is
// online: each read and write on the XMPP connection takes a reading
// (the client's keepalive writes at least once per keepalive interval on
// an idle stream). While the agent is not online, housekeep takes them
// from a ticker. A sleep found is reported on slept, for housekeep.
type sleepWatch struct {
	mu    sync.Mutex
	det   *sleepDetector
	slept chan time.Duration
}

func newSleepWatch(read clock) *sleepWatch {
	return &sleepWatch{det: newSleepDetector(read, SleepThreshold), slept: make(chan time.Duration, 1)}
}

// check takes a reading; safe for concurrent use, and it never blocks.
func (w *sleepWatch) check() {
	w.mu.Lock()
	d := w.det.check()
	w.mu.Unlock()
	if d > 0 {
		select {
		case w.slept <- d:
		default: // one report is pending already: it calls for the same reconnect
		}
	}
}

// dialer is xmpp.Config.Dial.
type dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// dial wraps next (a net.Dialer's when nil) so that the connections it
// makes take a reading on each Read and Write.
func (w *sleepWatch) dial(next dialer) dialer {
	if next == nil {
		var d net.Dialer
		next = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &watchedConn{Conn: c, w: w}, nil
	}
}

// watchedConn is a connection whose reads and writes run the sleep
// detector. Closing it closes the connection it wraps.
type watchedConn struct {
	net.Conn
	w *sleepWatch
}

// Read reads, then takes a reading: a read that returns after a resume
// reports the sleep.
func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.check()
	return n, err
}

// Write takes a reading, then writes: the first keepalive after a resume
// reports the sleep.
func (c *watchedConn) Write(p []byte) (int, error) {
	c.w.check()
	return c.Conn.Write(p)
}

// ticker starts a ticker and returns its channel and its Stop.
type ticker func() (<-chan time.Time, func())

// newTicker returns a ticker of period d.
func newTicker(d time.Duration) ticker {
	return func() (<-chan time.Time, func()) {
		t := time.NewTicker(d)
		return t.C, t.Stop
	}
}

// housekeep reconnects after a sleep of the machine and ends
// do-not-disturb on time, until ctx ends. It wakes up only for those: a
// timer armed for the end of do-not-disturb, a sleep reported by the
// connection (see sleepWatch), a state change, and, while the agent is
// connecting or offline (no connection to take readings from), a ticker
// that takes them instead.
func (a *Agent) housekeep(ctx context.Context, w *sleepWatch, tick ticker) {
	var (
		timer  *time.Timer
		expire <-chan time.Time
		ticks  <-chan time.Time
		stop   func()
	)
	arm := func() {
		if timer != nil {
			timer.Stop()
			timer, expire = nil, nil
		}
		a.mu.Lock()
		until, active := a.cfg.DNDUntil, a.dndActiveLocked()
		a.mu.Unlock()
		if active {
			timer = time.NewTimer(until.Sub(a.now()))
			expire = timer.C
		}
	}
	// ticking starts the ticker while there is no session to take
	// readings, and stops it once there is one, or nothing a reconnect
	// would help (no account; a permanent error such as a wrong password).
	ticking := func() {
		a.mu.Lock()
		st, permanent := a.state, a.permanent
		a.mu.Unlock()
		need := st == control.StateConnecting || (st == control.StateOffline && !permanent)
		switch {
		case need && stop == nil:
			ticks, stop = tick()
		case !need && stop != nil:
			stop()
			ticks, stop = nil, nil
		}
	}
	arm()
	ticking()
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if stop != nil {
			stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.dndSet:
			arm()
		case <-expire:
			timer, expire = nil, nil
			a.changed()
		case <-a.stateSet:
			ticking()
		case <-ticks:
			w.check()
		case slept := <-w.slept:
			a.log.Info("agent: the machine slept; reconnecting", "slept", slept.Round(time.Second))
			a.wake()
			// A timer does not run while the machine sleeps: re-arm it,
			// which publishes an expiry that was missed.
			if expire != nil {
				arm()
				if expire == nil {
					a.changed()
				}
			}
		}
	}
}
