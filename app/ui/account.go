package ui

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/app/control"
)

// accountView is the account window: server, address and password, the
// agent's connection state and, while it runs one, the local demo.
type accountView struct {
	base

	loaded    control.Account // kept fields the form does not show
	saving    bool
	shownDemo *control.Demo // the demo shown, nil for none

	state        *widget.Label
	demo         *fyne.Container
	demoConsole  *widget.Hyperlink
	demoPassword *widget.Label
	server       *widget.Entry
	jid          *widget.Entry
	password     *widget.Entry
	create       *widget.Check
	serverErr    *widget.Label
	jidErr       *widget.Label
	passwordErr  *widget.Label
	save         *widget.Button
	result       *widget.Label
}

func newAccountView(w fyne.Window, e *env) *accountView {
	v := &accountView{}
	v.init(e, w)
	w.SetTitle("xpush: account")
	w.SetContent(v.build())
	w.Resize(fyne.NewSize(520, 0))
	v.async(func(ctx context.Context) func() {
		a, err := v.env.agent.Account(ctx)
		if err != nil {
			return nil // the status line says why
		}
		return func() { v.fill(a) }
	})
	v.every(v.env.statusPoll, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, v.env.callTimeout)
		defer cancel()
		st, err := v.env.agent.Status(ctx)
		if v.ctx.Err() != nil {
			return // closed
		}
		v.do(func() { v.showStatus(st, err) })
	})
	return v
}

func (v *accountView) build() fyne.CanvasObject {
	v.state = widget.NewLabel("Asking xpush…")
	v.state.Wrapping = fyne.TextWrapWord
	v.demoConsole = widget.NewHyperlink("", nil)
	v.demoPassword = widget.NewLabel("")
	v.demoPassword.Selectable = true
	v.demoPassword.TextStyle.Monospace = true
	demoNote := widget.NewLabel("xpush runs a local demo server. Send a first notification from its console:")
	demoNote.Wrapping = fyne.TextWrapWord
	v.demo = container.NewVBox(demoNote, widget.NewForm(
		widget.NewFormItem("Console", v.demoConsole),
		widget.NewFormItem("Admin password", v.demoPassword),
	))
	v.demo.Hide()

	v.server = widget.NewEntry()
	v.server.SetPlaceHolder("xmpp.example.org:5222 (optional)")
	v.jid = widget.NewEntry()
	v.jid.SetPlaceHolder("alice@example.org")
	v.password = widget.NewPasswordEntry()
	v.create = widget.NewCheck("Create an account for me", v.createChanged)
	v.serverErr, v.jidErr, v.passwordErr = errLabel(), errLabel(), errLabel()
	v.createChanged(false)

	v.save = widget.NewButton("Save", v.submit)
	v.save.Importance = widget.HighImportance
	v.result = widget.NewLabel("")
	v.result.Wrapping = fyne.TextWrapWord
	v.result.Hide()

	hint := widget.NewLabel("Leave the server empty to find it from the address's domain.")
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	form := widget.NewForm(
		widget.NewFormItem("Server", container.NewVBox(v.server, v.serverErr)),
		widget.NewFormItem("Address", container.NewVBox(v.jid, v.jidErr)),
		widget.NewFormItem("Password", container.NewVBox(v.password, v.passwordErr)),
		widget.NewFormItem("", v.create),
	)
	return container.NewPadded(container.NewVBox(
		v.state, v.demo, widget.NewSeparator(), form, hint,
		container.NewHBox(v.save), v.result,
	))
}

// errLabel is a field's validation message, hidden while empty.
func errLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

