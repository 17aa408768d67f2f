package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/faultproxy"
	"github.com/xpush/xpush/internal/testserver"
	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
)

// End-to-end tests: a third-party XMPP client against xpushd serve, and
// the real binary killed with SIGKILL between accepting a notification
// and delivering it.

// e2ePatience bounds every wait for a server or a client.
const e2ePatience = 15 * time.Second

// e2eWeb talks to servers that these tests kill: no connection is kept.
var e2eWeb = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// e2eDo makes an API request and returns the status and body.
func e2eDo(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e2eWeb.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// e2eSend posts a notification and returns its id; it wants 202.
func e2eSend(t *testing.T, httpAddr, token string, req api.Request) string {
	t.Helper()
	body, _ := json.Marshal(req)
	code, b := e2eDo(t, http.MethodPost, "http://"+httpAddr+"/api/v1/notifications", token, string(body))
	var out struct{ ID string }
	if code != http.StatusAccepted || json.Unmarshal(b, &out) != nil || out.ID == "" {
		t.Fatalf("POST %s: %d %s", body, code, b)
	}
	return out.ID
}

// e2eState returns user's delivery state of notification id.
func e2eState(t *testing.T, httpAddr, token, id, user string) string {
	t.Helper()
	code, b := e2eDo(t, http.MethodGet, "http://"+httpAddr+"/api/v1/notifications/"+id, token, "")
	var st api.Status
	if code != http.StatusOK || json.Unmarshal(b, &st) != nil {
		t.Fatalf("GET %s: %d %s", id, code, b)
	}
	for _, r := range st.Recipients {
		if r.User == user {
			return r.State
		}
	}
	t.Fatalf("notification %s has no recipient %s: %s", id, user, b)
	return ""
}

// e2eWaitState polls the API until user's state of id is want.
func e2eWaitState(t *testing.T, httpAddr, token, id, user, want string) {
	t.Helper()
	deadline := time.Now().Add(e2ePatience)
	for {
		got := e2eState(t, httpAddr, token, id, user)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s for %s: %s after %v, want %s", id, user, got, e2ePatience, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// e2eWaitSessions polls /metrics until the server holds n sessions.
func e2eWaitSessions(t *testing.T, httpAddr string, n int) {
	t.Helper()
	want := "\nxpushd_sessions " + strconv.Itoa(n) + "\n"
	deadline := time.Now().Add(e2ePatience)
	for {
		_, b := e2eDo(t, http.MethodGet, "http://"+httpAddr+"/metrics", "", "")
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never showed %q", strings.TrimSpace(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slixmppPython returns Debian's python3 when it has slixmpp. Without it
// the test skips, or fails when XPUSH_INTEROP=1 demands the interop tests.
func slixmppPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3" // Debian's modules are not on a pyenv python3
	out, err := exec.Command(py, "-c", "import slixmpp; print(slixmpp.__version__)").CombinedOutput()
	if err != nil {
		if testserver.Required() {
			t.Fatalf("XPUSH_INTEROP=1 but %s cannot import slixmpp (apt-get install python3-slixmpp): %v\n%s", py, err, out)
		}
		t.Skipf("%s cannot import slixmpp; set XPUSH_INTEROP=1 to require it: %v", py, err)
	}
	t.Logf("slixmpp %s", strings.TrimSpace(lastLine(string(out))))
	return py
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// pyEvent is one line of testdata/slixmpp_client.py's output.
type pyEvent struct {
	Event     string
	Error     string
	JID       string
	Mechanism string
	ID        string
	Title     string
	Message   string
	URI       string
	IQFrom    string `json:"iq_from"`
	IQTo      string `json:"iq_to"`
}

// TestThirdPartyClientSlixmpp has slixmpp, a client that knows nothing of
// xpush, register in-band (XEP-0077), log in with SCRAM over plain TCP on
// loopback, and take the paper's notification IQ pushed through the HTTP
// API; its IQ result is the acknowledgement the API then reports.
func TestThirdPartyClientSlixmpp(t *testing.T) {
	py := slixmppPython(t)
	s := serve(t) // the defaults: TLS offered with STARTTLS, optional on loopback
	tok := strings.TrimSpace(must(t, "", "token", "create", "--data", s.data).stdout)

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "slixmpp_client.py"),
		"--server", s.c2s, "--jid", "sam@localhost", "--password", "sams-secret-password", "--timeout", "20")
	stderr := newSyncBuffer()
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	events := make(chan pyEvent, 8)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev pyEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = pyEvent{Event: "garbage", Error: sc.Text()}
			}
			events <- ev
		}
	}()
	var (
		waitOnce sync.Once
		waitErr  error
	)
	wait := func() error {
		waitOnce.Do(func() {
			// Wait after stdout is drained: the pipe is closed by Wait.
			for range events {
			}
			waitErr = cmd.Wait()
		})
		return waitErr
	}
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	next := func(want string) pyEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok || ev.Event != want {
				t.Fatalf("slixmpp: got %+v (more: %v), want a %q event\n--- slixmpp stderr:\n%s--- xpushd stderr:\n%s", ev, ok, want, stderr, s.stderr)
			}
			return ev
		case <-time.After(e2ePatience):
			t.Fatalf("slixmpp: no %q event within %v\n--- slixmpp stderr:\n%s--- xpushd stderr:\n%s", want, e2ePatience, stderr, s.stderr)
		}
		return pyEvent{}
	}

	next("registered")
	online := next("online")
	if !strings.HasPrefix(online.Mechanism, "SCRAM-") || !strings.HasPrefix(online.JID, "sam@localhost/") {
		t.Errorf("slixmpp online as %q with %q, want sam@localhost/... with SCRAM", online.JID, online.Mechanism)
	}
	req := api.Request{
		To:      []string{"sam"},
		Title:   "Hello World",
		Message: "hello from <xpushd> & co",
		URI:     "https://example.org/pictures/cat.png?size=large&x=1",
	}
	id := e2eSend(t, s.http, tok, req)
	got := next("notification")
	want := pyEvent{Event: "notification", ID: id, Title: req.Title, Message: req.Message, URI: req.URI, IQFrom: "localhost", IQTo: online.JID}
	if got != want {
		t.Errorf("slixmpp got\n%+v\nwant\n%+v", got, want)
	}
	if err := wait(); err != nil {
		t.Errorf("slixmpp: %v\n%s", err, stderr)
	}
	e2eWaitState(t, s.http, tok, id, "sam", store.StateAcked)
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// buildXpushd builds this package's binary into a temporary directory.
// It builds with -race when the test runs with it: the packages are then
// in the build cache already, and the race detector watches the server
// process too.
func buildXpushd(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build xpushd with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "xpushd")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, goTool, append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// daemon is xpushd serve running as its own process.
type daemon struct {
	t              *testing.T
	cmd            *exec.Cmd
	c2s, http      string
	stdout, stderr *syncBuffer
	exited         chan struct{}
	err            error // Wait's, once exited is closed
}

