//go:build linux

package toast

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/xpush/xpush/internal/dbustest"
)

// TestDunst posts a toast to a real notification daemon, dunst, on a
// private session bus (and a private X display when there is none), clicks
// it with dunstctl and expects the click on Clicks.
//
// It runs when dbus-daemon, dunst and dunstctl (and Xvfb without $DISPLAY)
// are installed, and fails instead of skipping without them when
// XPUSH_INTEROP=1.
func TestDunst(t *testing.T) {
	need := []string{"dbus-daemon", "dunst", "dunstctl", "dbus-send"}
	display := os.Getenv("DISPLAY")
	if display == "" {
		need = append(need, "Xvfb")
	}
	dbustest.Require(t, need...)
	dir := t.TempDir()
	if display == "" {
		display = startXvfb(t, dir)
	}
	addr := dbustest.StartSessionBus(t)
	startDunst(t, dir, addr, display)

	icon := filepath.Join(dir, "xpush.png")
	writeIcon(t, icon)
	logs := &logBuffer{wrote: make(chan struct{}, 1)}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fallback := func(context.Context, Toast) error {
		t.Error("the fallback was used")
		return nil
	}
	n := newDBus("xpush", icon, log, dialSession(addr), fallback)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("notifier log:\n%s", logs)
		}
	})
	t.Cleanup(func() { n.Close() })

	const (
		title = "Build <i>finished</i> & more"
		body  = "main is green <b>&</b> deployed"
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Show(ctx, Toast{Key: "note-42", Title: title, Body: body, HasLink: true}); err != nil {
		t.Fatal(err)
	}

	// dunst announces nothing when it shows a notification: ask until it
	// does, for a bounded time.
	env := append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr)
	var displayed string
	for deadline := time.Now().Add(5 * time.Second); ; {
		displayed = dunstctl(t, env, "count", "displayed")
		if displayed == "1" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("dunstctl count displayed: %s", displayed)
	if displayed != "1" {
		t.Fatalf("dunst displays %q notifications, want 1", displayed)
	}

	dunstctl(t, env, "action", "0")
	select {
	case key := <-n.Clicks():
		if key != "note-42" {
			t.Fatalf("click = %q, want note-42", key)
		}
		t.Logf("Clicks() yielded %q", key)
	case <-time.After(5 * time.Second):
		t.Fatal("no click within 5s of dunstctl action 0")
	}

	// After the click the notifier closed the notification (dunstctl's
	// action leaves it open): it is in dunst's history, with our title,
	// body and application name, and forgotten by the notifier.
	logs.waitFor(t, "toast: closed")
	if got := dunstctl(t, env, "count", "displayed"); got != "0" {
		t.Errorf("still displayed after the click: %s", got)
	}
	// dunstctl history is busctl calling NotificationListHistory; busctl
	// comes with systemd, which a test machine may lack, so the assertions
	// make the same call themselves.
	if _, err := exec.LookPath("busctl"); err == nil {
		t.Logf("dunstctl history:\n%s", dunstctl(t, env, "history"))
	}
	hist := dunstHistory(t, addr)
	if len(hist) != 1 {
		t.Fatalf("dunst history has %d notifications, want 1", len(hist))
	}
	// With markup = full, dunst announces body-markup and reads the body
	// as Pango markup, so the notifier escaped it; the summary is plain
	// text, which dunst escapes itself.
	want := map[string]string{
		"summary":             title,
		"body":                "main is green &lt;b&gt;&amp;&lt;/b&gt; deployed",
		"appname":             "xpush",
		"icon_path":           icon,
		"default_action_name": "default",
	}
	for field, want := range want {
		if v, _ := hist[0][field].Value().(string); v != want {
			t.Errorf("history %s = %q, want %q", field, v, want)
		}
	}
	n.mu.Lock()
	tracked := n.ids.len()
	n.mu.Unlock()
	if tracked != 0 {
		t.Errorf("%d ids still tracked after NotificationClosed", tracked)
	}

	if err := n.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, ok := <-n.Clicks(); ok {
		t.Error("Clicks open after Close")
	}

	// New finds the bus through $DBUS_SESSION_BUS_ADDRESS, as the agent does.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	agent := New("xpush", icon, log)
	if err := agent.Show(ctx, Toast{Key: "note-43", Title: "second"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "key=note-43") {
		t.Error("New did not post through D-Bus")
	}
	if err := agent.Close(); err != nil {
		t.Error(err)
	}
}

// TestNoSessionBus: without a bus, New falls back to beeep, says why once,
// and Show reports that nothing could show the toast (beeep fails too:
// same bus, and no notify-send or kdialog on the emptied PATH).
func TestNoSessionBus(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-bus"))
	t.Setenv("PATH", dir)
	logs := &logBuffer{wrote: make(chan struct{}, 1)}
	n := New("xpush", "", slog.New(slog.NewTextHandler(logs, nil)))
	defer n.Close()
	for range 2 {
		err := n.Show(context.Background(), Toast{Key: "k", Title: "t"})
		if err == nil || !strings.Contains(err.Error(), "no D-Bus notification service") || !strings.Contains(err.Error(), "beeep") {
			t.Errorf("Show = %v", err)
		}
	}
	if c := strings.Count(logs.String(), "no D-Bus notification service"); c != 1 {
		t.Errorf("logged %d times, want once:\n%s", c, logs)
	}
}

// dunstHistory returns dunst's history, newest first, as dunstctl history
// gets it.
func dunstHistory(t *testing.T, addr string) []map[string]dbus.Variant {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var hist []map[string]dbus.Variant
	err = conn.Object(fdoName, fdoPath).CallWithContext(ctx, "org.dunstproject.cmd0.NotificationListHistory", 0).Store(&hist)
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

func dunstctl(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dunstctl", args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dunstctl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// daemon starts cmd and registers its end with t.Cleanup: killed, then
// waited for. Its output goes to a buffer logged if the test fails.
func daemon(t *testing.T, cmd *exec.Cmd) *dbustest.SyncBuffer {
	t.Helper()
	out := &dbustest.SyncBuffer{}
	if cmd.Stdout == nil {
		cmd.Stdout = out
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out)
		}
	})
	return out
}

