//go:build linux

package tray

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/assets"
	"github.com/xpush/xpush/internal/dbustest"
)

// TestNoBus: without a session bus there is no tray; Run says why, calls
// OnReady, reads statuses and returns when its context ends.
func TestNoBus(t *testing.T) {
	for _, tt := range []struct{ addr, why string }{
		{"", "DBUS_SESSION_BUS_ADDRESS is not set"},
		{"unix:path=" + filepath.Join(t.TempDir(), "none"), "does not answer"},
	} {
		t.Run(tt.why, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", tt.addr)
			var logs dbustest.SyncBuffer
			status := make(chan control.Status) // unbuffered: each send needs a reader
			ready := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, Options{
					OnReady: func() { close(ready) },
					Status:  status,
					Log:     slog.New(slog.NewTextHandler(&logs, nil)),
				})
			}()
			<-ready
			for range 3 {
				status <- control.Status{State: control.StateOnline}
			}
			close(status)
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			if !strings.Contains(logs.String(), "without a tray icon") || !strings.Contains(logs.String(), tt.why) {
				t.Errorf("log %q does not say why there is no tray", logs.String())
			}
		})
	}
}

// TestStatusNotifierItem runs the tray on a private session bus, reads its
// menu the way a tray host does (com.canonical.dbusmenu GetLayout on the
// item's Menu path), clicks entries (Event "clicked") and checks the
// actions, updates and Quit; a second run ends by its context.
//
// It runs when dbus-daemon is installed, and fails without it when
// XPUSH_INTEROP=1.
//
// fyne.io/systray starts once per process, and its first GetLayout races
// with a refresh it schedules itself (systray_menu_unix.go: GetLayout reads
// menuVersion under menuLock while the goroutine it starts writes it under
// another lock). So the tray runs in a child process, this test binary
// again (see TestMain), fed statuses on stdin and reporting actions on
// stdout. Under -race the child writes its race reports to files: one in
// xpush's code fails the test, ones inside systray alone are logged.
func TestStatusNotifierItem(t *testing.T) {
	dbustest.Require(t, "dbus-daemon")
	addr := dbustest.StartSessionBus(t)
	host, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	registered := startWatcher(t, host)

	t.Run("quit", func(t *testing.T) {
		c := startChild(t, addr)
		c.send(control.Status{State: control.StateOnline, JID: "alice@example.org/xpush-1", Unread: 3})
		c.expect("ready")
		item := waitItem(t, host, registered, c.pid())

		for prop, want := range map[string]any{
			"Id":       "xpush",
			"Title":    "xpush",
			"Status":   "Active",
			"Category": "ApplicationStatus",
			"Menu":     dbus.ObjectPath("/StatusNotifierItem/menu"),
		} {
			if got := item.prop(prop); got != want {
				t.Errorf("item property %s = %#v, want %#v", prop, got, want)
			}
		}

		// The menu as the first status shows it.
		item.waitMenu(menuText("Connected as alice@example.org", "Open history (3 unread)", "Pause notifications", no, no, on))
		item.waitTooltip("xpush: Connected as alice@example.org, 3 unread")
		item.waitIcon(assets.Tray2x(control.StateOnline, false, true))

		// Clicks.
		item.click("Open history (3 unread)")
		c.expect("show history")
		item.click("Settings…")
		c.expect("show settings")
		item.click("Account…")
		c.expect("show account")
		item.click("For 1 hour")
		c.expect("dnd until 2026-03-10 15:00:00")
		// The tray shows the choice before the agent confirms it.
		item.waitMenu(menuText("Connected as alice@example.org", "Open history (3 unread)", "Paused until 15:00", on, no, no))
		item.waitIcon(assets.Tray2x(control.StateOnline, true, true))
		item.click("Off")
		c.expect("dnd off")

		// A new status changes labels, tooltip and icon.
		c.send(control.Status{State: control.StateOffline, Reason: "Wrong user name or password."})
		item.waitMenu(menuText("Offline: Wrong user name or password.", "Open history", "Pause notifications", no, no, on))
		item.waitTooltip("xpush: Offline: Wrong user name or password.")
		item.waitIcon(assets.Tray2x(control.StateOffline, false, false))

		// Quit ends Run and takes the item off the bus; the tray starts
		// once per process.
		item.click("Quit")
		c.expect("quit")
		c.expect("returned <nil>")
		c.expect("second run: " + errRan.Error())
		c.wait()
		item.waitGone()
	})

	// A tray host can come later: the item registers when a watcher
	// appears. Then the context ends Run.
	t.Run("watcher_later", func(t *testing.T) {
		if _, err := host.ReleaseName(watcherName); err != nil {
			t.Fatal(err)
		}
		c := startChild(t, addr)
		c.send(control.Status{State: control.StateConnecting})
		c.expect("ready")
		// The item watches for the watcher's name from a goroutine of its
		// own that may not listen yet: take the name until it registers.
		var reg registration
		for attempt := 1; reg.sender == ""; attempt++ {
			ownWatcher(t, host)
			select {
			case reg = <-registered:
			case <-time.After(time.Second):
				if attempt == 5 {
					t.Fatal("the item did not register with a watcher that came later")
				}
				if _, err := host.ReleaseName(watcherName); err != nil {
					t.Fatal(err)
				}
			}
		}
		item := itemOf(t, host, reg, c.pid())
		item.waitMenu(menuText("Connecting…", "Open history", "Pause notifications", no, no, on))
		item.waitIcon(assets.Tray2x(control.StateConnecting, false, false))
		c.line("cancel")
		c.expect("returned <nil>")
		c.wait()
		item.waitGone()
	})
}

