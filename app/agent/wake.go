package agent

import (
	"context"
	"time"
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

// housekeep runs on each tick: it reconnects after a sleep, refreshes the
// unread count and ends do-not-disturb in the status. A timer ends it on
// time between ticks.
func (a *Agent) housekeep(ctx context.Context, ticks <-chan time.Time, read clock) {
	det := newSleepDetector(read, SleepThreshold)
	var (
		timer  *time.Timer
		expire <-chan time.Time
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
	arm()
	defer func() {
		if timer != nil {
			timer.Stop()
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
		case <-ticks:
			if slept := det.check(); slept > 0 {
				a.log.Info("agent: the machine slept; reconnecting", "slept", slept.Round(time.Second))
				a.wake()
			}
			a.refreshUnread(ctx)
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
