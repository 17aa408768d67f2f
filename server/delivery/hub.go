package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
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
	// ackBatch and ackDelay batch acknowledgements into one write.
	ackBatch = 512
	ackDelay = 20 * time.Millisecond
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
	acks     chan ack
	started  chan struct{}
	once     sync.Once
}

type ack struct {
	user, id string
	at       time.Time
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
		acks:    make(chan ack, opts.Queue),
		started: make(chan struct{}),
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
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		h.ackLoop(ctx)
	}()
	h.once.Do(func() { close(h.started) })
	t := time.NewTicker(h.opts.ExpireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			<-ackDone
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
			sent := map[string]bool{}
			h.sessions.Each(func(s *c2s.Session) {
				if h.push(s, wire) {
					sent[s.User()] = true
				}
			})
			for u := range sent {
				h.markSent(ctx, n.ID, u)
			}
			return
		}
		for _, u := range n.To {
			h.pushUser(ctx, u, n.ID, wire)
		}
	})
}

// pushUser pushes to every online session of user and records it sent.
func (h *Hub) pushUser(ctx context.Context, user, id string, wire *notification.Notification) {
	sent := false
	for _, s := range h.sessions.SessionsOf(user) {
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

func (h *Hub) markSent(ctx context.Context, id, user string) {
	if err := h.opts.Store.MarkSent(ctx, id, user, h.opts.Now()); err != nil {
		h.opts.Logger.Error("delivery: mark sent", "id", id, "user", user, "err", err)
	}
}

// Bound flushes the user's queue to the new session.
func (h *Hub) Bound(s *c2s.Session) {
	h.enqueue(context.Background(), func(ctx context.Context) { h.flush(ctx, s) })
}

// flush sends s's user every pending notification, oldest first.
func (h *Hub) flush(ctx context.Context, s *c2s.Session) {
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
}

// Unbound puts the user's unacked notifications back in the queue when
// their last session is gone.
func (h *Hub) Unbound(s *c2s.Session) {
	user := s.User()
	h.enqueue(context.Background(), func(ctx context.Context) {
		for _, o := range h.sessions.SessionsOf(user) {
			if o.Online() {
				return // another session holds them
			}
		}
		if err := h.opts.Store.Unsent(ctx, user, h.opts.Now()); err != nil {
			h.opts.Logger.Error("delivery: unsent", "user", user, "err", err)
		}
	})
}

// Acked records an acknowledgement (batched).
func (h *Hub) Acked(s *c2s.Session, id string) {
	h.acks <- ack{user: s.User(), id: id, at: h.opts.Now()}
}

// Nacked logs a client's refusal; the notification stays sent until the
// session ends.
func (h *Hub) Nacked(s *c2s.Session, id string, err error) {
	h.opts.Logger.Warn("delivery: client refused notification", "jid", s.JID(), "id", id, "err", err)
}

// ackLoop writes acknowledgements in batches.
func (h *Hub) ackLoop(ctx context.Context) {
	batch := make([]ack, 0, ackBatch)
	flush := func() {
		// Finish writes even while shutting down: an ack is not lost.
		wctx := context.WithoutCancel(ctx)
		for _, a := range batch {
			if err := h.opts.Store.Ack(wctx, a.id, a.user, a.at); err != nil {
				h.opts.Logger.Error("delivery: ack", "id", a.id, "user", a.user, "err", err)
			}
		}
		if h.opts.Metrics != nil && len(batch) > 0 {
			h.opts.Metrics.Acked(len(batch))
		}
		batch = batch[:0]
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case a := <-h.acks:
			if len(batch) == 0 {
				timer.Reset(ackDelay)
			}
			batch = append(batch, a)
			if len(batch) >= ackBatch {
				flush()
			}
		case <-timer.C:
			flush()
		case <-ctx.Done():
			for {
				select {
				case a := <-h.acks:
					batch = append(batch, a)
				default:
					flush()
					return
				}
			}
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
