package delivery

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp/notification"
)

// Defaults.
const (
	// DefaultWorkers is one: a single worker keeps every user's
	// notifications in the order they were accepted, across directed
	// sends, broadcasts and login flushes.
	DefaultWorkers     = 1
	DefaultQueue       = 1 << 16
	DefaultExpireEvery = 30 * time.Second
	// flushBatch bounds how many queued notifications one flush sends.
	flushBatch = 500
	// recordBatch bounds how many state changes one group commit holds.
	recordBatch = 1024
	// holdSent is how long the recorder keeps a sent state before
	// writing it, waiting for the ack: a delivery acked within it is
	// written once, as acked, instead of twice. maxHeld bounds how many
	// it keeps.
	holdSent = time.Second
	maxHeld  = 1 << 16
	// Under load (the last commit held at least busyBatch changes) the
	// recorder gathers changes for gather before committing: a few large
	// commits cost far less than many small ones, each of which rewrites
	// the index pages it touches. A lone change is committed at once.
	busyBatch = 16
	gather    = 20 * time.Millisecond
	// While a broadcast is being pushed, the recorder commits only when
	// it holds deferBatch changes: the CPU goes to delivering first, and
	// the acks that came in meanwhile are written in one go after it.
	deferBatch = 1 << 14
	// A broadcast is pushed on up to maxFanOut goroutines, one per
	// fanOutChunk sessions.
	maxFanOut   = 8
	fanOutChunk = 512
)

// Sessions is what the hub needs from the c2s listener.
type Sessions interface {
	SessionsOf(user string) []*c2s.Session
	Each(f func(*c2s.Session))
}

// Metrics counts deliveries; may be nil.
type Metrics interface {
	Delivered(n int)
	Acked(n int)
	Expired(n int)
}

// Options configure a Hub.
type Options struct {
	Store       store.Queue
	Workers     int
	Queue       int
	ExpireEvery time.Duration
	Metrics     Metrics
	Logger      *slog.Logger
	Now         func() time.Time
}

// Hub delivers notifications. Set Sessions before Run.
type Hub struct {
	opts     Options
	sessions Sessions
	work     chan func(context.Context)
	// records carries state changes to the recorder, in order.
	records chan record
	// fanning counts broadcasts being pushed; fanDone wakes the
	// recorder when one ends.
	fanning atomic.Int32
	fanDone chan struct{}

	mu sync.Mutex
	// ready holds the sessions whose login flush has run: live pushes
	// skip the others, whose flush will find those notifications in the
	// store, oldest first, so a client that logs in gets what was queued
	// while it was away before what came after.
	ready map[*c2s.Session]bool
	// more counts, for a session whose flush left notifications in the
	// store (it sends at most flushBatch), the flushed ones not yet
	// answered; at half of them the next batch is flushed.
	more map[*c2s.Session]int
}

// record is a state change for the recorder: a sent or acked change, or,
// with unsent set, "put this user's sent notifications back", closing
// done (if set) once that is in the store.
type record struct {
	change store.Change
	unsent string
	done   chan struct{}
}

// New returns a Hub. It does no I/O.
func New(opts Options) *Hub {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.ExpireEvery <= 0 {
		opts.ExpireEvery = DefaultExpireEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Hub{
		opts:    opts,
		work:    make(chan func(context.Context), opts.Queue),
		records: make(chan record, opts.Queue),
		fanDone: make(chan struct{}, 1),
		ready:   make(map[*c2s.Session]bool),
		more:    make(map[*c2s.Session]int),
	}
}

// SetSessions connects the hub to the listener (they refer to each other).
func (h *Hub) SetSessions(s Sessions) { h.sessions = s }

var _ c2s.Hub = (*Hub)(nil)

// Run runs the workers until ctx ends, then finishes queued acks.
func (h *Hub) Run(ctx context.Context) error {
	if h.sessions == nil {
		return errors.New("delivery: SetSessions before Run")
	}
	var wg sync.WaitGroup
	for range h.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case f := <-h.work:
					f(ctx)
				}
			}
		}()
	}
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		h.recorder(ctx)
	}()
	t := time.NewTicker(h.opts.ExpireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			<-recDone
			return nil
		case <-t.C:
			h.expire(ctx)
		}
	}
}