// The child process: TestMain runs trayChild instead of the tests when
// this is set.
const childEnv = "XPUSH_TRAY_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(trayChild())
	}
	os.Exit(m.Run())
}

// trayChild runs the tray at the fixed clock (14:00 on 10 March 2026,
// UTC+1). It reads statuses as JSON lines from stdin ("cancel" ends the
// context) and writes a line to stdout for "ready", each action, Run's
// return and a second Run's error.
func trayChild() int {
	out := make(chan string, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for l := range out {
			fmt.Println(l)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	status := make(chan control.Status)
	go func() {
		defer close(status)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if sc.Text() == "cancel" {
				cancel()
				return
			}
			var s control.Status
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				continue
			}
			select {
			case status <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	err := Run(ctx, Options{
		OnReady: func() { out <- "ready" },
		Status:  status,
		Now:     func() time.Time { return now },
		Actions: Actions{
			ShowWindow: func(name string) { out <- "show " + name },
			SetDND: func(until time.Time) {
				if until.IsZero() {
					out <- "dnd off"
					return
				}
				out <- "dnd until " + until.Format(time.DateTime)
			},
			Quit: func() { out <- "quit" },
		},
	})
	cancel()
	out <- fmt.Sprintf("returned %v", err)
	out <- fmt.Sprintf("second run: %v", Run(context.Background(), Options{}))
	close(out)
	wg.Wait()
	return 0
}

// child is a tray child process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	races string // GORACE log_path prefix
	done  chan struct{}
}

func startChild(t *testing.T, addr string) *child {
	t.Helper()
	// GORACE splits its options at spaces, commas and colons, which a
	// t.TempDir path (named after the test) may hold.
	dir, err := os.MkdirTemp("", "xpush-tray-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &child{t: t, lines: make(chan string, 64), races: filepath.Join(dir, "race"), done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(),
		childEnv+"=1",
		"DBUS_SESSION_BUS_ADDRESS="+addr,
		"GORACE=exitcode=0 log_path="+c.races,
	)
	var stderr dbustest.SyncBuffer
	c.cmd.Stderr = &stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	go func() {
		c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Error("the tray child did not exit; killing it")
			c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr.String())
		}
		c.checkRaces()
	})
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) line(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, s+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *child) send(s control.Status) {
	c.t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		c.t.Fatal(err)
	}
	c.line(string(b))
}

