//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
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

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/ipc"
)

// insideEnv marks the test binary re-executed inside the harness
// (xvfb-run + dbus-run-session); binEnv names the directory holding the
// xpush and xpushd binaries the outer test built.
const (
	insideEnv = "XPUSH_E2E_INSIDE"
	binEnv    = "XPUSH_E2E_BIN"
)

const (
	catTitle  = "Cat of the day"
	catURI    = "https://example.org/cat.png"
	dogTitle  = "Dog of the day"
	dogURI    = "https://example.org/dog.png"
	user      = "alice"
	userJID   = "alice@localhost"
	patience  = 20 * time.Second // the longest single wait
	outerWait = 3 * time.Minute  // the whole harness run
)

// tools are the programs TestAgent needs, inside and outside the harness.
var tools = []string{
	"go", "xvfb-run", "Xvfb", "dbus-run-session", "dunst", "dunstctl", "busctl",
	"gnome-keyring-daemon", "secret-tool", "import", "xwininfo",
}

// need skips (or, with XPUSH_INTEROP=1, fails) the test when a program is
// missing.
func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("XPUSH_INTEROP") == "1" {
				t.Fatalf("XPUSH_INTEROP=1 but %s is missing: %v", bin, err)
			}
			t.Skipf("%s is not installed", bin)
		}
	}
}

// TestAgent is the tray agent's end-to-end test: xpushd, then
// `xpush --server … --jid … --register` on a private desktop; the
// generated password is in the keyring and in no file; a pushed
// notification becomes a dunst toast, its default action opens exactly
// its link in the (fake) browser, the history window lists it; an agent
// killed with SIGKILL right after a toast restarts with its history and
// does not show that toast again.
//
// The outer run builds the binaries and re-executes this test under
// xvfb-run and dbus-run-session; the inner run (insideEnv set) does the
// rest.
func TestAgent(t *testing.T) {
	if os.Getenv(insideEnv) == "1" {
		inside(t)
		return
	}
	if testing.Short() {
		t.Skip("-short")
	}
	need(t, tools...)
	dir := t.TempDir()
	start := time.Now()
	build(t, dir, "xpush", "..", nil)
	build(t, dir, "xpushd", "../cmd/xpushd", []string{"CGO_ENABLED=0"})
	t.Logf("built xpush and xpushd in %v", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), outerWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xvfb-run", "-a", "-s", "-screen 0 1280x800x24 -nolisten tcp",
		"dbus-run-session", "--",
		os.Args[0], "-test.run", "^TestAgent$", "-test.v", "-test.count=1", "-test.timeout", outerWait.String())
	cmd.Env = append(os.Environ(), insideEnv+"=1", binEnv+"="+dir, "LANG=en_US.UTF-8")
	// xvfb-run and dbus-run-session start process groups of their own
	// children; the whole group goes when the context ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("harness (%v):\n%s", time.Since(start).Round(time.Millisecond), indent(out))
	if err != nil {
		t.Fatalf("the harness failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestAgent")) {
		t.Fatal("the harness did not report TestAgent as passed")
	}
}

// build compiles the package at pkg into dir/name.
func build(t *testing.T, dir, name, pkg string, env []string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

func indent(b []byte) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n    ")
}

// desk is the private desktop of the inner run.
type desk struct {
	t       *testing.T
	root    string // the temporary directory: HOME and everything else
	bin     string // where xpush and xpushd are
	shots   string // where screenshots go
	browser string // the file the fake browser appends to
}

