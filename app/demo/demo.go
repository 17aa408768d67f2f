package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/console"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/sqlite"
)

// Preferred demo ports; random free ones are used when they are taken.
const (
	PreferredC2S  = "127.0.0.1:5222"
	PreferredHTTP = "127.0.0.1:8080"
	// User is the demo account's name.
	User = "me"
)

// Demo is a running local server and the account made on it.
type Demo struct {
	// C2S and Console are where the server listens.
	C2S     string
	Console string
	// AdminPassword logs in to the console (printed, never stored in
	// clear: the server keeps its argon2id hash).
	AdminPassword string
	// JID is the demo account.
	JID string
	// Password returns the account's password.
	Password func(ctx context.Context) (string, error)

	srv    *server.Server
	closeS func() error
	ls     server.Listeners
}

// Start opens the demo's store in dir, sets a fresh admin password, and
// prepares the account; Run serves. store keeps the account's password
// (the OS keyring); when it is not available the password lives only in
// memory for this run, and nothing is written in clear.
func Start(ctx context.Context, dir string, pwStore secret.Store, log *slog.Logger) (*Demo, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: create %s: %w", dir, err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "xpushd.db"))
	if err != nil {
		return nil, fmt.Errorf("demo: open the store: %w", err)
	}
	d := &Demo{closeS: st.Close, JID: User + "@localhost"}
	fail := func(err error) (*Demo, error) {
		_ = st.Close()
		d.closeListeners()
		return nil, err
	}
	d.AdminPassword = secret.Generate()
	hash, err := console.HashPassword(d.AdminPassword)
	if err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}
	if err := st.SetAdminHash(ctx, hash); err != nil {
		return fail(fmt.Errorf("demo: set the admin password: %w", err))
	}
	var ephemeral bool
	d.Password, ephemeral, err = accountPassword(d.JID, pwStore)
	if err != nil {
		return fail(err)
	}
	if ephemeral {
		// Without a keyring the last run's password is gone: give the
		// existing demo account this run's password, server-side.
		if err := resetPassword(ctx, st, d.Password); err != nil {
			return fail(err)
		}
	}
	if d.ls.C2S, err = listen(PreferredC2S); err != nil {
		return fail(err)
	}
	if d.ls.HTTP, err = listen(PreferredHTTP); err != nil {
		return fail(err)
	}
	d.C2S = d.ls.C2S.Addr().String()
	d.Console = "http://" + d.ls.HTTP.Addr().String() + "/"
	d.srv, err = server.New(server.Options{Domain: "localhost", Store: st, Registration: "open", Logger: log})
	if err != nil {
		return fail(err)
	}
	return d, nil
}

// accountPassword returns the demo account's password: the one in the
// keyring, or a new one stored there, or, without a keyring, a new one
// kept in memory (ephemeral).
func accountPassword(jid string, pwStore secret.Store) (get func(context.Context) (string, error), ephemeral bool, err error) {
	pw, err := pwStore.Get(jid)
	switch {
	case err == nil:
	case errors.Is(err, secret.ErrNotFound):
		pw = secret.Generate()
		if err := pwStore.Set(jid, pw); err != nil {
			return nil, false, fmt.Errorf("demo: store the account's password: %w", err)
		}
	case errors.Is(err, secret.ErrUnavailable):
		pw, ephemeral = secret.Generate(), true // this run only; never written in clear
	default:
		return nil, false, err
	}
	return func(context.Context) (string, error) { return pw, nil }, ephemeral, nil
}

// resetPassword sets the demo account's keys for password, if the account
// exists.
func resetPassword(ctx context.Context, st store.Users, password func(context.Context) (string, error)) error {
	if _, err := st.User(ctx, User); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pw, _ := password(ctx)
	sha1, sha256, err := account.Keys(User, pw, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := st.SetCredentials(ctx, User, sha1, sha256, ""); err != nil {
		return fmt.Errorf("demo: reset the account's password: %w", err)
	}
	return nil
}

// listen tries addr, then any free loopback port.
func listen(addr string) (net.Listener, error) {
	if l, err := net.Listen("tcp", addr); err == nil {
		return l, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen on loopback: %w", err)
	}
	return l, nil
}

func (d *Demo) closeListeners() {
	for _, l := range []net.Listener{d.ls.C2S, d.ls.HTTP} {
		if l != nil {
			l.Close()
		}
	}
}

// Run serves until ctx ends, then closes the store.
func (d *Demo) Run(ctx context.Context) error {
	defer d.closeS()
	return d.srv.Run(ctx, d.ls, 5*time.Second)
}

// Welcome sends the account its first notification.
func (d *Demo) Welcome(ctx context.Context) error {
	_, err := d.srv.Sender.Send(ctx, send.Request{
		To:      []string{User},
		Title:   "Welcome to xpush",
		Message: "This came from your local xpushd. Send more from the console: " + d.Console,
		URI:     d.Console,
		TTL:     time.Hour,
		Sender:  "demo",
	})
	return err
}

// Explain writes what the user needs to send a first push.
func (d *Demo) Explain(w io.Writer) {
	fmt.Fprintf(w, `xpush demo: a local push server is running.
  console:  %s
  login:    admin password %s
  account:  %s (server %s)
Send a notification from the console; it appears here.
`, d.Console, d.AdminPassword, d.JID, d.C2S)
}