// expect waits for the child's next line.
func (c *child) expect(want string) {
	c.t.Helper()
	select {
	case got, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("the child ended, want %q", want)
		}
		if got != want {
			c.t.Fatalf("the child says %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		c.t.Fatalf("the child did not say %q within 5s", want)
	}
}

// wait waits for the child to exit, successfully.
func (c *child) wait() {
	c.t.Helper()
	select {
	case <-c.done:
		if !c.cmd.ProcessState.Success() {
			c.t.Errorf("the child exited with %v", c.cmd.ProcessState)
		}
	case <-time.After(5 * time.Second):
		c.t.Fatal("the child did not exit within 5s of Run returning")
	}
}

// checkRaces reads the child's race reports (under -race): one that
// passes through xpush's code fails the test; the others are in
// fyne.io/systray alone and are logged.
func (c *child) checkRaces() {
	files, _ := filepath.Glob(c.races + ".*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			c.t.Error(err)
			continue
		}
		for _, report := range strings.Split(string(b), "==================") {
			if !strings.Contains(report, "DATA RACE") {
				continue
			}
			if strings.Contains(report, "github.com/xpush/xpush/") {
				c.t.Errorf("data race in the tray child:\n%s", report)
				continue
			}
			c.t.Logf("data race inside fyne.io/systray alone (not xpush's code): %s", raceSummary(report))
		}
	}
}

