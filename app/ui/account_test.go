package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/xpush/xpush/app/control"
)

func newAccountTest(t *testing.T, agent *fakeAgent) (*accountView, fyne.Window, *loop) {
	t.Helper()
	a := test.NewTempApp(t)
	e, l := newTestEnv(t, agent, nil)
	w := a.NewWindow("")
	v := newAccountView(w, e)
	w.Resize(fyne.NewSize(520, 560))
	closeView(t, w, &v.base)
	l.until(t, "the status", func() bool { return v.state.Text != "Asking xpush…" })
	return v, w, l
}

func TestValidateAccount(t *testing.T) {
	for _, c := range []struct {
		server, jid, password string
		create                bool
		want                  accountErrors
	}{
		{"", "alice@example.org", "pw", false, accountErrors{}},
		{"xmpp.example.org:5222", "alice@example.org", "", true, accountErrors{}},
		{"[::1]:5222", "alice@example.org", "pw", false, accountErrors{}},
		{"127.0.0.1:5222", "alice@localhost", "pw", false, accountErrors{}},
		{"xmpp.example.org", "alice@example.org", "pw", false, accountErrors{server: "host:port"}},
		{"xmpp.example.org:http", "alice@example.org", "pw", false, accountErrors{server: "host:port"}},
		{":5222", "alice@example.org", "pw", false, accountErrors{server: "host:port"}},
		{"example.org:70000", "alice@example.org", "pw", false, accountErrors{server: "host:port"}},
		{"", "", "pw", false, accountErrors{jid: "Enter your address"}},
		{"", "example.org", "pw", false, accountErrors{jid: "user@domain"}},
		{"", "alice@", "pw", false, accountErrors{jid: "user@domain"}},
		{"", "al ice@example.org", "pw", false, accountErrors{jid: "user@domain"}},
		{"", "alice@example.org/laptop", "pw", false, accountErrors{jid: "Leave out"}},
		{"", "alice@example.org", "", false, accountErrors{password: "Enter the password"}},
	} {
		got := validateAccount(c.server, c.jid, c.password, c.create)
		check := func(field, got, want string) {
			if (want == "") != (got == "") || !strings.Contains(got, want) {
				t.Errorf("validateAccount(%q, %q, %q, %v) %s = %q, want one with %q",
					c.server, c.jid, c.password, c.create, field, got, want)
			}
		}
		check("server", got.server, c.want.server)
		check("jid", got.jid, c.want.jid)
		check("password", got.password, c.want.password)
	}
}

func TestAccountValidationMessages(t *testing.T) {
	agent := &fakeAgent{status: control.Status{State: control.StateNoAccount}}
	v, w, l := newAccountTest(t, agent)
	test.Type(v.server, "xmpp.example.org")
	test.Type(v.jid, "alice")
	test.Tap(v.save)
	for name, lbl := range map[string]interface {
		Visible() bool
	}{"server": v.serverErr, "jid": v.jidErr, "password": v.passwordErr} {
		if !lbl.Visible() {
			t.Errorf("no %s message", name)
		}
	}
	if !strings.Contains(v.serverErr.Text, "host:port") || !strings.Contains(v.jidErr.Text, "user@domain") ||
		!strings.Contains(v.passwordErr.Text, "password") {
		t.Errorf("messages %q, %q, %q", v.serverErr.Text, v.jidErr.Text, v.passwordErr.Text)
	}
	assertMarkup(t, "account_errors.xml", w.Canvas())
	l.settle(50 * time.Millisecond)
	if got := agent.savedAccounts(); len(got) != 0 {
		t.Fatalf("saved an invalid account: %v", got)
	}

	// Fixed fields lose their messages.
	v.server.SetText("xmpp.example.org:5222")
	v.jid.SetText("alice@example.org")
	test.Tap(v.save)
	if v.serverErr.Visible() || v.jidErr.Visible() || !v.passwordErr.Visible() {
		t.Errorf("after fixing: server %v jid %v password %v", v.serverErr.Visible(), v.jidErr.Visible(), v.passwordErr.Visible())
	}
}

func TestAccountCreate(t *testing.T) {
	agent := &fakeAgent{status: control.Status{State: control.StateNoAccount}}
	v, _, l := newAccountTest(t, agent)
	test.Type(v.jid, "alice@example.org")
	test.Tap(v.create)
	if !v.create.Checked {
		t.Fatal("checkbox not checked")
	}
	if !strings.Contains(v.password.PlaceHolder, "generated") {
		t.Errorf("password placeholder %q", v.password.PlaceHolder)
	}
	test.Tap(v.save)
	if !v.save.Disabled() {
		t.Error("Save enabled while saving")
	}
	l.until(t, "SaveAccount", func() bool { return len(agent.savedAccounts()) == 1 })
	want := savedAccount{Account: control.Account{JID: "alice@example.org"}, Password: "", Create: true}
	if got := agent.savedAccounts()[0]; got != want {
		t.Errorf("SaveAccount(%+v), want %+v", got, want)
	}
	l.until(t, "the result", func() bool { return strings.HasPrefix(v.result.Text, "Saved.") })
	if v.save.Disabled() || v.create.Checked {
		t.Error("after saving: Save disabled or create still checked")
	}
}

