package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/app/config"
	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/opener"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/app/toast"
	"github.com/xpush/xpush/xmpp"
)

// supervise runs one session at a time, replacing it when the account
// changes, until ctx ends.
func (a *Agent) supervise(ctx context.Context) {
	for {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.session(sctx)
		}()
		select {
		case <-ctx.Done():
		case <-a.restart:
		}
		cancel()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

// session runs the client of the configured account, or the demo and its
// account, or waits for an account, until ctx ends.
func (a *Agent) session(ctx context.Context) {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	var xc xmpp.Config
	var d *demo.Demo
	switch {
	case cfg.HasAccount():
		xc = a.clientConfig(cfg)
	case a.opts.Demo != nil:
		var err error
		if d, err = a.opts.Demo(ctx); err != nil {
			if ctx.Err() == nil {
				a.log.Error("agent: demo", "err", err)
				a.setState(control.StateNoAccount, "", "The local demo server could not start: "+strings.TrimPrefix(err.Error(), "demo: ")+".", false)
			}
			<-ctx.Done()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil {
				a.log.Error("agent: demo server", "err", err)
			}
		}()
		xc = xmpp.Config{JID: d.JID, Server: d.C2S, Register: true, Password: d.Password}
		a.mu.Lock()
		a.demo = &control.Demo{Console: d.Console, AdminPassword: d.AdminPassword}
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			a.demo = nil
			a.mu.Unlock()
		}()
	default:
		a.setState(control.StateNoAccount, "", "", false)
		<-ctx.Done()
		return
	}
	xc.Logger = a.log
	if a.opts.Tune != nil {
		a.opts.Tune(&xc)
	}
	// The connection's reads and writes run the sleep detector.
	xc.Dial = a.sleep.dial(xc.Dial)
	client, err := xmpp.New(xc)
	if err != nil {
		a.log.Error("agent: account", "err", err)
		a.setState(control.StateOffline, "", "The account is not valid: "+strings.TrimPrefix(err.Error(), "xmpp: ")+".", true)
		<-ctx.Done()
		return
	}
	a.mu.Lock()
	a.client = client
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.client = nil
		a.mu.Unlock()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = client.Run(ctx)
	}()
	for ev := range client.Events() {
		switch ev := ev.(type) {
		case *xmpp.StateChange:
			a.onState(ev)
		case *xmpp.Notified:
			a.onNotified(ctx, ev)
		case *xmpp.Registered:
			a.onRegistered(ctx, &wg, ev, d)
		}
	}
}

// clientConfig returns the XMPP configuration of cfg's account, whose
// password is read from the keyring on each login.
func (a *Agent) clientConfig(cfg config.Config) xmpp.Config {
	user := keyringUser(cfg.Account.JID)
	return xmpp.Config{
		JID:           cfg.Account.JID,
		Server:        cfg.Account.Server,
		InsecurePlain: cfg.Account.InsecurePlain,
		PushService:   cfg.Account.PushService,
		Register:      cfg.Register,
		Password: func(context.Context) (string, error) {
			return a.opts.Secrets.Get(user)
		},
	}
}

