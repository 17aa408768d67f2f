package xmpp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/xmpp/stanza"
)

// Client is an XMPP client session that reconnects. Create it with New and
// start it with Run; its methods are safe for concurrent use.
type Client struct {
	cfg    Config
	jid    jid.JID // bare
	domain string

	events chan Event
	kick   chan struct{}
	sendCh chan sendReq
	// stopped is closed when Run returns, so that a Send waiting for the
	// serve loop does not wait forever.
	stopped chan struct{}

	mu    sync.Mutex
	state State
	bound string // full JID while online
	// sm survives reconnects so that the next session can resume.
	sm smState
	// seen remembers notification keys to drop redeliveries.
	seen *dedupe
	// registered is set once this client registered its account, so that
	// a later not-authorized is not answered by registering again.
	registered bool
	running    bool

	// backoffRand, when set, replaces the backoff's random source (tests).
	backoffRand func(n int64) int64
}

type sendReq struct {
	el   *stanza.Element
	done chan error
}

// New returns a Client for cfg. It validates the configuration and does no
// I/O.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	j, err := jid.Parse(cfg.JID)
	if err != nil {
		return nil, fmt.Errorf("xmpp: bad JID %q: %w", cfg.JID, err)
	}
	if j.Localpart() == "" {
		return nil, fmt.Errorf("xmpp: JID %q has no user name", cfg.JID)
	}
	if cfg.Resource == "" {
		cfg.Resource = j.Resourcepart()
	}
	if cfg.Resource == "" {
		cfg.Resource = DefaultResource
	}
	if cfg.Password == nil {
		return nil, errors.New("xmpp: Config.Password is required")
	}
	return &Client{
		cfg:     cfg,
		jid:     j.Bare(),
		domain:  j.Domainpart(),
		events:  make(chan Event, cfg.EventBuffer),
		kick:    make(chan struct{}, 1),
		sendCh:  make(chan sendReq),
		stopped: make(chan struct{}),
		seen:    newDedupe(cfg.Dedupe),
	}, nil
}

// Events returns the channel of events. Run closes it when it returns.
// The caller must keep reading it: a full channel holds the session up.
func (c *Client) Events() <-chan Event { return c.events }

// JID returns the account's bare JID.
func (c *Client) JID() string { return c.jid.String() }

// State returns the current state and, when online, the bound full JID.
func (c *Client) State() (State, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.bound
}

// Reconnect tells the client that the network changed, the machine woke up
// or the credentials were fixed: an offline client retries at once, even
// after a permanent error, and an online one checks its link with a ping.
func (c *Client) Reconnect() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Send writes a stanza on the current session. It fails with
// ErrNotConnected when there is none.
func (c *Client) Send(ctx context.Context, el *stanza.Element) error {
	req := sendReq{el: el, done: make(chan error, 1)}
	if st, _ := c.State(); st != StateOnline {
		return ErrNotConnected
	}
	select {
	case c.sendCh <- req:
	case <-c.stopped:
		return ErrNotConnected
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run connects and keeps the client connected until ctx ends, then closes
// the stream and returns ctx's error. It closes the events channel on
// return and may be called only once.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("xmpp: Run called twice")
	}
	c.running = true
	c.mu.Unlock()
	defer close(c.events)
	defer close(c.stopped)

	b := backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax, rand: c.backoffRand}
	for {
		c.setState(ctx, &StateChange{State: StateConnecting})
		start := c.cfg.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			c.setState(context.Background(), &StateChange{State: StateOffline})
			return ctx.Err()
		}
		if c.cfg.Now().Sub(start) >= c.cfg.StableAfter {
			b.reset()
		}
		permanent := IsPermanent(err)
		c.cfg.Logger.Warn("xmpp: session ended", "err", err, "permanent", permanent)
		c.setState(ctx, &StateChange{State: StateOffline, Err: err, Retry: !permanent})
		if err := c.wait(ctx, &b, permanent); err != nil {
			return err
		}
	}
}

// wait sleeps for the next backoff delay, or until Reconnect when the last
// error was permanent. Reconnect cuts either wait short.
func (c *Client) wait(ctx context.Context, b *backoff, permanent bool) error {
	var timeout <-chan time.Time
	if !permanent {
		t := time.NewTimer(b.next())
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.kick:
		b.reset()
	case <-timeout:
	}
	return nil
}

// setState records the state and reports it. The report may block while
// the events channel is full, until ctx ends.
func (c *Client) setState(ctx context.Context, ev *StateChange) {
	c.mu.Lock()
	changed := c.state != ev.State || ev.Err != nil || ev.State == StateOnline
	c.state = ev.State
	c.bound = ev.JID
	c.mu.Unlock()
	if changed {
		c.emit(ctx, ev)
	}
}

// emit puts ev on the events channel, waiting while it is full.
func (c *Client) emit(ctx context.Context, ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