func inside(t *testing.T) {
	need(t, tools[1:]...)
	if os.Getenv("DISPLAY") == "" || os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("inside the harness without DISPLAY or DBUS_SESSION_BUS_ADDRESS")
	}
	start := time.Now()
	d := &desk{t: t, root: t.TempDir(), bin: os.Getenv(binEnv)}
	d.shots = filepath.Join(d.root, "shots")
	if os.Getenv("XPUSH_SCREENSHOTS") == "1" {
		d.shots = filepath.Join("..", "docs", "screenshots")
	}
	d.setEnv()
	d.startKeyring()
	d.startDunst()

	// The server, with an API token.
	data := filepath.Join(d.root, "xpushd")
	token := strings.TrimSpace(d.run("xpushd", "token", "create", "--data", data))
	srv := d.daemon("xpushd", d.cmd("xpushd", "serve", "--data", data, "--no-tls",
		"--c2s", "127.0.0.1:0", "--http", "127.0.0.1:0"))
	ready := srv.waitFor(t, regexp.MustCompile(`serving c2s on (\S+), http on (\S+) `), patience)
	c2s, api := ready[1], ready[2]
	t.Logf("xpushd: c2s %s, http %s", c2s, api)

	// The agent, registering the account with a generated password.
	agentArgs := []string{"-v", "--server", c2s, "--jid", userJID, "--register"}
	agent := d.daemon("xpush", d.cmd("xpush", agentArgs...))
	d.waitOnline(agent)
	t.Logf("agent online after %v", time.Since(start).Round(time.Millisecond))

	// The password is in the keyring, and in no file.
	pw := strings.TrimSpace(d.run("secret-tool", "lookup", "service", "xpush", "username", userJID))
	if len(pw) < 16 {
		t.Fatalf("secret-tool lookup: password %q, want a generated one", pw)
	}
	t.Logf("the keyring holds a %d-character password for %s", len(pw), userJID)
	d.noFileContains(pw)

	// A notification becomes a toast ...
	send(t, api, token, catTitle, catURI)
	d.waitToasts(1)
	toastID := d.windowID("Dunst", 0)
	d.screenshot("agent-toast.png", toastID)
	if n := d.historyCount(catTitle); n != 0 {
		t.Fatalf("the toast is in dunst's history already (%d)", n)
	}

	// ... whose default action opens exactly its link.
	d.run("dunstctl", "action", "0")
	var opened string
	eventually(t, "the fake browser received "+catURI, patience, func() bool {
		b, _ := os.ReadFile(d.browser)
		opened = string(b)
		return opened != ""
	})
	time.Sleep(500 * time.Millisecond) // a second, wrong, opening would be here by now
	if b, _ := os.ReadFile(d.browser); string(b) != catURI+"\n" {
		t.Fatalf("the browser received %q, want exactly %q", b, catURI+"\n")
	}
	t.Logf("the fake browser received %q", catURI)

	// The history lists it, read (it was clicked) ...
	histPath := filepath.Join(d.root, "data", "xpush", "history.db")
	e := d.entry(histPath, catTitle)
	if e.URI != catURI || !e.Read {
		t.Errorf("history entry %+v: want uri %s, read", e, catURI)
	}
	// ... and so does the history window.
	win := d.daemon("xpush window", d.cmd("xpush", "window", "history"))
	winID := d.windowID("xpush: notifications", patience)
	time.Sleep(2 * time.Second) // let Fyne draw its first frames
	d.screenshot("agent-history.png", winID)
	win.stop()

	// A second notification; the agent is killed right after its toast.
	before := d.toastsShown()
	send(t, api, token, dogTitle, dogURI)
	eventually(t, "the second toast", patience, func() bool { return d.toastsShown() > before })
	agent.kill()
	t.Logf("agent killed with SIGKILL right after the toast of %q", dogTitle)
	shown := d.toastsShown()

	// Restarted, it has both in its history and shows neither again.
	agent = d.daemon("xpush", d.cmd("xpush", agentArgs...))
	d.waitOnline(agent)
	time.Sleep(3 * time.Second) // a redelivered notification would be toasted by now
	if got := d.toastsShown(); got != shown {
		t.Errorf("after the restart dunst has seen %d toasts, want still %d", got, shown)
	}
	d.run("dunstctl", "close-all")
	for _, title := range []string{catTitle, dogTitle} {
		if n := d.historyCount(title); n != 1 {
			t.Errorf("dunst showed %q %d times, want once", title, n)
		}
		d.entry(histPath, title)
	}
	d.noFileContains(pw)
	t.Logf("inner run took %v", time.Since(start).Round(time.Millisecond))
}

