package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/xpush/xpush/app/config"
	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/opener"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/app/toast"
	"github.com/xpush/xpush/xmpp"
)

// Timing defaults, with their reasons.
const (
	// DefaultWakeInterval is how often the agent looks for a sleep of
	// the machine while it is connecting or offline. While it is online
	// it has no timer of its own for that: the connection's reads and
	// writes, among them the keepalive, take the readings. It is the
	// keepalive's interval, so the agent never wakes up more often than
	// the keepalive does.
	DefaultWakeInterval = xmpp.DefaultKeepalive
	// SleepThreshold is how far the wall clock must run ahead of the
	// monotonic clock between two readings for the agent to conclude
	// that the machine slept (the monotonic clock stops during suspend).
	SleepThreshold = 10 * time.Second
	// storeTimeout bounds one history write; it is not cut short by
	// shutdown.
	storeTimeout = 30 * time.Second
	// showTimeout bounds posting one toast.
	showTimeout = 10 * time.Second
)

// Options configure an Agent. ConfigPath, History and Secrets are
// required.
type Options struct {
	// ConfigPath is the configuration file (config.DefaultPath).
	ConfigPath string
	// History is the notification history, opened by the caller, who
	// closes it after Run returned.
	History *history.Store
	// Toasts shows notifications and reports clicks; nil shows none. The
	// caller closes it after Run returned.
	Toasts toast.Notifier
	// Secrets holds the account's password (secret.Keyring).
	Secrets secret.Store
	// Open opens a safe link in the browser; opener.Open when nil.
	Open func(ctx context.Context, uri string) error
	// ShowWindow starts the window process showing window
	// (control.WindowHistory, ...); set by main. Nil logs the request.
	ShowWindow func(window string)
	// OnStatus is called with every new status, from one goroutine, in
	// order (the tray refreshes). It must not block for long.
	OnStatus func(control.Status)
	// Demo, when set, starts the local demo server (demo.Start), which
	// the agent runs and uses while no account is configured.
	Demo func(ctx context.Context) (*demo.Demo, error)
	// ApplySettings, when set, is called by SaveSettings before the
	// settings are saved, to put them into effect (start at login); an
	// error leaves them unsaved.
	ApplySettings func(control.Settings) error
	// Logger gets the agent's diagnostics; nil discards them.
	Logger *slog.Logger
	// Now is the clock for do-not-disturb; time.Now when nil.
	Now func() time.Time

	// OnDelivery, when set, is called after each notification was
	// handled, with what happened to it and how long it took: for tests
	// and benchmarks.
	OnDelivery func(Delivery)
	// Tune, when set, adjusts the configuration of each XMPP client
	// before it is built (tests: short backoff).
	Tune func(*xmpp.Config)
	// WakeInterval replaces DefaultWakeInterval (tests).
	WakeInterval time.Duration
}

// Delivery reports what the agent did with one notification.
type Delivery struct {
	// Key is the history key.
	Key string
	// Added is set when the notification was new to the history.
	Added bool
	// Toasted is set when Show was called for it.
	Toasted bool
	// Stored is the time from taking the event off the client's channel
	// to history.Add returning; Shown, to the Show call (zero when not
	// toasted). Both use the monotonic clock.
	Stored, Shown time.Duration
	// Err is the history's or the toast's error, if any.
	Err error
}

// Agent is the running tray agent. Its control.Agent methods are safe
// for concurrent use; they wait until Run has loaded the configuration.
type Agent struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	ready   chan struct{} // closed once Run loaded the configuration
	restart chan struct{} // the account changed: replace the session
	dirty   chan struct{} // the status changed: publish it
	dndSet  chan struct{} // DNDUntil changed: re-arm its timer
	// stateSet: the connection state changed (housekeep's ticker).
	stateSet chan struct{}
	sleep    *sleepWatch // the sleep detector, fed by the connection
	wake     func()      // the sleep detector's and system bus's action

	mu         sync.Mutex
	running    bool
	cfg        config.Config
	cfgErr     error  // Load's error, until a save replaces the file
	cfgProblem string // cfgErr for the user
	state      control.State
	jid        string // bound full JID while online
	reason     string // why offline, from the session
	permanent  bool   // reason is a permanent error: no retry on wake-up
	unread     int
	demo       *control.Demo
	client     *xmpp.Client // current session's client, nil between sessions
}

var _ control.Agent = (*Agent)(nil)