// enqueue hands f to a worker, waiting while the queue is full.
func (h *Hub) enqueue(ctx context.Context, f func(context.Context)) {
	select {
	case h.work <- f:
	case <-ctx.Done():
	}
}

// Notify delivers a notification that is already in the store to its
// online recipients. It returns once the work is queued.
func (h *Hub) Notify(ctx context.Context, n *store.Notification) {
	h.enqueue(ctx, func(ctx context.Context) {
		wire := wireOf(n)
		if n.Broadcast {
			h.fanOut(ctx, n.ID, wire)
			return
		}
		for _, u := range n.To {
			h.pushUser(ctx, u, n.ID, wire)
		}
	})
}

// fanOut pushes n to every session, on several goroutines when there are
// many (each session once, so per-user order is kept), and records each
// push as sent.
//
// A push is recorded after its write, so a quick client's ack can reach
// the recorder first; the sent state that follows then changes nothing
// in the store (an acked delivery is final).
func (h *Hub) fanOut(ctx context.Context, id string, n *notification.Notification) {
	h.fanning.Add(1)
	defer func() {
		h.fanning.Add(-1)
		select {
		case h.fanDone <- struct{}{}:
		default:
		}
	}()
	var all []*c2s.Session
	h.sessions.Each(func(s *c2s.Session) { all = append(all, s) })
	all = h.readyOnly(all)
	parts := min(runtime.GOMAXPROCS(0), maxFanOut, len(all)/fanOutChunk+1)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(all)/parts, (i+1)*len(all)/parts
		wg.Go(func() {
			for _, s := range all[lo:hi] {
				if h.push(s, n) {
					h.markSent(ctx, id, s.User())
				}
			}
		})
	}
	wg.Wait()
}

// pushUser pushes to every online session of user and records it sent.
func (h *Hub) pushUser(ctx context.Context, user, id string, wire *notification.Notification) {
	sent := false
	for _, s := range h.readyOnly(h.sessions.SessionsOf(user)) {
		if h.push(s, wire) {
			sent = true
		}
	}
	if sent {
		h.markSent(ctx, id, user)
	}
}

func (h *Hub) push(s *c2s.Session, n *notification.Notification) bool {
	if err := s.Push(n); err != nil {
		if !errors.Is(err, c2s.ErrGone) {
			h.opts.Logger.Debug("delivery: push failed", "jid", s.JID(), "id", n.ID, "err", err)
		}
		return false
	}
	if h.opts.Metrics != nil {
		h.opts.Metrics.Delivered(1)
	}
	return true
}

// markSent queues the sent state for the recorder.
func (h *Hub) markSent(ctx context.Context, id, user string) {
	h.record(ctx, record{change: store.Change{ID: id, User: user, State: store.StateSent, At: h.opts.Now()}})
}

// record hands r to the recorder, waiting while its queue is full.
func (h *Hub) record(ctx context.Context, r record) {
	select {
	case h.records <- r:
	case <-ctx.Done():
	}
}

// readyOnly keeps the sessions whose login flush has run, in place.
func (h *Hub) readyOnly(ss []*c2s.Session) []*c2s.Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := ss[:0]
	for _, s := range ss {
		if h.ready[s] {
			out = append(out, s)
		}
	}
	return out
}

// Bound flushes the user's queue to the new (or resumed) session; until
// then, live pushes pass it by.
func (h *Hub) Bound(s *c2s.Session) {
	h.mu.Lock()
	delete(h.ready, s)
	h.mu.Unlock()
	h.enqueue(context.Background(), func(ctx context.Context) { h.flush(ctx, s) })
}

// flush sends s's user pending notifications, oldest first, at most
// flushBatch of them (the rest follow as these are answered), and marks
// s ready for live pushes.
func (h *Hub) flush(ctx context.Context, s *c2s.Session) {
	defer func() {
		h.mu.Lock()
		if s.Online() {
			h.ready[s] = true
		}
		h.mu.Unlock()
	}()
	pending, err := h.opts.Store.Pending(ctx, s.User(), h.opts.Now(), flushBatch)
	if err != nil {
		h.opts.Logger.Error("delivery: pending", "user", s.User(), "err", err)
		return
	}
	for i := range pending {
		wire := wireOf(&pending[i])
		if !h.push(s, wire) {
			return
		}
		h.markSent(ctx, pending[i].ID, s.User())
	}
	if len(pending) == flushBatch {
		h.mu.Lock()
		h.more[s] = len(pending)
		h.mu.Unlock()
	}
}