// setEnv gives this process, and so every program it starts, a private
// home, XDG directories, a fake browser and a UTF-8 locale.
func (d *desk) setEnv() {
	t := d.t
	dirs := map[string]string{
		"HOME":            "home",
		"XDG_CONFIG_HOME": "config",
		"XDG_DATA_HOME":   "data",
		"XDG_CACHE_HOME":  "cache",
		"XDG_STATE_HOME":  "state",
		"XDG_RUNTIME_DIR": "run",
	}
	for env, sub := range dirs {
		p := filepath.Join(d.root, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv(env, p)
	}
	d.browser = filepath.Join(d.root, "browser.log")
	fake := filepath.Join(d.root, "fake-browser")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + d.browser + "'\n"
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROWSER", fake)
	t.Setenv("LANG", "en_US.UTF-8")
	t.Setenv("LC_ALL", "")
	t.Setenv("PATH", d.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// startKeyring starts gnome-keyring-daemon's Secret Service, its login
// keyring created and unlocked with a password on stdin.
func (d *desk) startKeyring() {
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Stdin = strings.NewReader("pw")
	d.daemon("gnome-keyring-daemon", cmd)
	d.waitBusName("org.freedesktop.secrets")
}

// startDunst starts dunst with a fixed geometry, toasts that stay until
// clicked or closed, and its history long enough for the test.
func (d *desk) startDunst() {
	rc := filepath.Join(d.root, "dunstrc")
	conf := `[global]
    font = DejaVu Sans 11
    markup = full
    width = 420
    height = 150
    origin = top-right
    offset = 24x24
    padding = 12
    horizontal_padding = 14
    frame_width = 2
    frame_color = "#3d7dd8"
    separator_height = 2
    gap_size = 6
    icon_position = left
    min_icon_size = 48
    max_icon_size = 48
    history_length = 50
    sticky_history = yes
    show_indicators = no
[urgency_low]
    background = "#1f2430"
    foreground = "#e6e6e6"
    timeout = 0
[urgency_normal]
    background = "#1f2430"
    foreground = "#e6e6e6"
    timeout = 0
[urgency_critical]
    background = "#4a1f1f"
    foreground = "#ffffff"
    timeout = 0
`
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		d.t.Fatal(err)
	}
	d.daemon("dunst", exec.Command("dunst", "-config", rc))
	d.waitBusName("org.freedesktop.Notifications")
}

// waitBusName waits until name has an owner on the session bus.
func (d *desk) waitBusName(name string) {
	eventually(d.t, name+" on the session bus", patience, func() bool {
		out, err := exec.Command("busctl", "--user", "status", name).CombinedOutput()
		return err == nil && len(out) > 0
	})
}

// waitOnline waits until the agent says, over its control socket, that
// it is online.
func (d *desk) waitOnline(agent *proc) {
	sock, err := ipc.DefaultPath()
	if err != nil {
		d.t.Fatal(err)
	}
	var st control.Status
	eventually(d.t, "the agent online", patience, func() bool {
		if agent.exited() {
			d.t.Fatalf("the agent exited:\n%s", agent.out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err = ipc.Dial(sock).Status(ctx)
		return err == nil && st.State == control.StateOnline
	})
}

// noFileContains fails if a file under the temporary directory (home,
// XDG directories, the server's data) holds secret.
func (d *desk) noFileContains(secret string) {
	n := 0
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n++
		if bytes.Contains(b, []byte(secret)) {
			d.t.Errorf("%s contains the password", p)
		}
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Logf("the password is in none of the %d files under the test's home and data", n)
}

// toastsShown is how many toasts dunst has shown: displayed, waiting and
// in its history.
func (d *desk) toastsShown() int {
	n := 0
	for _, what := range []string{"displayed", "waiting", "history"} {
		var c int
		fmt.Sscan(d.run("dunstctl", "count", what), &c)
		n += c
	}
	return n
}

// waitToasts waits until dunst displays n toasts.
func (d *desk) waitToasts(n int) {
	eventually(d.t, fmt.Sprintf("%d toasts displayed", n), patience, func() bool {
		var c int
		fmt.Sscan(d.run("dunstctl", "count", "displayed"), &c)
		return c >= n
	})
}

// historyCount is how many toasts titled title are in dunst's history.
func (d *desk) historyCount(title string) int {
	var hist struct {
		Data [][]map[string]struct {
			Data any `json:"data"`
		} `json:"data"`
	}
	out := d.run("dunstctl", "history")
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		d.t.Fatalf("dunstctl history: %v: %s", err, out)
	}
	n := 0
	for _, list := range hist.Data {
		for _, e := range list {
			if e["summary"].Data == title {
				n++
			}
		}
	}
	return n
}

// entry returns the history entry titled title, read from the agent's
// history file as the history window reads it.
func (d *desk) entry(path, title string) history.Entry {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	h, err := history.Open(ctx, path, history.Options{})
	if err != nil {
		d.t.Fatal(err)
	}
	defer h.Close()
	list, err := h.List(ctx, history.Query{})
	if err != nil {
		d.t.Fatal(err)
	}
	var found []history.Entry
	for _, e := range list {
		if e.Title == title {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		d.t.Fatalf("the history has %d entries titled %q, want 1: %+v", len(found), title, list)
	}
	return found[0]
}

// windowID waits up to wait for a top-level window named name and returns
// its id ("root" for none when wait is 0).
func (d *desk) windowID(name string, wait time.Duration) string {
	re := regexp.MustCompile(`^\s*(0x[0-9a-f]+) "` + regexp.QuoteMeta(name) + `[^"]*":`)
	id := ""
	find := func() bool {
		out, _ := exec.Command("xwininfo", "-root", "-tree").Output()
		for line := range strings.SplitSeq(string(out), "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				id = m[1]
				return true
			}
		}
		return false
	}
	if wait == 0 {
		if !find() {
			return "root"
		}
		return id
	}
	eventually(d.t, "a window named "+name, wait, find)
	return id
}

// screenshot saves window id (or "root") as d.shots/name, and fails if
// it is one flat colour.
func (d *desk) screenshot(name, id string) {
	if err := os.MkdirAll(d.shots, 0o755); err != nil {
		d.t.Fatal(err)
	}
	p := filepath.Join(d.shots, name)
	d.run("import", "-window", id, "-strip", p)
	f, err := os.Open(p)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		d.t.Fatalf("%s: %v", p, err)
	}
	if flat(img) {
		d.t.Errorf("%s is one flat colour", p)
	}
	abs, _ := filepath.Abs(p)
	d.t.Logf("screenshot of window %s: %s (%v)", id, abs, img.Bounds().Size())
}

func flat(img image.Image) bool {
	b := img.Bounds()
	r0, g0, b0, _ := img.At(b.Min.X, b.Min.Y).RGBA()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			if r, g, bb, _ := img.At(x, y).RGBA(); r != r0 || g != g0 || bb != b0 {
				return false
			}
		}
	}
	return true
}