// keyringUser returns the keyring user of an account: its bare JID.
func keyringUser(j string) string {
	if p, err := jid.Parse(j); err == nil {
		return p.Bare().String()
	}
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

// setState records the session's state and publishes it.
func (a *Agent) setState(s control.State, full, reason string, permanent bool) {
	a.mu.Lock()
	a.state, a.jid, a.reason, a.permanent = s, full, reason, permanent
	a.mu.Unlock()
	a.stateChanged()
}

// onState turns the client's state into the status. Connecting keeps the
// last reason, so the tray can say why it is reconnecting.
func (a *Agent) onState(ev *xmpp.StateChange) {
	switch ev.State {
	case xmpp.StateOnline:
		a.log.Info("agent: online", "jid", ev.JID, "resumed", ev.Resumed)
		a.setState(control.StateOnline, ev.JID, "", false)
	case xmpp.StateConnecting:
		a.mu.Lock()
		reason := a.reason
		a.mu.Unlock()
		a.setState(control.StateConnecting, "", reason, false)
	default:
		permanent := ev.Err != nil && !ev.Retry
		if ev.Err != nil {
			a.log.Warn("agent: offline", "err", ev.Err, "permanent", permanent)
		}
		a.setState(control.StateOffline, "", explain(ev.Err), permanent)
	}
}

// explain is xmpp.Explain, knowing the keyring's errors too.
func explain(err error) string {
	switch {
	case errors.Is(err, secret.ErrUnavailable):
		return "The system keyring is not available, so the password cannot be read."
	case errors.Is(err, secret.ErrNotFound):
		return "No password is stored for this account: enter it in the account settings."
	}
	return xmpp.Explain(err)
}

// onRegistered clears the configuration's Register flag once the server
// created the account, or welcomes the demo's new account.
func (a *Agent) onRegistered(ctx context.Context, wg *sync.WaitGroup, ev *xmpp.Registered, d *demo.Demo) {
	a.log.Info("agent: account registered", "jid", ev.JID)
	if d != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Welcome(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("agent: demo welcome", "err", err)
			}
		}()
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.cfg.Register || keyringUser(a.cfg.Account.JID) != keyringUser(ev.JID) {
		return
	}
	cfg := a.cfg
	cfg.Register = false
	if err := a.saveLocked(cfg); err != nil {
		a.log.Error("agent: save the configuration after registering", "err", err)
	}
}

// onNotified stores the notification, then shows it if it is new and
// neither do-not-disturb nor a muted domain silences it.
func (a *Agent) onNotified(ctx context.Context, ev *xmpp.Notified) {
	start := time.Now()
	e := history.FromNotification(ev.Notification)
	// The client acknowledges the notification once it handed it over:
	// the write must finish even if the agent is shutting down.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	added, err := a.opts.History.Add(sctx, e)
	cancel()
	d := Delivery{Key: e.Key, Added: added, Stored: time.Since(start), Err: err}
	if err != nil {
		// Not known to be a duplicate: show it rather than lose it.
		a.log.Error("agent: store the notification", "key", e.Key, "err", err)
	}
	if added {
		a.refreshUnread(ctx)
	}
	if (added || err != nil) && a.opts.Toasts != nil && !a.silenced(e.From) {
		t := toast.Toast{Key: e.Key, Title: e.Title, Body: e.Message}
		if t.Title == "" {
			t.Title, t.Body = t.Body, ""
		}
		if e.URI != "" && !e.URIUnsafe && opener.Check(e.URI) == nil {
			t.HasLink, t.URI = true, e.URI
		}
		d.Toasted, d.Shown = true, time.Since(start)
		a.log.Debug("agent: toast", "key", e.Key, "latency", d.Shown, "stored", d.Stored)
		tctx, cancel := context.WithTimeout(ctx, showTimeout)
		if serr := a.opts.Toasts.Show(tctx, t); serr != nil {
			a.log.Warn("agent: show the toast", "key", e.Key, "err", serr)
			d.Err = errors.Join(d.Err, serr)
		}
		cancel()
	}
	if a.opts.OnDelivery != nil {
		a.opts.OnDelivery(d)
	}
}

// silenced reports whether do-not-disturb is on or from's domain muted.
func (a *Agent) silenced(from string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dndActiveLocked() {
		return true
	}
	if len(a.cfg.Settings.Muted) == 0 {
		return false
	}
	domain, bare := from, keyringUser(from)
	if p, err := jid.Parse(from); err == nil {
		domain = p.Domainpart()
	} else if i := strings.LastIndexByte(bare, '@'); i >= 0 {
		domain = bare[i+1:]
	}
	for _, m := range a.cfg.Settings.Muted {
		if strings.EqualFold(m, domain) || strings.EqualFold(m, bare) {
			return true
		}
	}
	return false
}

// errNoLink is Open's error for an entry without a link.
var errNoLink = errors.New("agent: this notification has no link")

// openEntry opens the link of the history entry key and marks it read.
func (a *Agent) openEntry(ctx context.Context, key string) error {
	e, err := a.opts.History.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if e.URI == "" {
		return errNoLink
	}
	if err := a.opts.History.SetRead(ctx, key, true); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.refreshUnread(ctx)
	return a.opts.Open(ctx, e.URI)
}