// cleanEnv is the environment without XPUSHD_ settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return env
}

// startDaemon starts bin serve on data and the given addresses and waits
// for its ready line. It is stopped when the test ends.
//
// A restart reuses the ports of the killed server. Should something else
// have taken one of them in the moment between, it tries again for a
// while: the kernel hands ports of 127.0.0.1:0 listeners and of outgoing
// connections out of the same range.
func startDaemon(t *testing.T, bin, data, c2sAddr, httpAddr string) *daemon {
	t.Helper()
	for try := 1; ; try++ {
		d, inUse := tryDaemon(t, bin, data, c2sAddr, httpAddr)
		if d != nil {
			return d
		}
		if !inUse || try == 20 || strings.HasSuffix(c2sAddr, ":0") && strings.HasSuffix(httpAddr, ":0") {
			t.Fatalf("xpushd serve could not listen on %s and %s", c2sAddr, httpAddr)
		}
		t.Logf("a port is in use; trying again (%d)", try)
		time.Sleep(100 * time.Millisecond)
	}
}

// tryDaemon starts the server once. It returns nil and true when the
// server exited because an address was in use.
func tryDaemon(t *testing.T, bin, data, c2sAddr, httpAddr string) (*daemon, bool) {
	t.Helper()
	d := &daemon{t: t, stdout: newSyncBuffer(), stderr: newSyncBuffer(), exited: make(chan struct{})}
	d.cmd = exec.Command(bin, "serve", "--data", data, "--c2s", c2sAddr, "--http", httpAddr, "--log-level", "debug")
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	d.cmd.Env = cleanEnv()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(d.stop)
	timeout := time.NewTimer(e2ePatience)
	defer timeout.Stop()
	for {
		if m := readyRE.FindStringSubmatch(d.stdout.String()); m != nil {
			d.c2s, d.http = m[1], m[2]
			return d, false
		}
		select {
		case <-d.stdout.changed:
		case <-d.exited:
			if strings.Contains(d.stderr.String(), "address already in use") {
				return nil, true
			}
			t.Fatalf("xpushd serve exited before it was ready: %v\n--- stdout:\n%s--- stderr:\n%s", d.err, d.stdout, d.stderr)
		case <-timeout.C:
			t.Fatalf("xpushd serve not ready after %v\n--- stdout:\n%s--- stderr:\n%s", e2ePatience, d.stdout, d.stderr)
		}
	}
}

// kill9 kills the server with SIGKILL: no shutdown, no last writes.
func (d *daemon) kill9() {
	d.t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		d.t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(e2ePatience):
		d.t.Fatal("xpushd did not die from SIGKILL")
	}
	if ps := d.cmd.ProcessState; ps == nil || ps.Success() {
		d.t.Fatalf("xpushd after SIGKILL: %v", d.err)
	}
}