// readLine reads the first line from r within 10 seconds.
func readLine(t *testing.T, what string, r io.Reader) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "" {
			t.Fatalf("%s exited without saying where it listens", what)
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not start within 10s", what)
		return ""
	}
}

// startXvfb starts a private X server on a free display, which Xvfb picks
// itself (-displayfd), and returns its $DISPLAY.
func startXvfb(t *testing.T, dir string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "800x600x24")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Dir = dir
	daemon(t, cmd)
	w.Close()
	return ":" + readLine(t, "Xvfb", r)
}

// startDunst starts dunst on the bus at addr and the X display, with a
// configuration of its own, and waits until it owns the notification name.
func startDunst(t *testing.T, dir, addr, display string) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sigs := make(chan *dbus.Signal, 8)
	conn.Signal(sigs)
	if err := conn.AddMatchSignal(
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, fdoName),
	); err != nil {
		t.Fatal(err)
	}

	rc := filepath.Join(dir, "dunstrc")
	if err := os.WriteFile(rc, []byte("[global]\n    font = Monospace 8\n    markup = full\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dunst", "-config", rc)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR=" + dir,
		"DISPLAY=" + display,
		"DBUS_SESSION_BUS_ADDRESS=" + addr,
		"LANG=C.UTF-8",
	}
	out := daemon(t, cmd)

	var owned bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, fdoName).Store(&owned); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for !owned {
		select {
		case s := <-sigs:
			if len(s.Body) == 3 && s.Body[2] != "" {
				owned = true
			}
		case <-timeout:
			t.Fatalf("dunst did not take %s within 10s:\n%s", fdoName, out)
		}
	}
}

func writeIcon(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for x := range 32 {
		for y := range 32 {
			img.Set(x, y, color.RGBA{R: 0x20, G: 0x80, B: 0xd0, A: 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
