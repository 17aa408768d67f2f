package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xpush/xpush/server/api"
)

// Fault kinds.
const (
	faultKill    = "kill"    // SIGKILL xpushd, start it again
	faultDrop    = "drop"    // close a random share of the proxied connections
	faultStall   = "stall"   // stall a random share past the ping timeout
	faultHiccup  = "hiccup"  // stall a random share briefly
	faultDeadNet = "deadnet" // stall everything, new connections too
	faultStop    = "sigstop" // SIGSTOP a listener past the write timeout, with bulk
	faultIdle    = "idlestop"
)

// event is one fault at a time into the window.
type event struct {
	at   time.Duration
	kind string
	arg  int // the listener of a SIGSTOP
}

// schedule spreads the plan's faults over its window: kills evenly with
// jitter, the rest at random; SIGSTOPs round-robin over the listeners,
// the long idle ones first.
func (p plan) schedule(r *rand.Rand) []event {
	var evs []event
	at := func(lo, hi float64) time.Duration {
		return time.Duration((lo + (hi-lo)*r.Float64()) * float64(p.window))
	}
	for i := range p.kills {
		mid := float64(i+1) / float64(p.kills+1)
		j := 0.25 / float64(p.kills+1)
		evs = append(evs, event{at: at(mid-j, mid+j), kind: faultKill})
	}
	add := func(n int, kind string) {
		for range n {
			evs = append(evs, event{at: at(0.03, 0.9), kind: kind})
		}
	}
	add(p.drops, faultDrop)
	add(p.stalls, faultStall)
	add(p.hiccups, faultHiccup)
	add(p.deadNetwork, faultDeadNet)
	if p.listeners > 0 {
		for i := range p.sigstops {
			kind := faultStop
			if i < p.idleStops {
				kind = faultIdle
			}
			frac := 0.05 + 0.6*float64(i)/float64(max(1, p.sigstops))
			evs = append(evs, event{at: at(frac, frac+0.05), kind: kind, arg: i % p.listeners})
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int { return int(a.at - b.at) })
	return evs
}

// faultCounts is what the injector did.
type faultCounts struct {
	Kills        int           `json:"kills"`
	Drops        int           `json:"drop_events"`
	DroppedConns int           `json:"dropped_connections"`
	Stalls       int           `json:"stall_events"`
	StalledConns int           `json:"stalled_connections"`
	Hiccups      int           `json:"hiccup_events"`
	HiccupConns  int           `json:"hiccup_connections"`
	DeadNetwork  int           `json:"dead_network_events"`
	Stops        []stopRecord  `json:"sigstops"`
	Downtime     time.Duration `json:"downtime_ns"` // xpushd down, over all kills
	Timeline     []string      `json:"timeline"`
	mu           sync.Mutex    // for Stops and Timeline, written by several goroutines
}

// stopRecord is one SIGSTOP of a listener.
type stopRecord struct {
	User     string        `json:"user"`
	Kind     string        `json:"kind"`
	Bulk     int           `json:"bulk_notifications"`
	Stopped  time.Duration `json:"stopped_ns"`
	Cont     time.Time     `json:"continued"`
	Online   bool          `json:"online_when_stopped"` // by its last report
	Noticed  string        `json:"noticed"`             // its first report after SIGCONT
	Reonline time.Duration `json:"online_again_after_ns"`
}

func (f *faultCounts) log(start time.Time, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Timeline = append(f.Timeline, fmt.Sprintf("%6.1fs ", time.Since(start).Seconds())+fmt.Sprintf(format, args...))
}

// inject runs the schedule from start, then waits for the faults still
// running (stalls, SIGSTOPs) to end and leaves the network flowing and
// the server up.
func (h *harness) inject(ctx context.Context, evs []event, r *rand.Rand) error {
	f := &h.faults
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	defer h.proxy.Resume()
	for _, ev := range evs {
		select {
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		case <-time.After(time.Until(h.phaseStart.Add(ev.at))):
		}
		if err := h.srv.check(); err != nil {
			wg.Wait()
			return err
		}
		switch ev.kind {
		case faultKill:
			t0 := time.Now()
			f.log(h.phaseStart, "SIGKILL xpushd")
			if err := h.srv.kill9(); err != nil {
				fail(err)
				break
			}
			// Down for a moment: clients and senders find nothing there.
			time.Sleep(time.Duration(r.IntN(500)) * time.Millisecond)
			if err := h.srv.start(ctx); err != nil {
				fail(err)
				break
			}
			f.Kills++
			f.Downtime += time.Since(t0)
			f.log(h.phaseStart, "xpushd up again, %v after the SIGKILL", time.Since(t0).Round(time.Millisecond))
		case faultDrop:
			share := h.p.dropShare * (0.1 + 0.9*r.Float64())
			n := h.proxy.Drop(h.proxy.Pick(r, share)...)
			f.Drops++
			f.DroppedConns += n
			f.log(h.phaseStart, "dropped %d connections (%.0f%%)", n, 100*share)
		case faultStall, faultHiccup:
			ids := h.proxy.Pick(r, h.p.stallShare*(0.5+0.5*r.Float64()))
			n := h.proxy.StallConns(ids...)
			d := h.p.stallFor()
			if ev.kind == faultStall {
				f.Stalls++
				f.StalledConns += n
			} else {
				d = h.p.hiccupFor()
				f.Hiccups++
				f.HiccupConns += n
			}
			f.log(h.phaseStart, "%s: stalled %d connections for %v", ev.kind, n, d)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
				// The link carries again: what the clients wrote
				// meanwhile, their close included, reaches the server.
				h.proxy.ResumeConns(ids...)
			}()
		case faultDeadNet:
			h.proxy.Stall()
			f.DeadNetwork++
			f.log(h.phaseStart, "dead network: every connection stalled for %v", h.p.stallFor())
			select {
			case <-time.After(h.p.stallFor()):
			case <-ctx.Done():
			}
			h.proxy.Resume()
		case faultStop, faultIdle:
			l := h.listeners[ev.arg]
			if l.isStopped() {
				f.log(h.phaseStart, "%s of %s skipped: stopped already", ev.kind, l.user)
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.sigstop(ctx, l, ev.kind); err != nil {
					fail(err)
				}
			}()
		}
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return h.srv.check()
}

// sigstop stops listener l, sends it what makes the server give its
// connection up (bulk past the socket buffers for the write timeout, or
// nothing past the idle timeout), and continues it.
func (h *harness) sigstop(ctx context.Context, l *listener, kind string) error {
	rec := stopRecord{User: l.user, Kind: kind, Online: l.online()}
	if err := l.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	t0 := time.Now()
	h.faults.log(h.phaseStart, "SIGSTOP %s (%s)", l.user, kind)
	wait := idleStopFor
	if kind == faultStop {
		wait = stopFor
		h.mu.Lock()
		h.bulkRuns++
		sender := fmt.Sprintf("b%d", h.bulkRuns)
		h.mu.Unlock()
		// A large message, different per notification.
		body := strings.Repeat("chaos bulk to fill the socket buffers. ", h.p.bulkSize/40)
		for seq := 1; seq <= h.p.bulk; seq++ {
			n := &note{id: fmt.Sprintf("%s-%d", sender, seq), sender: sender, seq: seq, kind: kindBulk, to: []string{l.user}}
			req := api.Request{
				ID: n.id, To: n.to, Title: fmt.Sprintf("chaos %s #%d", sender, seq),
				Message: fmt.Sprintf("%d %s", seq, body), TTL: noteTTL,
			}
			if err := h.post(ctx, req, n); err != nil {
				return err
			}
			rec.Bulk++
		}
		h.faults.log(h.phaseStart, "%d bulk notifications (%d KiB) accepted for stopped %s", rec.Bulk, rec.Bulk*h.p.bulkSize>>10, l.user)
	}
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	// Before the signal: the process may report at once.
	rec.Cont = time.Now()
	if err := l.signal(syscall.SIGCONT); err != nil {
		return err
	}
	rec.Stopped = rec.Cont.Sub(t0)
	h.faults.log(h.phaseStart, "SIGCONT %s after %v", l.user, rec.Stopped.Round(time.Millisecond))
	h.faults.mu.Lock()
	h.faults.Stops = append(h.faults.Stops, rec)
	h.faults.mu.Unlock()
	return nil
}

// online reports whether the listener's last state report was online.
func (l *listener) online() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.states) > 0 && strings.Contains(l.states[len(l.states)-1].line, "online as ")
}

func (l *listener) isStopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}