// stop ends the server with SIGTERM (SIGKILL after the grace period) and
// reports a data race the server's race detector found.
func (d *daemon) stop() {
	select {
	case <-d.exited:
	default:
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = d.cmd.Process.Kill()
		}
		select {
		case <-d.exited:
		case <-time.After(ShutdownGrace + 5*time.Second):
			d.t.Errorf("xpushd did not stop within %v of SIGTERM", ShutdownGrace+5*time.Second)
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}
	if strings.Contains(d.stderr.String(), "WARNING: DATA RACE") {
		d.t.Errorf("the server's race detector found a race:\n%s", d.stderr)
	}
	if d.t.Failed() {
		d.t.Logf("--- xpushd stderr:\n%s", d.stderr)
	}
}

// e2eAgent is a package xmpp client whose events a goroutine tallies.
type e2eAgent struct {
	t       *testing.T
	c       *xmpp.Client
	cancel  context.CancelFunc
	done    chan struct{}
	changed chan struct{}

	mu       sync.Mutex
	counts   map[string]int // notifications by id
	onlines  int
	offlines int // offline after an error
	lastErr  error
}

func newE2EAgent(t *testing.T, cfg xmpp.Config) *e2eAgent {
	t.Helper()
	c, err := xmpp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &e2eAgent{t: t, c: c, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{}, 1), counts: map[string]int{}}
	go func() { _ = c.Run(ctx) }()
	go func() {
		defer close(a.done)
		for ev := range c.Events() {
			a.mu.Lock()
			switch ev := ev.(type) {
			case *xmpp.StateChange:
				switch {
				case ev.State == xmpp.StateOnline:
					a.onlines++
				case ev.State == xmpp.StateOffline && ev.Err != nil:
					a.offlines++
					a.lastErr = ev.Err
				}
			case *xmpp.Notified:
				a.counts[ev.Notification.ID]++
			}
			a.mu.Unlock()
			select {
			case a.changed <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(a.stop)
	return a
}

// stop ends the client and waits until its events are drained.
func (a *e2eAgent) stop() {
	a.cancel()
	<-a.done
}

// waitFor waits until cond holds over the tallies.
func (a *e2eAgent) waitFor(what string, cond func(a *e2eAgent) bool) {
	a.t.Helper()
	timeout := time.After(e2ePatience)
	for {
		a.mu.Lock()
		ok, err := cond(a), a.lastErr
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-a.changed:
		case <-a.done:
			a.t.Fatalf("%s: client stopped while waiting for %s", a.c.JID(), what)
		case <-timeout:
			a.t.Fatalf("%s: no %s within %v (last error: %v)", a.c.JID(), what, e2ePatience, err)
		}
	}
}

func (a *e2eAgent) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[id]
}

// tap keeps what servers wrote to a client, over all its connections,
// to count pushes on the wire: the client itself drops duplicates.
type tap struct {
	mu  sync.Mutex
	buf []byte
}

// dial dials the address route returns (addr when route is nil) and
// records what is read from the connection.
func (tp *tap) dial(route func() string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if route != nil {
			if addr = route(); addr == "" {
				return nil, errors.New("test: the server is down")
			}
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &tapConn{Conn: c, tp: tp}, nil
	}
}

// pushes counts the notification IQs for id that reached the client.
func (tp *tap) pushes(id string) int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return strings.Count(string(tp.buf), "<id>"+id+"</id>")
}

type tapConn struct {
	net.Conn
	tp *tap
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.tp.mu.Lock()
	c.tp.buf = append(c.tp.buf, p[:n]...)
	c.tp.mu.Unlock()
	return n, err
}

