//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/xpush/xpush/internal/dbustest"
)

// The StatusNotifierItem protocol's names, as fyne.io/systray (and KDE,
// and GNOME's AppIndicator extension) use them.
const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = "/StatusNotifierWatcher"
	itemIface    = "org.kde.StatusNotifierItem"
	dbusmenu     = "com.canonical.dbusmenu"
	demoLineHead = "Demo: console at "
)

// TestTrayDemo is `go run .` on a fresh desktop, as far as the tray goes:
// `xpush` with no account and an empty home, on a session bus whose tray
// host is a minimal StatusNotifierWatcher run by this test. The agent's
// item registers with the watcher; its properties are an xpush item with
// an icon; its menu (com.canonical.dbusmenu, read as a tray host reads it)
// offers the local demo with its console's address, which answers, counts
// the demo's welcome notification as unread, and holds the history,
// pause, account, settings and quit entries; the agent
// printed the console's admin password; Quit in the menu ends the agent
// and takes the item off the bus.
//
// It runs when dbus-daemon is installed (and fails without it when
// XPUSH_INTEROP=1). No X display is needed: the tray is D-Bus alone.
func TestTrayDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dbustest.Require(t, "go", "dbus-daemon")
	dir := t.TempDir()
	start := time.Now()
	build(t, dir, "xpush", "..", nil)
	t.Logf("built xpush in %v", time.Since(start).Round(time.Millisecond))

	addr := dbustest.StartSessionBus(t)
	host, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	w := startWatcher(t, host)

	// A fresh home: no configuration, no history, no keyring (the demo
	// then keeps its account's password in memory).
	root := t.TempDir()
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "LANG=en_US.UTF-8", "BROWSER=true", "DISPLAY=", "WAYLAND_DISPLAY="}
	for _, d := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"} {
		p := filepath.Join(root, strings.ToLower(d))
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, d+"="+p)
	}
	agent := startAgent(t, filepath.Join(dir, "xpush"), env)

	// The item registers with the watcher.
	var reg registration
	select {
	case reg = <-w.reg:
	case <-agent.done:
		t.Fatalf("the agent exited before its item registered:\n%s", agent.output())
	case <-time.After(patience):
		t.Fatalf("no StatusNotifierItem registered within %v; agent output:\n%s", patience, agent.output())
	}
	t.Logf("registered: %s %s", reg.sender, reg.service)
	item := newItem(t, host, reg)
	// The item's connection also holds the name a host finds items by.
	wellKnown := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", agent.cmd.Process.Pid)
	var owner string
	if err := host.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, wellKnown).Store(&owner); err != nil || owner != item.dest {
		t.Errorf("%s is owned by %q (%v), want the item's connection %s", wellKnown, owner, err, item.dest)
	}

	// Its properties.
	for p, want := range map[string]any{
		"Id":       "xpush",
		"Title":    "xpush",
		"Status":   "Active",
		"Category": "ApplicationStatus",
	} {
		if got := item.prop(p); got != want {
			t.Errorf("item property %s = %#v, want %#v", p, got, want)
		}
	}
	item.checkIcon()

	// The menu offers the demo once the agent is online on it, and counts
	// the demo's welcome notification as unread.
	var console string
	menu := item.waitMenu("the demo's line and its welcome notification in the menu", func(m []entry) bool {
		if len(m) > 1 && strings.HasPrefix(m[0].label, demoLineHead) && m[1].label == "Open history (1 unread)" {
			console = strings.TrimPrefix(m[0].label, demoLineHead)
			return true
		}
		return false
	})
	t.Logf("menu:\n%s", outline(menu))
	if !menu[0].enabled {
		t.Errorf("the demo's line %q is disabled: it should open the account window", menu[0].label)
	}
	checkMenu(t, menu)
	if tip, want := item.tooltip(), "xpush demo: console at "+console+", 1 unread"; tip != want {
		t.Errorf("tooltip %q, want %q", tip, want)
	}

	// The console answers, and the agent told its admin password.
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/$`).MatchString(console) {
		t.Fatalf("console address %q is not a loopback URL", console)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(console)
	if err != nil {
		t.Fatalf("the demo console: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("GET %s: %s, %d bytes", console, resp.Status, len(body))
	}
	out := agent.output()
	if !strings.Contains(out, "console:  "+console) || !regexp.MustCompile(`login: +admin password \S{12,}`).MatchString(out) {
		t.Errorf("the agent did not print the console and its admin password:\n%s", out)
	}

	// Quit ends the agent, and its item leaves the bus.
	item.click(menu, "Quit")
	select {
	case <-agent.done:
		if err := agent.err; err != nil {
			t.Errorf("the agent exited with %v after Quit:\n%s", err, out)
		}
	case <-time.After(patience):
		t.Fatalf("the agent did not exit within %v of Quit", patience)
	}
	item.waitGone()
}

// checkMenu checks the entries every state of the menu has, after the
// state line.
func checkMenu(t *testing.T, m []entry) {
	t.Helper()
	want := []struct {
		label    string // a prefix for "Open history" (the unread count)
		children []string
	}{
		{"Open history", nil},
		{"", nil},
		{"Pause notifications", []string{"For 1 hour", "Until tomorrow", "Off"}},
		{"", nil},
		{"Account…", nil},
		{"Settings…", nil},
		{"", nil},
		{"Quit", nil},
	}
	got := m[1:]
	if len(got) != len(want) {
		t.Fatalf("the menu has %d entries after the state line, want %d:\n%s", len(got), len(want), outline(m))
	}
	for i, w := range want {
		e := got[i]
		switch {
		case w.label == "":
			if !e.separator {
				t.Errorf("entry %d is %q, want a separator", i+1, e.label)
			}
			continue
		case !strings.HasPrefix(e.label, w.label):
			t.Errorf("entry %d is %q, want %q", i+1, e.label, w.label)
		case !e.enabled:
			t.Errorf("entry %q is disabled", e.label)
		}
		var kids []string
		for _, k := range e.children {
			kids = append(kids, k.label)
			if !k.checkmark {
				t.Errorf("%q has no check mark", k.label)
			}
		}
		if strings.Join(kids, "|") != strings.Join(w.children, "|") {
			t.Errorf("%q has entries %q, want %q", e.label, kids, w.children)
		}
	}
	// Notifications are not paused: "Off" is the one checked.
	for _, k := range got[2].children {
		if k.checked != (k.label == "Off") {
			t.Errorf("pause entry %q checked: %v", k.label, k.checked)
		}
	}
}

// registration is one RegisterStatusNotifierItem call.
type registration struct{ sender, service string }

// watcher is a minimal org.kde.StatusNotifierWatcher, the tray host's
// side that items register with: it records the items and reports each
// registration on reg.
type watcher struct {
	conn  *dbus.Conn
	reg   chan registration
	props *prop.Properties
	mu    sync.Mutex
	list  []string
}

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	// An item gives its bus name, or (fyne.io/systray, Ayatana) its
	// object path on the sender's connection.
	name := service
	if strings.HasPrefix(service, "/") {
		name = string(sender) + service
	}
	w.mu.Lock()
	w.list = append(w.list, name)
	list := append([]string(nil), w.list...)
	w.mu.Unlock()
	w.props.SetMust(watcherName, "RegisteredStatusNotifierItems", list)
	_ = w.conn.Emit(watcherPath, watcherName+".StatusNotifierItemRegistered", name)
	select {
	case w.reg <- registration{string(sender), service}:
	default:
	}
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// startWatcher exports a watcher with a host registered on conn and
// takes its name.
func startWatcher(t *testing.T, conn *dbus.Conn) *watcher {
	t.Helper()
	w := &watcher{conn: conn, reg: make(chan registration, 4)}
	if err := conn.Export(w, watcherPath, watcherName); err != nil {
		t.Fatal(err)
	}
	props, err := prop.Export(conn, watcherPath, map[string]map[string]*prop.Prop{
		watcherName: {
			"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
			"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
			"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.props = props
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v (reply %d)", watcherName, err, reply)
	}
	return w
}

// agentProc is the xpush agent under test.
type agentProc struct {
	cmd  *exec.Cmd
	out  *buffer
	done chan struct{}
	err  error // Wait's, once done is closed
}

func (a *agentProc) output() string { return a.out.String() }

// startAgent starts the agent binary with env alone (and PATH); cleanup
// kills it if it still runs, and logs its output.
func startAgent(t *testing.T, bin string, env []string) *agentProc {
	t.Helper()
	a := &agentProc{out: &buffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(bin, "-v")
	a.cmd.Env = append(env, "PATH="+os.Getenv("PATH"))
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.err = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			a.cmd.Process.Kill()
			<-a.done
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("agent output:\n%s", indent([]byte(a.output())))
		}
	})
	return a
}

// item reads and clicks a StatusNotifierItem as a tray host does.
type item struct {
	t       *testing.T
	conn    *dbus.Conn
	dest    string
	obj     dbus.BusObject
	menu    dbus.BusObject
	signals chan *dbus.Signal
}

func newItem(t *testing.T, conn *dbus.Conn, reg registration) *item {
	t.Helper()
	path := dbus.ObjectPath(reg.service)
	dest := reg.sender
	if !strings.HasPrefix(reg.service, "/") {
		path, dest = "/StatusNotifierItem", reg.service
	}
	it := &item{t: t, conn: conn, dest: dest, obj: conn.Object(dest, path), signals: make(chan *dbus.Signal, 64)}
	menuPath, ok := it.prop("Menu").(dbus.ObjectPath)
	if !ok || !menuPath.IsValid() {
		t.Fatalf("the item has no Menu object path: %#v", it.prop("Menu"))
	}
	it.menu = conn.Object(dest, menuPath)
	if err := conn.AddMatchSignal(dbus.WithMatchSender(dest)); err != nil {
		t.Fatal(err)
	}
	conn.Signal(it.signals)
	t.Cleanup(func() { conn.RemoveSignal(it.signals) })
	return it
}

func (it *item) prop(name string) any {
	it.t.Helper()
	v, err := it.obj.GetProperty(itemIface + "." + name)
	if err != nil {
		it.t.Fatalf("property %s: %v", name, err)
	}
	return v.Value()
}

// checkIcon checks that the item shows a picture: a square ARGB pixmap of
// a tray icon's size that is not all transparent, or an icon name.
func (it *item) checkIcon() {
	it.t.Helper()
	var pixmaps []struct {
		W, H int32
		Pix  []byte
	}
	v, err := it.obj.GetProperty(itemIface + ".IconPixmap")
	if err != nil {
		it.t.Fatal(err)
	}
	if err := dbus.Store([]any{v.Value()}, &pixmaps); err != nil {
		it.t.Fatalf("IconPixmap is %s: %v", v.Signature(), err)
	}
	if len(pixmaps) == 0 {
		if name, _ := it.prop("IconName").(string); name == "" {
			it.t.Fatal("the item has neither an IconPixmap nor an IconName")
		}
		return
	}
	for _, p := range pixmaps {
		opaque := 0
		for i := 0; i+3 < len(p.Pix); i += 4 {
			if p.Pix[i] != 0 {
				opaque++
			}
		}
		switch {
		case p.W != p.H || p.W < 16 || p.W > 256:
			it.t.Errorf("icon pixmap is %d×%d, want a square of 16 to 256 pixels", p.W, p.H)
		case len(p.Pix) != int(p.W*p.H*4):
			it.t.Errorf("icon pixmap of %d×%d has %d bytes, want %d", p.W, p.H, len(p.Pix), p.W*p.H*4)
		case opaque < len(p.Pix)/4/10:
			it.t.Errorf("icon pixmap of %d×%d has %d visible pixels: it is blank", p.W, p.H, opaque)
		default:
			it.t.Logf("icon: %d×%d ARGB, %d visible pixels", p.W, p.H, opaque)
		}
	}
}

// tooltip returns the title of the item's ToolTip, (sa(iiay)ss).
func (it *item) tooltip() string {
	it.t.Helper()
	var tip struct {
		Name   string
		Pixmap []struct {
			W, H int32
			Pix  []byte
		}
		Title, Body string
	}
	v, err := it.obj.GetProperty(itemIface + ".ToolTip")
	if err != nil {
		it.t.Fatal(err)
	}
	if err := dbus.Store([]any{v.Value()}, &tip); err != nil {
		it.t.Fatalf("ToolTip is %s: %v", v.Signature(), err)
	}
	return tip.Title
}

// entry is one menu entry as a tray host shows it.
type entry struct {
	id                 int32
	label              string
	separator, enabled bool
	checkmark, checked bool
	children           []entry
}

// layoutNode is com.canonical.dbusmenu's (ia{sv}av).
type layoutNode struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// layout reads the whole menu with GetLayout.
func (it *item) layout() []entry {
	it.t.Helper()
	var (
		rev  uint32
		root layoutNode
	)
	if err := it.menu.Call(dbusmenu+".GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		it.t.Fatalf("GetLayout: %v", err)
	}
	return it.entries(root.Children)
}

func (it *item) entries(children []dbus.Variant) []entry {
	it.t.Helper()
	var es []entry
	for _, v := range children {
		var n layoutNode
		fields, ok := v.Value().([]any)
		if !ok || dbus.Store(fields, &n.ID, &n.Props, &n.Children) != nil {
			it.t.Fatalf("a menu entry is %T, not (ia{sv}av)", v.Value())
		}
		str := func(k string) string { s, _ := n.Props[k].Value().(string); return s }
		if visible, ok := n.Props["visible"].Value().(bool); ok && !visible {
			continue
		}
		enabled, set := n.Props["enabled"].Value().(bool)
		state, _ := n.Props["toggle-state"].Value().(int32)
		e := entry{
			id:        n.ID,
			label:     str("label"),
			separator: str("type") == "separator",
			enabled:   enabled || !set, // enabled unless said otherwise
			checkmark: str("toggle-type") == "checkmark",
			checked:   state == 1,
		}
		if str("children-display") == "submenu" {
			e.children = it.entries(n.Children)
		}
		es = append(es, e)
	}
	return es
}

// waitMenu reads the menu until ok accepts it, again after each signal
// from the item (LayoutUpdated, ItemsPropertiesUpdated) and at least
// every second, for up to patience.
func (it *item) waitMenu(what string, ok func([]entry) bool) []entry {
	it.t.Helper()
	deadline := time.After(patience)
	for {
		m := it.layout()
		if ok(m) {
			return m
		}
		select {
		case <-it.signals:
		case <-time.After(time.Second):
		case <-deadline:
			it.t.Fatalf("timed out waiting for %s; the menu is:\n%s", what, outline(m))
		}
	}
}

// click sends "clicked" for the entry labelled label.
func (it *item) click(m []entry, label string) {
	it.t.Helper()
	for _, e := range m {
		if e.label != label {
			continue
		}
		call := it.menu.Call(dbusmenu+".Event", 0, e.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
		var derr dbus.Error
		if errors.As(call.Err, &derr) && derr.Name == "org.freedesktop.DBus.Error.NoReply" && label == "Quit" {
			return // Quit may close the connection before the reply is out
		}
		if call.Err != nil {
			it.t.Fatalf("Event clicked %q: %v", label, call.Err)
		}
		return
	}
	it.t.Fatalf("no menu entry %q in:\n%s", label, outline(m))
}

// waitGone waits until the item's connection has left the bus.
func (it *item) waitGone() {
	it.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for {
		var has bool
		if err := it.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, it.dest).Store(&has); err != nil {
			it.t.Fatal(err)
		}
		if !has {
			return
		}
		select {
		case <-ctx.Done():
			it.t.Fatalf("%s is still on the bus", it.dest)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// outline renders a menu one entry a line, as a tray host would show it.
func outline(m []entry) string {
	var b bytes.Buffer
	var walk func([]entry, string)
	walk = func(es []entry, indent string) {
		for _, e := range es {
			b.WriteString(indent)
			switch {
			case e.separator:
				b.WriteString("---\n")
				continue
			case e.checkmark && e.checked:
				b.WriteString("[x] ")
			case e.checkmark:
				b.WriteString("[ ] ")
			}
			b.WriteString(e.label)
			if !e.enabled {
				b.WriteString(" (disabled)")
			}
			b.WriteString("\n")
			walk(e.children, indent+"  ")
		}
	}
	walk(m, "    ")
	return b.String()
}
