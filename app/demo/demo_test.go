package demo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/xmpp"
)

// noKeyring behaves like a machine without a Secret Service.
type noKeyring struct{}

func (noKeyring) Get(string) (string, error) { return "", secret.ErrUnavailable }
func (noKeyring) Set(string, string) error   { return secret.ErrUnavailable }
func (noKeyring) Delete(string) error        { return secret.ErrUnavailable }

// runOnce starts the demo in dir, runs an agent on it and returns the
// first notification's title.
func runOnce(t *testing.T, dir string, keys secret.Store) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, dir, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	d.Explain(&b)
	if !strings.Contains(b.String(), d.Console) || !strings.Contains(b.String(), d.AdminPassword) {
		t.Fatalf("explanation lacks the console or password:\n%s", b.String())
	}
	srvDone := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { srvDone <- d.Run(sctx) }()
	defer func() {
		stop()
		if err := <-srvDone; err != nil {
			t.Errorf("demo server: %v", err)
		}
	}()
	c, err := xmpp.New(xmpp.Config{JID: d.JID, Server: d.C2S, Register: true, Password: d.Password})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cstop := context.WithCancel(ctx)
	go func() { _ = c.Run(cctx) }()
	defer func() {
		cstop()
		for range c.Events() {
		}
	}()
	for ev := range c.Events() {
		switch ev := ev.(type) {
		case *xmpp.StateChange:
			if ev.Err != nil && !ev.Retry {
				t.Fatalf("agent: %v", ev.Err)
			}
			if ev.State == xmpp.StateOnline {
				go func() { _ = d.Welcome(ctx) }()
			}
		case *xmpp.Notified:
			return ev.Notification.Title
		}
	}
	t.Fatal("no notification")
	return ""
}

func TestDemoWelcomesTheAgent(t *testing.T) {
	dir := t.TempDir()
	if got := runOnce(t, dir, &secret.Memory{}); got != "Welcome to xpush" {
		t.Fatalf("first notification %q", got)
	}
}

func TestDemoRestartsWithoutKeyring(t *testing.T) {
	// Without a keyring the password changes on each run; the second run
	// must still log in to the account the first one registered.
	dir := t.TempDir()
	for range 2 {
		if got := runOnce(t, dir, noKeyring{}); got != "Welcome to xpush" {
			t.Fatalf("notification %q", got)
		}
	}
}