// send posts a notification to alice through the HTTP API.
func send(t *testing.T, api, token, title, uri string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"to": []string{user}, "title": title, "message": "pushed by the e2e test", "uri": uri})
	req, _ := http.NewRequest(http.MethodPost, api+"/api/v1/notifications", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %s %s", body, resp.Status, b)
	}
	t.Logf("sent %q: %s", title, strings.TrimSpace(string(b)))
}

// cmd is an exec.Cmd for program name, found on PATH (d.bin first).
func (d *desk) cmd(name string, args ...string) *exec.Cmd {
	return exec.Command(name, args...)
}

// run runs a program to its end, within patience, and returns its
// standard output; it fails the test if the program fails.
func (d *desk) run(name string, args ...string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		d.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// proc is a program running in the background.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *buffer
	done chan struct{}
}

// daemon starts cmd in the background, its output kept (and logged when
// the test fails); cleanup kills it.
func (d *desk) daemon(name string, cmd *exec.Cmd) *proc {
	t := d.t
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s", name, indent([]byte(p.out.String())))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the end.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// stop sends SIGTERM, then SIGKILL after 5 seconds.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.kill()
	}
}

// waitFor waits until the output has a line matching re and returns the
// submatches.
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp, wait time.Duration) []string {
	t.Helper()
	var m []string
	eventually(t, fmt.Sprintf("%s to print %s", p.name, re), wait, func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		for sc.Scan() {
			if m = re.FindStringSubmatch(sc.Text()); m != nil {
				return true
			}
		}
		if p.exited() {
			t.Fatalf("%s exited:\n%s", p.name, p.out)
		}
		return false
	})
	return m
}

// eventually polls cond every 100 ms until it holds, failing the test
// after wait.
func eventually(t *testing.T, what string, wait time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
