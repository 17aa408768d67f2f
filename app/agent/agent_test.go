package agent_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/app/agent"
	"github.com/xpush/xpush/app/config"
	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

// setUp writes a configuration for user on x, with its password in keys,
// to be registered on first login.
func setUp(t testing.TB, dir string, x *xpushd, user string, keys secret.Store) {
	t.Helper()
	if err := keys.Set(user+"@localhost", "password-of-"+user); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{Account: control.Account{Server: x.addr, JID: user + "@localhost"}, Register: true}
	if err := config.Save(dir+"/config.toml", cfg); err != nil {
		t.Fatal(err)
	}
}

func TestNotificationStoredThenToastedOnce(t *testing.T) {
	x := startServer(t, true) // every session gets the notification again
	dir, keys := t.TempDir(), &secret.Memory{}
	setUp(t, dir, x, "ann", keys)
	r := newRig(t, rigOptions{dir: dir, keys: keys})
	st := r.waitOnline()
	if !strings.HasPrefix(st.JID, "ann@localhost/") {
		t.Fatalf("online as %q", st.JID)
	}

	key := x.send(t, "ann", send.Request{Title: "Build done", Message: "all green", URI: "https://ci.example.org/b/1"})
	d := r.waitDelivery(key, 1)
	if !d.Added || !d.Toasted || d.Err != nil {
		t.Fatalf("first delivery %+v", d)
	}
	if d.Stored <= 0 || d.Shown < d.Stored {
		t.Errorf("timings: stored %v, shown %v", d.Stored, d.Shown)
	}
	got := r.toastsFor(key)
	if len(got) != 1 {
		t.Fatalf("toasts %+v", got)
	}
	if tt := got[0]; tt.Title != "Build done" || tt.Body != "all green" || !tt.HasLink || tt.URI != "https://ci.example.org/b/1" {
		t.Errorf("toast %+v", tt)
	}
	e, err := r.hist.Get(ctxT(t), key)
	if err != nil || e.Title != "Build done" || e.Read {
		t.Fatalf("history: %+v %v", e, err)
	}
	r.waitStatus("one unread", func(s control.Status) bool { return s.Unread == 1 })

	// The registration is done: the configuration no longer asks for it.
	waitConfig(t, r, func(c config.Config) bool { return !c.Register })
	assertNoSecret(t, r.cfgPath, "password-of-ann")

	// A new session (the account saved again) gets it again from the
	// server: stored already, so not shown again.
	if err := r.a.SaveAccount(ctxT(t), control.Account{Server: x.addr, JID: "ann@localhost"}, "", false); err != nil {
		t.Fatal(err)
	}
	if d := r.waitDelivery(key, 2); d.Added || d.Toasted {
		t.Fatalf("redelivery %+v", d)
	}
	if got := r.toastsFor(key); len(got) != 1 {
		t.Fatalf("toasts after redelivery: %d", len(got))
	}

	// A new agent on the same history: not shown either.
	r.stop()
	r2 := newRig(t, rigOptions{dir: dir, keys: keys})
	if d := r2.waitDelivery(key, 1); d.Added || d.Toasted {
		t.Fatalf("redelivery after restart %+v", d)
	}
	if got := r2.toasts.list(); len(got) != 0 {
		t.Fatalf("toasts after restart: %+v", got)
	}
	if s, err := r2.a.Status(ctxT(t)); err != nil || s.Unread != 1 {
		t.Fatalf("status after restart %+v %v", s, err)
	}
}