// answered counts an ack or refusal from s against its last flush, and
// flushes the next batch once half of it is answered.
func (h *Hub) answered(s *c2s.Session) {
	h.mu.Lock()
	n, ok := h.more[s]
	if ok {
		n--
		if n <= flushBatch/2 {
			delete(h.more, s)
		} else {
			h.more[s] = n
		}
	}
	h.mu.Unlock()
	if ok && n <= flushBatch/2 {
		h.enqueue(context.Background(), func(ctx context.Context) { h.flush(ctx, s) })
	}
}

// Unbound puts the user's unacknowledged notifications back in the queue
// when one of their sessions is gone for good, and flushes them to the
// user's other sessions, if any: a notification written to a session that
// went away must reach the client on the session that replaced it.
// Those already waiting on another session are not written to it twice
// (c2s.Session.Push skips them).
func (h *Hub) Unbound(s *c2s.Session) {
	h.mu.Lock()
	delete(h.ready, s)
	delete(h.more, s)
	h.mu.Unlock()
	user := s.User()
	h.enqueue(context.Background(), func(ctx context.Context) {
		// Through the recorder, so that it lands after the sent states
		// recorded before it; wait for it, so that the flushes below see
		// the notifications queued again.
		done := make(chan struct{})
		h.record(ctx, record{unsent: user, done: done})
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
		for _, o := range h.readyOnly(h.sessions.SessionsOf(user)) {
			if o.Online() {
				h.flush(ctx, o)
			}
		}
	})
}

// Acked records an acknowledgement (group-committed by the recorder).
func (h *Hub) Acked(s *c2s.Session, id string) {
	h.record(context.Background(), record{change: store.Change{ID: id, User: s.User(), State: store.StateAcked, At: h.opts.Now()}})
	h.answered(s)
}

// Nacked logs a client's refusal; the notification stays sent until the
// session ends.
func (h *Hub) Nacked(s *c2s.Session, id string, err error) {
	h.opts.Logger.Warn("delivery: client refused notification", "jid", s.JID(), "id", id, "err", err)
	h.answered(s)
}

// recorder writes state changes with group commit: it takes whatever has
// queued up (up to recordBatch) and writes it in one transaction, so one
// change alone costs one commit and a burst of thousands costs a few.
//
// A sent state waits in memory for up to holdSent (see held): most
// deliveries are acked within it, and are then written once, as acked.
// One still unacked after it is written as sent, so that the history
// shows it. When ctx ends it writes everything it holds and what is
// queued, and returns: no ack is lost.
func (h *Hub) recorder(ctx context.Context) {
	// Finish writes even while shutting down.
	wctx := context.WithoutCancel(ctx)
	batch := make([]store.Change, 0, recordBatch)
	acked := 0
	var held held
	busy := false
	flush := func() {
		busy = len(batch) >= busyBatch
		if len(batch) == 0 {
			return
		}
		if err := h.opts.Store.Record(wctx, batch); err != nil {
			h.opts.Logger.Error("delivery: record states", "changes", len(batch), "err", err)
		}
		if h.opts.Metrics != nil && acked > 0 {
			h.opts.Metrics.Acked(acked)
		}
		batch, acked = batch[:0], 0
	}
	// limit is the batch size that forces a commit.
	limit := func() int {
		if h.fanning.Load() > 0 {
			return deferBatch
		}
		return recordBatch
	}
	add := func(c store.Change) {
		batch = append(batch, c)
		if c.State == store.StateAcked {
			acked++
		}
		if len(batch) >= limit() {
			flush()
		}
	}
	apply := func(r record) {
		switch {
		case r.unsent != "":
			// Its held sent states first, so that Unsent finds them.
			held.takeUser(r.unsent, add)
			flush()
			if err := h.opts.Store.Unsent(wctx, r.unsent, h.opts.Now()); err != nil {
				h.opts.Logger.Error("delivery: unsent", "user", r.unsent, "err", err)
			}
			if r.done != nil {
				close(r.done)
			}
		case r.change.State == store.StateSent:
			held.put(r.change, add)
		default:
			if c, ok := held.take(r.change.ID, r.change.User); ok {
				add(c) // the attempt counts
			}
			add(r.change)
		}
	}
	tick := time.NewTicker(holdSent / 2)
	defer tick.Stop()
	for {
		select {
		case r := <-h.records:
			apply(r)
		case <-tick.C:
			held.takeOlder(h.opts.Now().Add(-holdSent), add)
		case <-h.fanDone:
		case <-ctx.Done():
			for {
				select {
				case r := <-h.records:
					apply(r)
				default:
					held.takeOlder(time.Time{}, add) // everything
					flush()
					return
				}
			}
		}
		if busy {
			t := time.NewTimer(gather)
		gathering:
			for {
				select {
				case r := <-h.records:
					apply(r)
				case <-t.C:
					break gathering
				case <-ctx.Done():
					t.Stop()
					break gathering // the loop's next turn writes everything
				}
			}
		}
		// Take what else is waiting, then commit it together.
	drain:
		for {
			select {
			case r := <-h.records:
				apply(r)
			default:
				break drain
			}
		}
		if h.fanning.Load() == 0 {
			flush()
		}
	}
}