func TestAccountSaveKeepsOtherFields(t *testing.T) {
	agent := &fakeAgent{
		status:  control.Status{State: control.StateOnline, JID: "alice@example.org/xpush"},
		account: control.Account{Server: "old.example.org:5222", JID: "alice@example.org", InsecurePlain: true, PushService: "push.example.org"},
	}
	v, _, l := newAccountTest(t, agent)
	l.until(t, "the account", func() bool { return v.jid.Text == "alice@example.org" })
	if v.server.Text != "old.example.org:5222" {
		t.Errorf("server = %q", v.server.Text)
	}
	if v.state.Text != "Connected as alice@example.org/xpush." {
		t.Errorf("state = %q", v.state.Text)
	}
	v.server.SetText(" xmpp.example.org:5223 ")
	test.Type(v.password, "s3cret pass")
	test.Tap(v.save)
	l.until(t, "SaveAccount", func() bool { return len(agent.savedAccounts()) == 1 })
	want := savedAccount{
		Account:  control.Account{Server: "xmpp.example.org:5223", JID: "alice@example.org", InsecurePlain: true, PushService: "push.example.org"},
		Password: "s3cret pass",
	}
	if got := agent.savedAccounts()[0]; got != want {
		t.Errorf("SaveAccount(%+v), want %+v", got, want)
	}
	l.until(t, "the password to be cleared", func() bool { return v.password.Text == "" })
}

func TestAccountSaveError(t *testing.T) {
	agent := &fakeAgent{
		status:  control.Status{State: control.StateNoAccount},
		saveErr: errors.New("The server does not allow creating accounts."),
	}
	v, _, l := newAccountTest(t, agent)
	test.Type(v.jid, "alice@example.org")
	test.Tap(v.create)
	test.Tap(v.save)
	l.until(t, "the error", func() bool { return strings.HasPrefix(v.result.Text, "Not saved:") })
	if !strings.Contains(v.result.Text, "does not allow creating accounts") || v.save.Disabled() {
		t.Errorf("result %q, save disabled %v", v.result.Text, v.save.Disabled())
	}
}

func TestAccountShowsWhyOffline(t *testing.T) {
	for _, c := range []struct {
		st   control.Status
		err  error
		want string
	}{
		{
			control.Status{State: control.StateOffline, Reason: "Wrong user name or password."},
			nil,
			"Not connected: Wrong user name or password.",
		},
		{
			control.Status{State: control.StateConnecting, Reason: "The server cannot be reached."},
			nil,
			"The server cannot be reached.",
		},
		{
			control.Status{State: control.StateOffline, Reason: "The server's certificate is not trusted."},
			nil,
			"certificate is not trusted",
		},
		{control.Status{State: control.StateNoAccount}, nil, "No account yet."},
		{control.Status{}, control.ErrNotRunning, "xpush is not running."},
	} {
		agent := &fakeAgent{status: c.st, statusErr: c.err}
		v, _, l := newAccountTest(t, agent)
		l.until(t, "the reason", func() bool { return strings.Contains(v.state.Text, c.want) })
		if v.demo.Visible() {
			t.Error("demo shown without a demo")
		}
	}
}

func TestAccountShowsDemo(t *testing.T) {
	agent := &fakeAgent{status: control.Status{
		State: control.StateOnline, JID: "u1@localhost/xpush",
		Demo: &control.Demo{Console: "http://127.0.0.1:43210/", AdminPassword: "correct-horse"},
	}}
	v, w, l := newAccountTest(t, agent)
	l.until(t, "the demo", v.demo.Visible)
	if v.demoConsole.Text != "http://127.0.0.1:43210/" || v.demoConsole.URL == nil {
		t.Errorf("console %q (%v)", v.demoConsole.Text, v.demoConsole.URL)
	}
	if !strings.Contains(texts(w.Content()), "correct-horse") {
		t.Error("admin password not shown")
	}
	// When the demo ends, so does its box.
	agent.mu.Lock()
	agent.status.Demo = nil
	agent.mu.Unlock()
	l.until(t, "the demo to go", func() bool { return !v.demo.Visible() })
}