// New returns an agent for opts. It checks the options and does no I/O.
func New(opts Options) (*Agent, error) {
	switch {
	case opts.ConfigPath == "":
		return nil, errors.New("agent: Options.ConfigPath is required")
	case opts.History == nil:
		return nil, errors.New("agent: Options.History is required")
	case opts.Secrets == nil:
		return nil, errors.New("agent: Options.Secrets is required")
	}
	if opts.Open == nil {
		opts.Open = opener.Open
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WakeInterval <= 0 {
		opts.WakeInterval = DefaultWakeInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		opts:    opts,
		log:     log,
		now:     opts.Now,
		ready:   make(chan struct{}),
		restart: make(chan struct{}, 1),
		dirty:   make(chan struct{}, 1),
		dndSet:  make(chan struct{}, 1),
		state:   control.StateConnecting,

		stateSet: make(chan struct{}, 1),
		sleep:    newSleepWatch(systemClock()),
	}
	a.wake = a.reconnect
	return a, nil
}

// Run loads the configuration and runs the agent until ctx ends (see the
// package documentation), then returns nil once everything it started has
// stopped. A broken configuration file is not an error here: it is shown
// in the status. Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return errors.New("agent: Run called twice")
	}
	a.running = true
	cfg, err := config.Load(a.opts.ConfigPath)
	a.cfg, a.cfgErr = cfg, err
	if err != nil {
		a.cfgProblem = config.Explain(err)
		a.log.Error("agent: configuration file", "err", err)
	}
	a.mu.Unlock()
	a.refreshUnread(ctx)
	close(a.ready)
	a.changed()

	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	start(a.publish)
	start(a.supervise)
	start(a.clicks)
	start(func(ctx context.Context) { a.housekeep(ctx, a.sleep, newTicker(a.opts.WakeInterval)) })
	start(func(ctx context.Context) { watchSystemBus(ctx, a.log, a.wake) })
	wg.Wait()
	return nil
}

// changed asks the publisher to report the status.
func (a *Agent) changed() {
	select {
	case a.dirty <- struct{}{}:
	default:
	}
}

// stateChanged tells housekeep that a.state changed, and publishes it.
func (a *Agent) stateChanged() {
	select {
	case a.stateSet <- struct{}{}:
	default:
	}
	a.changed()
}

// publish calls OnStatus with the latest status after each change.
func (a *Agent) publish(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.dirty:
		}
		if a.opts.OnStatus != nil {
			a.mu.Lock()
			s := a.statusLocked()
			a.mu.Unlock()
			a.opts.OnStatus(s)
		}
	}
}

// statusLocked returns the status; a.mu is held.
func (a *Agent) statusLocked() control.Status {
	s := control.Status{State: a.state, JID: a.jid, Reason: a.reason, Unread: a.unread}
	if s.Reason == "" {
		s.Reason = a.cfgProblem
	}
	if a.dndActiveLocked() {
		s.DNDUntil = a.cfg.DNDUntil
	}
	if a.demo != nil {
		d := *a.demo
		s.Demo = &d
	}
	return s
}

func (a *Agent) dndActiveLocked() bool {
	return !a.cfg.DNDUntil.IsZero() && a.now().Before(a.cfg.DNDUntil)
}

// refreshUnread reads the unread count and publishes it when it changed.
func (a *Agent) refreshUnread(ctx context.Context) {
	n, err := a.opts.History.Unread(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("agent: unread count", "err", err)
		}
		return
	}
	a.mu.Lock()
	changed := n != a.unread
	a.unread = n
	a.mu.Unlock()
	if changed {
		a.changed()
	}
}

// reconnect asks the current client to reconnect at once, unless the
// last error was permanent (it would only fail again).
func (a *Agent) reconnect() {
	a.mu.Lock()
	c, permanent := a.client, a.permanent
	a.mu.Unlock()
	if c != nil && !permanent {
		c.Reconnect()
	}
}

// saveLocked writes cfg to the configuration file and makes it current.
// A file Load could not read is kept beside it first. a.mu is held.
func (a *Agent) saveLocked(cfg config.Config) error {
	if a.cfgErr != nil {
		if kept, err := config.Keep(a.opts.ConfigPath); err == nil {
			a.log.Warn("agent: the broken configuration file was kept", "path", kept)
		}
	}
	if err := config.Save(a.opts.ConfigPath, cfg); err != nil {
		return err
	}
	a.cfg = cfg
	if a.cfgErr != nil {
		a.cfgErr, a.cfgProblem = nil, ""
		a.changed()
	}
	return nil
}