// raceSummary names the two accesses of a race report by their
// innermost functions: "write in fyne.io/systray.refresh(), previous read
// in fyne.io/systray.(*tray).GetLayout()".
func raceSummary(report string) string {
	lines := strings.Split(report, "\n")
	var parts []string
	for i, l := range lines {
		l = strings.TrimSpace(l)
		for _, access := range []string{"Write at", "Read at", "Previous write at", "Previous read at"} {
			if strings.HasPrefix(l, access) && i+1 < len(lines) {
				what := strings.ToLower(strings.TrimSuffix(access, " at"))
				parts = append(parts, what+" in "+strings.TrimSpace(lines[i+1]))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// waitItem waits for the child's item to register with the watcher and
// returns a client for it.
func waitItem(t *testing.T, host *dbus.Conn, registered <-chan registration, pid int) *itemClient {
	t.Helper()
	select {
	case reg := <-registered:
		return itemOf(t, host, reg, pid)
	case <-time.After(5 * time.Second):
		t.Fatal("the item did not register with the StatusNotifierWatcher")
	}
	return nil
}

// itemOf returns a client for the registered item of the child pid.
func itemOf(t *testing.T, host *dbus.Conn, reg registration, pid int) *itemClient {
	t.Helper()
	// systray registers its object path; the host takes the sender's name.
	if reg.service != "/StatusNotifierItem" {
		t.Errorf("registered service %q, want the object path /StatusNotifierItem", reg.service)
	}
	item := newItemClient(t, host, reg.sender, dbus.ObjectPath(reg.service))
	item.wellKnown = fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", pid)
	var owner string
	if err := host.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, item.wellKnown).Store(&owner); err != nil || owner != item.dest {
		t.Errorf("%s is owned by %q (%v), want %s", item.wellKnown, owner, err, item.dest)
	}
	return item
}

type registration struct{ sender, service string }

// watcher is a minimal org.kde.StatusNotifierWatcher: it takes
// registrations and passes them on.
type watcher struct{ reg chan registration }

func (w watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	select {
	case w.reg <- registration{string(sender), service}:
	default:
	}
	return nil
}

const watcherName = "org.kde.StatusNotifierWatcher"

// startWatcher exports a watcher on conn and takes its name; registrations
// come on the channel.
func startWatcher(t *testing.T, conn *dbus.Conn) <-chan registration {
	t.Helper()
	w := watcher{reg: make(chan registration, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", watcherName); err != nil {
		t.Fatal(err)
	}
	ownWatcher(t, conn)
	return w.reg
}

func ownWatcher(t *testing.T, conn *dbus.Conn) {
	t.Helper()
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v (reply %d)", watcherName, err, reply)
	}
}

// itemClient reads and clicks a StatusNotifierItem as a tray host does.
type itemClient struct {
	t         *testing.T
	conn      *dbus.Conn
	dest      string // the item's unique bus name
	wellKnown string // org.kde.StatusNotifierItem-PID-1
	item      dbus.BusObject
	menu      dbus.BusObject
	signals   chan *dbus.Signal
}

func newItemClient(t *testing.T, conn *dbus.Conn, dest string, path dbus.ObjectPath) *itemClient {
	c := &itemClient{t: t, conn: conn, dest: dest, item: conn.Object(dest, path), signals: make(chan *dbus.Signal, 64)}
	menuPath, ok := c.prop("Menu").(dbus.ObjectPath)
	if !ok {
		t.Fatalf("the item has no Menu path")
	}
	c.menu = conn.Object(dest, menuPath)
	if err := conn.AddMatchSignal(dbus.WithMatchSender(dest)); err != nil {
		t.Fatal(err)
	}
	conn.Signal(c.signals)
	t.Cleanup(func() { conn.RemoveSignal(c.signals) })
	return c
}

func (c *itemClient) prop(name string) any {
	c.t.Helper()
	v, err := c.item.GetProperty("org.kde.StatusNotifierItem." + name)
	if err != nil {
		c.t.Fatalf("property %s: %v", name, err)
	}
	return v.Value()
}

// waitFor calls check until it returns "" or 5 seconds pass, again after
// each signal from the item (LayoutUpdated, NewIcon, NewToolTip, ...).
func (c *itemClient) waitFor(what string, check func() string) {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		diff := check()
		if diff == "" {
			return
		}
		select {
		case <-c.signals:
		case <-deadline:
			c.t.Fatalf("%s: %s", what, diff)
		}
	}
}

func (c *itemClient) waitMenu(want string) {
	c.t.Helper()
	c.waitFor("menu", func() string {
		if got := outline(c.layout()); got != want {
			return fmt.Sprintf("got\n%s\nwant\n%s", got, want)
		}
		return ""
	})
}

func (c *itemClient) waitTooltip(want string) {
	c.t.Helper()
	c.waitFor("tooltip", func() string {
		var tip struct {
			Name   string
			Pixmap []struct {
				W, H int32
				Pix  []byte
			}
			Title, Body string
		}
		v, err := c.item.GetProperty("org.kde.StatusNotifierItem.ToolTip")
		if err != nil {
			return err.Error()
		}
		if err := dbus.Store([]any{v.Value()}, &tip); err != nil {
			return err.Error()
		}
		if tip.Title != want {
			return fmt.Sprintf("%q, want %q", tip.Title, want)
		}
		return ""
	})
}

// waitIcon waits for the item's pixmap to be the PNG's pixels, in the
// ARGB order of the StatusNotifierItem protocol, converted as
// fyne.io/systray does it (see argb).
func (c *itemClient) waitIcon(pngData []byte) {
	c.t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		c.t.Fatal(err)
	}
	want := argb(img)
	c.waitFor("icon", func() string {
		var pixmaps []struct {
			W, H int32
			Pix  []byte
		}
		v, err := c.item.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
		if err != nil {
			return err.Error()
		}
		if err := dbus.Store([]any{v.Value()}, &pixmaps); err != nil {
			return err.Error()
		}
		if len(pixmaps) != 1 {
			return fmt.Sprintf("%d pixmaps", len(pixmaps))
		}
		p := pixmaps[0]
		if int(p.W) != img.Bounds().Dx() || int(p.H) != img.Bounds().Dy() || !bytes.Equal(p.Pix, want) {
			return fmt.Sprintf("a %d×%d pixmap, not the expected icon", p.W, p.H)
		}
		return ""
	})
}

// argb converts an image to StatusNotifierItem pixels the way
// fyne.io/systray's argbForImage does: the low byte of each premultiplied
// 16-bit channel. (The protocol wants straight alpha, so anti-aliased
// edges come out a little dark; opaque pixels are exact.)
func argb(img image.Image) []byte {
	var b []byte
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, ca := img.At(x, y).RGBA()
			b = append(b, byte(ca), byte(cr), byte(cg), byte(cb))
		}
	}
	return b
}