// TestCrashSafety kills the real xpushd binary with SIGKILL right after it
// accepted a notification, or after it wrote it to a client that did not
// acknowledge it, starts it again on the same data directory and ports,
// and checks that the notification reaches the user exactly once and is
// acknowledged.
func TestCrashSafety(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL and SIGTERM are Unix signals")
	}
	bin := buildXpushd(t)

	// setup starts a server on a fresh data directory with an API token
	// made by the binary, and a user registered in-band.
	setup := func(t *testing.T, user string) (d *daemon, data, tok string) {
		data = filepath.Join(t.TempDir(), "data")
		d = startDaemon(t, bin, data, "127.0.0.1:0", "127.0.0.1:0")
		ctx, cancel := context.WithTimeout(context.Background(), e2ePatience)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "token", "create", "--data", data).Output()
		if err != nil {
			t.Fatalf("xpushd token create: %v", err)
		}
		tok = strings.TrimSpace(string(out))
		reg := newE2EAgent(t, xmpp.Config{
			JID: user + "@localhost", Server: d.c2s, Register: true,
			Password: func(context.Context) (string, error) { return "password-of-" + user, nil },
		})
		reg.waitFor("online state", func(a *e2eAgent) bool { return a.onlines == 1 })
		reg.stop()
		e2eWaitSessions(t, d.http, 0)
		return d, data, tok
	}

	t.Run("queued", func(t *testing.T) {
		t.Parallel()
		d, data, tok := setup(t, "carol")
		id := e2eSend(t, d.http, tok, api.Request{To: []string{"carol"}, Title: "accepted, then the crash"})
		d.kill9() // right after the 202

		d2 := startDaemon(t, bin, data, d.c2s, d.http)
		if got := e2eState(t, d2.http, tok, id, "carol"); got != store.StateQueued {
			t.Fatalf("after the restart the notification is %s, want queued", got)
		}
		var wire tap
		a := newE2EAgent(t, xmpp.Config{
			JID: "carol@localhost", Server: d2.c2s, Dial: wire.dial(nil),
			Password: func(context.Context) (string, error) { return "password-of-carol", nil },
		})
		a.waitFor("the notification", func(a *e2eAgent) bool { return a.counts[id] > 0 })
		e2eWaitState(t, d2.http, tok, id, "carol", store.StateAcked)
		time.Sleep(time.Second) // time for a duplicate to show up
		if n := a.count(id); n != 1 {
			t.Errorf("the client got the notification %d times", n)
		}
		if n := wire.pushes(id); n != 1 {
			t.Errorf("the server pushed the notification %d times", n)
		}
	})

	// sent: the server wrote the notification to the client through a
	// stalled proxy, so no acknowledgement came back before the kill. With
	// seen, the proxy then hands the client the push (its
	// acknowledgement goes nowhere); without, the client gives the dead
	// link up first and never sees it. Either way the restarted server
	// must send it again, and the client must show it once.
	for _, seen := range []bool{false, true} {
		name := "sent, never seen"
		if seen {
			name = "sent, seen, ack lost"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, data, tok := setup(t, "dave")
			p1, err := faultproxy.New(d.c2s)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p1.Close() })
			// The client dials whichever proxy is current; none while the
			// server is down.
			var (
				route atomic.Value // string
				wire  tap
			)
			route.Store(p1.Addr())
			a := newE2EAgent(t, xmpp.Config{
				JID: "dave@localhost", Server: d.c2s,
				Password: func(context.Context) (string, error) { return "password-of-dave", nil },
				// The store, not XEP-0198, must redeliver.
				NoStreamManagement: true,
				PingTimeout:        time.Second,
				BackoffMin:         50 * time.Millisecond,
				BackoffMax:         300 * time.Millisecond,
				Dial:               wire.dial(func() string { return route.Load().(string) }),
			})
			a.waitFor("online state", func(a *e2eAgent) bool { return a.onlines == 1 })

			p1.Stall()
			id := e2eSend(t, d.http, tok, api.Request{To: []string{"dave"}, Title: "sent, then the crash", URI: "https://example.org/"})
			e2eWaitState(t, d.http, tok, id, "dave", store.StateSent)
			d.kill9()
			route.Store("")

			if seen {
				p1.Resume() // the push reaches the client; its ack hits a dead server
				a.waitFor("the first delivery", func(a *e2eAgent) bool { return a.counts[id] == 1 })
			} else {
				a.c.Reconnect() // a ping over the stalled link times out
			}
			a.waitFor("the lost link", func(a *e2eAgent) bool { return a.offlines >= 1 })
			p1.Close()
			if n := wire.pushes(id); !seen && n != 0 || seen && n != 1 {
				t.Fatalf("%d pushes reached the client before the restart, want %d", n, map[bool]int{false: 0, true: 1}[seen])
			}

			d2 := startDaemon(t, bin, data, d.c2s, d.http)
			if got := e2eState(t, d2.http, tok, id, "dave"); got != store.StateQueued {
				t.Fatalf("after the restart the notification is %s, want queued again", got)
			}
			p2, err := faultproxy.New(d2.c2s)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p2.Close() })
			route.Store(p2.Addr())
			a.waitFor("online again", func(a *e2eAgent) bool { return a.onlines == 2 })
			e2eWaitState(t, d2.http, tok, id, "dave", store.StateAcked)
			if !seen {
				a.waitFor("the notification", func(a *e2eAgent) bool { return a.counts[id] > 0 })
			}
			time.Sleep(time.Second) // time for a duplicate to show up
			if n := a.count(id); n != 1 {
				t.Errorf("the client showed the notification %d times, want once", n)
			}
			// Pushed again after the restart, once.
			if n, want := wire.pushes(id), map[bool]int{false: 1, true: 2}[seen]; n != want {
				t.Errorf("%d pushes reached the client in all, want %d", n, want)
			}
		})
	}
}
