package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/xmpp"
)

// waitReady waits until Run has loaded the configuration.
func (a *Agent) waitReady(ctx context.Context) error {
	select {
	case <-a.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status returns the current status, with the unread count read afresh
// (the window process changes it in the shared history file; a Status
// call after such a change also refreshes the tray).
func (a *Agent) Status(ctx context.Context) (control.Status, error) {
	if err := a.waitReady(ctx); err != nil {
		return control.Status{}, err
	}
	a.refreshUnread(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.statusLocked(), nil
}

// SetDND turns do-not-disturb on until the given time, or off with the
// zero time or a time already past, and saves it.
func (a *Agent) SetDND(ctx context.Context, until time.Time) error {
	if err := a.waitReady(ctx); err != nil {
		return err
	}
	if !until.After(a.now()) {
		until = time.Time{}
	}
	a.mu.Lock()
	cfg := a.cfg
	cfg.DNDUntil = until.Round(0)
	err := a.saveLocked(cfg)
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("agent: do not disturb: %w", err)
	}
	select {
	case a.dndSet <- struct{}{}:
	default:
	}
	a.changed()
	return nil
}

// Account returns the configured account; the zero Account when there is
// none (also while the demo runs).
func (a *Agent) Account(ctx context.Context) (control.Account, error) {
	if err := a.waitReady(ctx); err != nil {
		return control.Account{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Account, nil
}

// Errors of SaveAccount a caller may branch on; their texts are for the
// user.
var (
	// ErrNoPassword means no password was given, create was not set, and
	// the keyring holds none for the account.
	ErrNoPassword = errors.New("agent: enter the account's password (none is stored in the keyring)")
	// ErrInvalidAccount is wrapped by SaveAccount's errors for an account
	// that cannot be used as given.
	ErrInvalidAccount = errors.New("agent: invalid account")
)

// SaveAccount checks a, stores its password in the keyring (a generated
// one when password is empty and create is set; the stored one is kept
// when password is empty otherwise), saves the account in the
// configuration file, and restarts the session with it. With create, the
// session registers the account in-band (XEP-0077) the first time it
// connects. When the keyring cannot store the password, SaveAccount fails
// with an error wrapping secret.ErrUnavailable and changes nothing.
func (a *Agent) SaveAccount(ctx context.Context, acct control.Account, password string, create bool) error {
	if err := a.waitReady(ctx); err != nil {
		return err
	}
	acct, err := normalizeAccount(acct)
	if err != nil {
		return err
	}
	user := keyringUser(acct.JID)
	switch {
	case password != "":
	case create:
		password = secret.Generate()
	default:
		_, err := a.opts.Secrets.Get(user)
		switch {
		case errors.Is(err, secret.ErrNotFound):
			return ErrNoPassword
		case err != nil:
			return fmt.Errorf("agent: read the password of %s: %w", user, err)
		}
	}
	// The password goes to the keyring before the account is registered
	// or saved: a created account never has a password that was lost.
	if password != "" {
		if err := a.opts.Secrets.Set(user, password); err != nil {
			return fmt.Errorf("agent: the password could not be stored, so the account was not saved: %w", err)
		}
	}
	a.mu.Lock()
	cfg := a.cfg
	cfg.Account, cfg.Register = acct, create
	err = a.saveLocked(cfg)
	if err == nil {
		// A new account: the last one's permanent error no longer holds.
		a.state, a.jid, a.reason, a.permanent = control.StateConnecting, "", "", false
	}
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("agent: save the account: %w", err)
	}
	a.log.Info("agent: account saved", "jid", acct.JID, "create", create)
	a.stateChanged()
	select {
	case a.restart <- struct{}{}:
	default:
	}
	return nil
}

// normalizeAccount checks a by XMPP's rules and returns it trimmed, with
// its JID in normal form (as the keyring user is derived from it).
func normalizeAccount(a control.Account) (control.Account, error) {
	a.JID = strings.TrimSpace(a.JID)
	a.Server = strings.TrimSpace(a.Server)
	a.PushService = strings.TrimSpace(a.PushService)
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidAccount, fmt.Sprintf(format, args...))
	}
	if a.JID == "" {
		return a, invalid("enter the account as user@domain")
	}
	// xmpp.New applies the client's own rules and does no I/O.
	if _, err := xmpp.New(xmpp.Config{JID: a.JID, Password: func(context.Context) (string, error) { return "", nil }}); err != nil {
		return a, invalid("%q is not an account name of the form user@domain (%s)", a.JID, strings.TrimPrefix(err.Error(), "xmpp: "))
	}
	j, err := jid.Parse(a.JID)
	if err != nil {
		return a, invalid("%q: %v", a.JID, err)
	}
	a.JID = j.String()
	if a.Server != "" {
		host, port, err := net.SplitHostPort(a.Server)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return a, invalid("the server must be host:port, such as push.example.org:5222, not %q", a.Server)
		}
	}
	if a.PushService != "" {
		p, err := jid.Parse(a.PushService)
		if err != nil || p.Localpart() != "" || p.Resourcepart() != "" {
			return a, invalid("the push service must be a domain, not %q", a.PushService)
		}
		a.PushService = p.String()
	}
	return a, nil
}

// Settings returns the user's settings.
func (a *Agent) Settings(ctx context.Context) (control.Settings, error) {
	if err := a.waitReady(ctx); err != nil {
		return control.Settings{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.cfg.Settings
	s.Muted = slices.Clone(s.Muted)
	return s, nil
}

// SaveSettings checks s, applies it (Options.ApplySettings) and saves it.
// The muted domains take effect at once; the history's retention when the
// agent next starts.
func (a *Agent) SaveSettings(ctx context.Context, s control.Settings) error {
	if err := a.waitReady(ctx); err != nil {
		return err
	}
	if s.HistoryMax < 0 || s.HistoryDays < 0 {
		return errors.New("agent: the history limits cannot be negative")
	}
	var muted []string
	for _, m := range s.Muted {
		m = strings.ToLower(strings.TrimSpace(m))
		if m != "" && !slices.Contains(muted, m) {
			muted = append(muted, m)
		}
	}
	s.Muted = muted
	if a.opts.ApplySettings != nil {
		if err := a.opts.ApplySettings(s); err != nil {
			return fmt.Errorf("agent: apply the settings: %w", err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg := a.cfg
	cfg.Settings = s
	if err := a.saveLocked(cfg); err != nil {
		return fmt.Errorf("agent: save the settings: %w", err)
	}
	return nil
}

// Open opens the link of the history entry key (the caller has confirmed
// an unsafe one) with Options.Open, and marks the entry read. Options.Open
// decides what it opens: opener.Open refuses anything but http and https.
func (a *Agent) Open(ctx context.Context, key string) error {
	if err := a.waitReady(ctx); err != nil {
		return err
	}
	return a.openEntry(ctx, key)
}

// Show asks main to show a window (control.WindowHistory, WindowAccount
// or WindowSettings).
func (a *Agent) Show(ctx context.Context, window string) error {
	switch window {
	case control.WindowHistory, control.WindowAccount, control.WindowSettings:
	default:
		return fmt.Errorf("agent: no window %q", window)
	}
	a.showWindow(window)
	return nil
}