func setErr(l *widget.Label, msg string) {
	l.SetText(msg)
	if msg == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func (v *accountView) createChanged(create bool) {
	if create {
		v.password.SetPlaceHolder("Optional: leave empty for a strong generated one")
	} else {
		v.password.SetPlaceHolder("")
	}
}

// fill shows the agent's account, unless the user typed one already.
func (v *accountView) fill(a control.Account) {
	v.loaded = a
	if v.server.Text == "" && v.jid.Text == "" {
		v.server.SetText(a.Server)
		v.jid.SetText(a.JID)
	}
}

// showStatus shows the agent's state and, when it is offline, why, in
// plain words. It runs every StatusInterval: it lays the window out again
// only when something changed.
func (v *accountView) showStatus(st control.Status, err error) {
	text, imp := statusText(st)
	var demo *control.Demo
	if err != nil {
		text, imp = userMessage(err), widget.DangerImportance
	} else {
		demo = st.Demo
	}
	shown := v.shownDemo
	if text == v.state.Text && imp == v.state.Importance &&
		(demo == nil) == (shown == nil) && (demo == nil || *demo == *shown) {
		return
	}
	v.state.Text, v.state.Importance = text, imp
	if demo == nil {
		v.demo.Hide()
		v.shownDemo = nil
	} else {
		d := *demo
		v.shownDemo = &d
		v.demoConsole.SetText(d.Console)
		v.demoConsole.URL, _ = url.Parse(d.Console)
		v.demoPassword.SetText(d.AdminPassword)
		v.demo.Show()
	}
	v.relayout()
}

// statusText is the sentence for st.
func statusText(st control.Status) (string, widget.Importance) {
	reason := strings.TrimSpace(st.Reason)
	switch st.State {
	case control.StateOnline:
		if st.JID != "" {
			return "Connected as " + st.JID + ".", widget.SuccessImportance
		}
		return "Connected.", widget.SuccessImportance
	case control.StateConnecting:
		if reason != "" {
			return "Connecting… The last attempt failed: " + reason, widget.WarningImportance
		}
		return "Connecting…", widget.MediumImportance
	case control.StateNoAccount:
		return "No account yet. Enter yours below, or let xpush create one for you.", widget.MediumImportance
	}
	if reason != "" {
		return "Not connected: " + reason, widget.DangerImportance
	}
	return "Not connected.", widget.DangerImportance
}

// accountErrors are the validation messages of the account form, one per
// field, empty when the field is fine.
type accountErrors struct{ server, jid, password string }

func (e accountErrors) ok() bool { return e == accountErrors{} }

// validateAccount checks the form: the address must be user@domain, the
// server host:port if given, and a password is needed unless the account
// is to be created.
func validateAccount(server, address, password string, create bool) accountErrors {
	var e accountErrors
	if server != "" {
		host, port, err := net.SplitHostPort(server)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || strings.ContainsAny(host, " /@") || perr != nil || n < 1 || n > 65535 {
			e.server = "Enter the server as host:port, for example xmpp.example.org:5222, or leave it empty."
		}
	}
	switch j, err := jid.Parse(address); {
	case address == "":
		e.jid = "Enter your address, for example alice@example.org."
	case err != nil || j.Localpart() == "" || j.Domainpart() == "":
		e.jid = "Enter your address as user@domain, for example alice@example.org."
	case j.Resourcepart() != "":
		e.jid = "Leave out the “/” and what follows it: just user@domain."
	}
	if password == "" && !create {
		e.password = "Enter the password, or tick “Create an account for me”."
	}
	return e
}

// submit validates the form and hands the account to the agent.
func (v *accountView) submit() {
	if v.saving {
		return
	}
	server, address := strings.TrimSpace(v.server.Text), strings.TrimSpace(v.jid.Text)
	password, create := v.password.Text, v.create.Checked
	errs := validateAccount(server, address, password, create)
	setErr(v.serverErr, errs.server)
	setErr(v.jidErr, errs.jid)
	setErr(v.passwordErr, errs.password)
	v.relayout()
	if !errs.ok() {
		v.setResult("Please correct the fields above.", widget.DangerImportance)
		return
	}
	a := v.loaded
	a.Server, a.JID = server, address
	v.saving = true
	v.save.Disable()
	if create {
		v.setResult("Creating the account…", widget.MediumImportance)
	} else {
		v.setResult("Saving…", widget.MediumImportance)
	}
	v.async(func(ctx context.Context) func() {
		err := v.env.agent.SaveAccount(ctx, a, password, create)
		var st control.Status
		var serr error
		if err == nil {
			st, serr = v.env.agent.Status(ctx)
		}
		return func() {
			v.saving = false
			v.save.Enable()
			if err != nil {
				v.setResult("Not saved: "+userMessage(err), widget.DangerImportance)
				return
			}
			v.loaded = a
			v.password.SetText("")
			v.create.SetChecked(false)
			v.setResult("Saved. xpush connects with this account now.", widget.SuccessImportance)
			v.showStatus(st, serr)
		}
	})
}

func (v *accountView) setResult(msg string, imp widget.Importance) {
	v.result.SetText(msg)
	v.result.Importance = imp
	v.result.Show()
	v.relayout()
}