// held are the sent states the recorder has not written yet, oldest
// first. It is owned by the recorder's goroutine.
type held struct {
	byKey map[heldKey]store.Change
	order []heldKey // arrival order; keys taken since are skipped
}

type heldKey struct{ id, user string }

// put holds c, handing the oldest held state to write when full. A
// delivery sent again while held keeps its first time; the new attempt
// is written at once.
func (hd *held) put(c store.Change, write func(store.Change)) {
	if hd.byKey == nil {
		hd.byKey = make(map[heldKey]store.Change)
	}
	k := heldKey{c.ID, c.User}
	if _, ok := hd.byKey[k]; ok {
		write(c)
		return
	}
	if len(hd.byKey) >= maxHeld {
		hd.takeFirst(write)
	}
	hd.byKey[k] = c
	if len(hd.order) >= 2*maxHeld {
		hd.compact()
	}
	hd.order = append(hd.order, k)
}

// compact drops the keys taken since from order, keeping it in order.
func (hd *held) compact() {
	live := hd.order[:0]
	for _, k := range hd.order {
		if _, ok := hd.byKey[k]; ok {
			live = append(live, k)
		}
	}
	clear(hd.order[len(live):])
	hd.order = live
}

// take removes and returns the held state of a delivery.
func (hd *held) take(id, user string) (store.Change, bool) {
	k := heldKey{id, user}
	c, ok := hd.byKey[k]
	if ok {
		delete(hd.byKey, k)
	}
	return c, ok
}

// takeFirst hands the oldest held state to write.
func (hd *held) takeFirst(write func(store.Change)) {
	for len(hd.order) > 0 {
		k := hd.order[0]
		hd.order = hd.order[1:]
		if c, ok := hd.byKey[k]; ok {
			delete(hd.byKey, k)
			write(c)
			return
		}
	}
}

// takeOlder hands every state held since before cutoff to write, in
// order; a zero cutoff takes them all.
func (hd *held) takeOlder(cutoff time.Time, write func(store.Change)) {
	for len(hd.order) > 0 {
		k := hd.order[0]
		c, ok := hd.byKey[k]
		if ok && !cutoff.IsZero() && !c.At.Before(cutoff) {
			break
		}
		hd.order = hd.order[1:]
		if ok {
			delete(hd.byKey, k)
			write(c)
		}
	}
	if len(hd.order) == 0 {
		hd.order = nil // let the array go
	}
}

// takeUser hands every state held for user to write.
func (hd *held) takeUser(user string, write func(store.Change)) {
	for k, c := range hd.byKey {
		if k.user == user {
			delete(hd.byKey, k)
			write(c)
		}
	}
}

func (h *Hub) expire(ctx context.Context) {
	n, err := h.opts.Store.Expire(ctx, h.opts.Now())
	if err != nil {
		h.opts.Logger.Error("delivery: expire", "err", err)
		return
	}
	if n > 0 && h.opts.Metrics != nil {
		h.opts.Metrics.Expired(n)
	}
}

// wireOf converts a stored notification to its wire form.
func wireOf(n *store.Notification) *notification.Notification {
	return &notification.Notification{ID: n.ID, Title: n.Title, Message: n.Message, URI: n.URI}
}