// waitGone waits until the item's connection has left the bus, and with
// it the well-known name.
func (c *itemClient) waitGone() {
	c.t.Helper()
	gone := make(chan *dbus.Signal, 8)
	match := []dbus.MatchOption{
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, c.dest),
	}
	if err := c.conn.AddMatchSignal(match...); err != nil {
		c.t.Fatal(err)
	}
	c.conn.Signal(gone)
	defer func() {
		c.conn.RemoveSignal(gone)
		c.conn.RemoveMatchSignal(match...)
	}()
	owned := func(name string) bool {
		var has bool
		err := c.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		if err != nil {
			c.t.Fatal(err)
		}
		return has
	}
	deadline := time.After(5 * time.Second)
	for owned(c.dest) {
		select {
		case <-gone:
		case <-deadline:
			c.t.Fatalf("%s is still on the bus", c.dest)
		}
	}
	if owned(c.wellKnown) {
		c.t.Errorf("%s is still owned", c.wellKnown)
	}
}

// layoutNode is com.canonical.dbusmenu's (ia{sv}av).
type layoutNode struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// layout reads the whole menu and returns it as Items, with the D-Bus ids
// as Item IDs (separators get 0).
func (c *itemClient) layout() []Item {
	c.t.Helper()
	var (
		rev  uint32
		root layoutNode
	)
	err := c.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root)
	if err != nil {
		c.t.Fatalf("GetLayout: %v", err)
	}
	return c.items(root.Children)
}

func (c *itemClient) items(children []dbus.Variant) []Item {
	c.t.Helper()
	var items []Item
	for _, v := range children {
		var n layoutNode
		fields, ok := v.Value().([]any)
		if !ok || dbus.Store(fields, &n.ID, &n.Props, &n.Children) != nil {
			c.t.Fatalf("a menu child is %T, not (ia{sv}av)", v.Value())
		}
		str := func(k string) string { s, _ := n.Props[k].Value().(string); return s }
		if visible, ok := n.Props["visible"].Value().(bool); ok && !visible {
			continue
		}
		if str("type") == "separator" {
			items = append(items, Item{})
			continue
		}
		enabled, ok := n.Props["enabled"].Value().(bool)
		state, _ := n.Props["toggle-state"].Value().(int32)
		it := Item{
			ID:        ItemID(n.ID),
			Label:     str("label"),
			Enabled:   enabled || !ok, // the default is enabled
			Checkable: str("toggle-type") == "checkmark",
			Checked:   state == 1,
		}
		if str("children-display") == "submenu" {
			it.Children = c.items(n.Children)
		}
		items = append(items, it)
	}
	return items
}

// click sends "clicked" for the entry with this label.
func (c *itemClient) click(label string) {
	c.t.Helper()
	var find func([]Item) (ItemID, bool)
	find = func(items []Item) (ItemID, bool) {
		for _, it := range items {
			if it.Label == label {
				return it.ID, true
			}
			if id, ok := find(it.Children); ok {
				return id, true
			}
		}
		return 0, false
	}
	id, ok := find(c.layout())
	if !ok {
		c.t.Fatalf("no menu entry %q", label)
	}
	call := c.menu.Call("com.canonical.dbusmenu.Event", 0, int32(id), "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
	var dbusErr dbus.Error
	if errors.As(call.Err, &dbusErr) && dbusErr.Name == "org.freedesktop.DBus.Error.NoReply" && label == labelQuit {
		// Quit closes the connection, at times before the reply is out.
		return
	}
	if call.Err != nil {
		c.t.Fatalf("Event clicked %q: %v", label, call.Err)
	}
}