func TestDoNotDisturbAndMutedDomains(t *testing.T) {
	x := startServer(t, false)
	dir, keys := t.TempDir(), &secret.Memory{}
	setUp(t, dir, x, "dan", keys)
	r := newRig(t, rigOptions{dir: dir, keys: keys})
	r.waitOnline()
	ctx := ctxT(t)

	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := r.a.SetDND(ctx, until); err != nil {
		t.Fatal(err)
	}
	r.waitStatus("dnd", func(s control.Status) bool { return s.DNDUntil.Equal(until) })
	if c, err := config.Load(r.cfgPath); err != nil || !c.DNDUntil.Equal(until) {
		t.Fatalf("dnd not saved: %+v %v", c, err)
	}
	key := x.send(t, "dan", send.Request{Title: "quiet"})
	if d := r.waitDelivery(key, 1); !d.Added || d.Toasted {
		t.Fatalf("during dnd: %+v", d)
	}
	if _, err := r.hist.Get(ctx, key); err != nil {
		t.Fatalf("not in history during dnd: %v", err)
	}

	if err := r.a.SetDND(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	key = x.send(t, "dan", send.Request{Title: "loud"})
	if d := r.waitDelivery(key, 1); !d.Added || !d.Toasted {
		t.Fatalf("after dnd: %+v", d)
	}

	if err := r.a.SaveSettings(ctx, control.Settings{Muted: []string{" LocalHost ", "", "localhost"}, HistoryDays: 7}); err != nil {
		t.Fatal(err)
	}
	s, err := r.a.Settings(ctx)
	if err != nil || !slices.Equal(s.Muted, []string{"localhost"}) || s.HistoryDays != 7 {
		t.Fatalf("settings %+v %v", s, err)
	}
	key = x.send(t, "dan", send.Request{Title: "muted"})
	if d := r.waitDelivery(key, 1); !d.Added || d.Toasted {
		t.Fatalf("muted: %+v", d)
	}
	if c, _ := config.Load(r.cfgPath); !slices.Equal(c.Settings.Muted, []string{"localhost"}) || c.HistoryOptions().MaxAge != 7*24*time.Hour {
		t.Fatalf("settings not saved: %+v", c)
	}
	r.waitStatus("three unread", func(s control.Status) bool { return s.Unread == 3 })
	if n := len(r.toasts.list()); n != 1 {
		t.Fatalf("%d toasts, want 1", n)
	}
}

func TestClickOpensSafeLinksOnly(t *testing.T) {
	x := startServer(t, false)
	dir, keys := t.TempDir(), &secret.Memory{}
	setUp(t, dir, x, "eve", keys)
	r := newRig(t, rigOptions{dir: dir, keys: keys})
	r.waitOnline()
	ctx := ctxT(t)

	const safe = "https://example.org/page?a=1&b=2"
	key := x.send(t, "eve", send.Request{Title: "safe", URI: safe})
	r.waitDelivery(key, 1)
	r.toasts.clicks <- key
	r.waitFor("open", func() bool { return len(r.opened) == 1 })
	r.mu.Lock()
	opened := slices.Clone(r.opened)
	r.mu.Unlock()
	if opened[0] != safe {
		t.Fatalf("opened %q, want %q", opened[0], safe)
	}
	r.waitStatus("read", func(s control.Status) bool { return s.Unread == 0 })
	if e, err := r.hist.Get(ctx, key); err != nil || !e.Read {
		t.Fatalf("entry not read: %+v %v", e, err)
	}

	// The server accepts this link, but it is not one to hand to a
	// browser unasked (non-ASCII): the toast carries no link, and a
	// click shows the history window.
	const odd = "https://example.org/ünïcode"
	key = x.send(t, "eve", send.Request{Title: "odd", URI: odd})
	r.waitDelivery(key, 1)
	if tt := r.toastsFor(key); len(tt) != 1 || tt[0].HasLink || tt[0].URI != "" {
		t.Fatalf("toast of an unsafe link: %+v", tt)
	}
	r.toasts.clicks <- key
	r.waitFor("history window", func() bool { return len(r.windows) == 1 })

	// A link of another scheme (from a server that lets it through).
	const ftp = "ftp://files.example.org/x"
	if _, err := r.hist.Add(ctx, history.Entry{Key: "message:sid:a@b:1", Title: "ftp", URI: ftp, URIUnsafe: true}); err != nil {
		t.Fatal(err)
	}
	r.toasts.clicks <- "message:sid:a@b:1"
	// A toast whose entry the user deleted.
	r.toasts.clicks <- "iq:gone"
	r.waitFor("history window", func() bool { return len(r.windows) == 3 })
	r.mu.Lock()
	windows, nOpened := slices.Clone(r.windows), len(r.opened)
	r.mu.Unlock()
	if nOpened != 1 {
		t.Fatalf("opened %d links, want 1", nOpened)
	}
	for _, w := range windows {
		if w != control.WindowHistory {
			t.Fatalf("windows %q", windows)
		}
	}

	// The history window's Open, after the user confirmed.
	if err := r.a.Open(ctx, key); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	opened = slices.Clone(r.opened)
	r.mu.Unlock()
	if len(opened) != 2 || opened[1] != odd {
		t.Fatalf("Open: opened %q", opened)
	}
	if e, _ := r.hist.Get(ctx, key); !e.Read {
		t.Fatal("Open did not mark the entry read")
	}
	if err := r.a.Show(ctx, control.WindowSettings); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Show(ctx, "kitchen"); err == nil {
		t.Fatal("Show of an unknown window succeeded")
	}
}

func TestWrongPasswordIsNotRetried(t *testing.T) {
	x := startServer(t, false)
	sha1, sha256, err := account.Keys("bob", "the-right-password", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.st.CreateUser(context.Background(), store.User{Name: "bob", SHA1: sha1, SHA256: sha256, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	dir, keys := t.TempDir(), &secret.Memory{}
	if err := keys.Set("bob@localhost", "a-wrong-password"); err != nil {
		t.Fatal(err)
	}
	if err := config.Save(dir+"/config.toml", config.Config{Account: control.Account{Server: x.addr, JID: "bob@localhost"}}); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOptions{dir: dir, keys: keys})
	s := r.waitStatus("offline", func(s control.Status) bool { return s.State == control.StateOffline && s.Reason != "" })
	if s.Reason != "Wrong user name or password." {
		t.Fatalf("reason %q", s.Reason)
	}
	r.mu.Lock()
	n := len(r.statuses)
	r.mu.Unlock()
	// With a 50 ms backoff, a retry loop would connect dozens of times;
	// and a wake-up from sleep does not retry a permanent error either.
	agent.Wake(r.a)
	time.Sleep(2 * time.Second)
	if got := x.accepts.Load(); got != 1 {
		t.Fatalf("%d connections, want 1", got)
	}
	r.mu.Lock()
	later := slices.Clone(r.statuses[n:])
	last := r.lastLocked()
	r.mu.Unlock()
	if len(later) != 0 || last.Reason != "Wrong user name or password." {
		t.Fatalf("status changed after the permanent error: %+v", later)
	}

	// Saving the account with the right password clears it.
	if err := r.a.SaveAccount(ctxT(t), control.Account{Server: x.addr, JID: "bob@localhost"}, "the-right-password", false); err != nil {
		t.Fatal(err)
	}
	if s := r.waitOnline(); s.Reason != "" {
		t.Fatalf("online with reason %q", s.Reason)
	}
	assertNoSecret(t, r.cfgPath, "the-right-password")
}

func TestSaveAccountCreates(t *testing.T) {
	x := startServer(t, false)
	keys := &secret.Memory{}
	r := newRig(t, rigOptions{keys: keys})
	r.waitStatus("no account", func(s control.Status) bool { return s.State == control.StateNoAccount })
	ctx := ctxT(t)

	for _, bad := range []control.Account{
		{JID: ""},
		{JID: "no-user-part"},
		{JID: "a@b@c"},
		{JID: "cat@localhost", Server: "no-port"},
		{JID: "cat@localhost", Server: "host:99999"},
		{JID: "cat@localhost", PushService: "user@push.example"},
	} {
		if err := r.a.SaveAccount(ctx, bad, "", true); !errors.Is(err, agent.ErrInvalidAccount) {
			t.Errorf("SaveAccount(%+v) = %v, want ErrInvalidAccount", bad, err)
		}
	}
	if err := r.a.SaveAccount(ctx, control.Account{Server: x.addr, JID: "cat@localhost"}, "", false); !errors.Is(err, agent.ErrNoPassword) {
		t.Errorf("SaveAccount without a password = %v, want ErrNoPassword", err)
	}
	if _, err := os.Stat(r.cfgPath); !os.IsNotExist(err) {
		t.Fatalf("a refused account wrote the configuration: %v", err)
	}

	if err := r.a.SaveAccount(ctx, control.Account{Server: " " + x.addr, JID: "Cat@LocalHost"}, "", true); err != nil {
		t.Fatal(err)
	}
	pw, err := keys.Get("cat@localhost")
	if err != nil || len(pw) < 20 {
		t.Fatalf("generated password: %q %v", pw, err)
	}
	assertNoSecret(t, r.cfgPath, pw)
	if s := r.waitOnline(); !strings.HasPrefix(s.JID, "cat@localhost/") {
		t.Fatalf("online as %q", s.JID)
	}
	if _, err := x.st.User(ctx, "cat"); err != nil {
		t.Fatalf("not registered: %v", err)
	}
	c := waitConfig(t, r, func(c config.Config) bool { return !c.Register })
	if c.Account.JID != "cat@localhost" || c.Account.Server != x.addr {
		t.Fatalf("saved account %+v", c.Account)
	}
	if a, err := r.a.Account(ctx); err != nil || a != c.Account {
		t.Fatalf("Account() = %+v %v", a, err)
	}
	assertNoSecret(t, r.cfgPath, pw)
}

func TestKeyringUnavailable(t *testing.T) {
	x := startServer(t, false)
	dir := t.TempDir()
	old := config.Config{Account: control.Account{Server: x.addr, JID: "old@localhost"}, Settings: control.Settings{Muted: []string{"m.example"}}}
	if err := config.Save(dir+"/config.toml", old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(dir + "/config.toml")
	r := newRig(t, rigOptions{dir: dir, keys: brokenKeyring{}})
	s := r.waitStatus("offline", func(s control.Status) bool { return s.State == control.StateOffline && s.Reason != "" })
	if !strings.Contains(s.Reason, "keyring") {
		t.Errorf("reason %q", s.Reason)
	}
	ctx := ctxT(t)
	for _, pw := range []string{"", "typed-password"} {
		err := r.a.SaveAccount(ctx, control.Account{Server: x.addr, JID: "new@localhost"}, pw, true)
		if !errors.Is(err, secret.ErrUnavailable) {
			t.Fatalf("SaveAccount = %v, want secret.ErrUnavailable", err)
		}
		t.Log(err)
	}
	after, _ := os.ReadFile(dir + "/config.toml")
	if !bytes.Equal(before, after) {
		t.Fatalf("configuration changed:\n%s", after)
	}
	if a, _ := r.a.Account(ctx); a != old.Account {
		t.Fatalf("account %+v", a)
	}
}

func TestBrokenConfigRunsTheDemo(t *testing.T) {
	dir, keys := t.TempDir(), &secret.Memory{}
	const broken = "[account]\njid = a@b\n"
	if err := os.WriteFile(dir+"/config.toml", []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	demoDir := t.TempDir()
	r := newRig(t, rigOptions{dir: dir, keys: keys, demo: func(ctx context.Context) (*demo.Demo, error) {
		return demo.Start(ctx, demoDir, keys, nil)
	}})
	s := r.waitStatus("demo online", func(s control.Status) bool { return s.State == control.StateOnline })
	if !strings.Contains(s.Reason, r.cfgPath) || !strings.Contains(s.Reason, "line 2") {
		t.Errorf("reason %q does not name the file and line", s.Reason)
	}
	if s.Demo == nil || !strings.HasPrefix(s.Demo.Console, "http://127.0.0.1:") || s.Demo.AdminPassword == "" {
		t.Fatalf("demo %+v", s.Demo)
	}
	if !strings.HasPrefix(s.JID, demo.User+"@localhost/") {
		t.Fatalf("online as %q", s.JID)
	}
	// The demo welcomes its new account.
	r.waitFor("welcome toast", func() bool {
		for _, tt := range r.toasts.list() {
			if tt.Title == "Welcome to xpush" && tt.HasLink {
				return true
			}
		}
		return false
	})
	if a, err := r.a.Account(ctxT(t)); err != nil || a != (control.Account{}) {
		t.Fatalf("account while the demo runs: %+v %v", a, err)
	}

	// Saving replaces the file and keeps the broken one beside it.
	if err := r.a.SaveSettings(ctxT(t), control.Settings{StartAtLogin: true}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(r.cfgPath + ".broken"); err != nil || string(b) != broken {
		t.Fatalf("broken file not kept: %q %v", b, err)
	}
	r.waitStatus("reason cleared", func(s control.Status) bool { return s.Reason == "" })
}

func TestBrokenConfigWithoutDemoWaits(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/config.toml", []byte("dnd_until = tomorrow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOptions{dir: dir})
	s := r.waitStatus("no account", func(s control.Status) bool { return s.State == control.StateNoAccount })
	if !strings.Contains(s.Reason, "config.toml") || !strings.Contains(s.Reason, "line 1") {
		t.Fatalf("reason %q", s.Reason)
	}
	// The control interface answers.
	if st, err := r.a.Status(ctxT(t)); err != nil || st.Reason != s.Reason {
		t.Fatalf("Status() = %+v %v", st, err)
	}
}

// waitConfig waits until the configuration file satisfies f.
func waitConfig(t *testing.T, r *rig, f func(config.Config) bool) config.Config {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := config.Load(r.cfgPath)
		if err == nil && f(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("configuration: %+v %v", c, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNoSecret fails if the file at path holds secret.
func assertNoSecret(t *testing.T, path, secret string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) {
		t.Fatalf("%s holds the password:\n%s", path, b)
	}
}
