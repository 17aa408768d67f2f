package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/app/control"
)

// fakeAgent is a control.Agent that records its calls. block, when set,
// makes Status wait for it or for its context.
type fakeAgent struct {
	mu       sync.Mutex
	status   control.Status
	account  control.Account
	password string
	create   bool
	settings control.Settings
	dnd      time.Time
	opened   []string
	shown    []string
	err      error // returned by every method when set
	block    chan struct{}
	started  chan struct{} // closed when a blocked Status starts, if set
}

func (f *fakeAgent) Status(ctx context.Context) (control.Status, error) {
	if f.block != nil {
		if f.started != nil {
			close(f.started)
		}
		select {
		case <-f.block:
		case <-ctx.Done():
			return control.Status{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.err
}

func (f *fakeAgent) SetDND(ctx context.Context, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dnd = until
	return f.err
}

func (f *fakeAgent) Account(ctx context.Context) (control.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.account, f.err
}

func (f *fakeAgent) SaveAccount(ctx context.Context, a control.Account, password string, create bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.account, f.password, f.create = a, password, create
	return f.err
}

func (f *fakeAgent) Settings(ctx context.Context) (control.Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings, f.err
}

func (f *fakeAgent) SaveSettings(ctx context.Context, s control.Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings = s
	return f.err
}

func (f *fakeAgent) Open(ctx context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, key)
	return f.err
}

func (f *fakeAgent) Show(ctx context.Context, window string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shown = append(f.shown, window)
	return f.err
}

// sockPath returns a socket path in a fresh temporary folder, short
// enough for sun_path.
func sockPath(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "xpush", "agent.sock")
	if len(p) > maxPathLen(runtime.GOOS) {
		dir, err := os.MkdirTemp("", "ipc")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		p = filepath.Join(dir, "xpush", "agent.sock")
	}
	return p
}

// serve listens at a fresh path and serves agent until the test ends. It
// returns the path and a stop function that cancels Serve and waits for
// it, reporting Serve's error.
func serve(t *testing.T, agent control.Agent) (string, func() error) {
	t.Helper()
	path := sockPath(t)
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, agent) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(10 * time.Second):
				serveErr = errors.New("Serve did not return")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path, stop
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRoundTrip(t *testing.T) {
	dnd := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	agent := &fakeAgent{
		status: control.Status{
			State: control.StateOnline, JID: "alice@example.org/xpush",
			Reason: "", DNDUntil: dnd, Unread: 3,
			Demo: &control.Demo{Console: "http://127.0.0.1:8080/", AdminPassword: "pw"},
		},
		account:  control.Account{Server: "example.org:5222", JID: "alice@example.org", PushService: "push.example.org"},
		settings: control.Settings{StartAtLogin: true, Muted: []string{"a.example", "b.example"}, HistoryMax: 100, HistoryDays: 7},
	}
	path, _ := serve(t, agent)
	c := Dial(path)
	ctx := testCtx(t)

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.DNDUntil.Equal(dnd) {
		t.Errorf("DNDUntil = %v, want %v", st.DNDUntil, dnd)
	}
	st.DNDUntil = dnd
	if !reflect.DeepEqual(st, agent.status) {
		t.Errorf("Status = %+v, want %+v", st, agent.status)
	}

	a, err := c.Account(ctx)
	if err != nil || a != agent.account {
		t.Errorf("Account = %+v, %v; want %+v", a, err, agent.account)
	}
	s, err := c.Settings(ctx)
	if err != nil || !reflect.DeepEqual(s, agent.settings) {
		t.Errorf("Settings = %+v, %v; want %+v", s, err, agent.settings)
	}

	until := time.Now().Add(time.Hour)
	if err := c.SetDND(ctx, until); err != nil {
		t.Fatal(err)
	}
	if !agent.dnd.Equal(until) {
		t.Errorf("SetDND: agent got %v, want %v", agent.dnd, until)
	}
	if err := c.SetDND(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !agent.dnd.IsZero() {
		t.Errorf("SetDND(zero): agent got %v", agent.dnd)
	}

	newAcct := control.Account{Server: "", JID: "bob@example.net", InsecurePlain: true}
	if err := c.SaveAccount(ctx, newAcct, "sécret \"pw\"\n", true); err != nil {
		t.Fatal(err)
	}
	if agent.account != newAcct || agent.password != "sécret \"pw\"\n" || !agent.create {
		t.Errorf("SaveAccount: agent got %+v %q %v", agent.account, agent.password, agent.create)
	}
	newSettings := control.Settings{HistoryMax: 5}
	if err := c.SaveSettings(ctx, newSettings); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(agent.settings, newSettings) {
		t.Errorf("SaveSettings: agent got %+v", agent.settings)
	}
	if err := c.Open(ctx, "message:sid:a@b:1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Show(ctx, control.WindowSettings); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(agent.opened, []string{"message:sid:a@b:1"}) || !reflect.DeepEqual(agent.shown, []string{"settings"}) {
		t.Errorf("Open/Show: agent got %v %v", agent.opened, agent.shown)
	}
}

func TestAgentError(t *testing.T) {
	agent := &fakeAgent{err: errors.New("Wrong user name or password.")}
	path, _ := serve(t, agent)
	c := Dial(path)
	ctx := testCtx(t)
	calls := map[string]func() error{
		"status":        func() error { _, err := c.Status(ctx); return err },
		"set_dnd":       func() error { return c.SetDND(ctx, time.Now()) },
		"account":       func() error { _, err := c.Account(ctx); return err },
		"save_account":  func() error { return c.SaveAccount(ctx, control.Account{}, "", false) },
		"settings":      func() error { _, err := c.Settings(ctx); return err },
		"save_settings": func() error { return c.SaveSettings(ctx, control.Settings{}) },
		"open":          func() error { return c.Open(ctx, "k") },
		"show":          func() error { return c.Show(ctx, "history") },
	}
	for op, call := range calls {
		err := call()
		var e *Error
		if !errors.As(err, &e) || e.Op != op || e.Message != "Wrong user name or password." {
			t.Errorf("%s: err = %#v, want *Error with the agent's message", op, err)
		}
	}
}

func TestNotRunning(t *testing.T) {
	c := Dial(sockPath(t))
	ctx := testCtx(t)
	if _, err := c.Status(ctx); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("Status with no socket: %v, want ErrNotRunning", err)
	}
	if err := c.Show(ctx, "history"); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("Show with no socket: %v, want ErrNotRunning", err)
	}
}

func TestSecondListenIsErrRunning(t *testing.T) {
	agent := &fakeAgent{}
	path, _ := serve(t, agent)
	if srv, err := Listen(path); !errors.Is(err, ErrRunning) || err.Error() != ErrRunning.Error() {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("second Listen: %v, want ErrRunning (answered)", err)
	}
	// What a second xpush does next.
	if err := Dial(path).Show(testCtx(t), control.WindowHistory); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(agent.shown, []string{"history"}) {
		t.Errorf("shown = %v", agent.shown)
	}
}

func TestSecondListenBeforeServe(t *testing.T) {
	path := sockPath(t)
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// The first one holds the lock but does not serve yet: still running,
	// and the socket must stay.
	if _, err := Listen(path); !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("second Listen: %v, want ErrRunning (does not answer)", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the first server's socket: %v", err)
	}
}

func TestCloseWithoutServe(t *testing.T) {
	path := sockPath(t)
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := srv.Serve(context.Background(), &fakeAgent{}); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after Close: %v", err)
	}
	srv2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	srv2.Close()
}

func TestStaleSocketReplaced(t *testing.T) {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// A socket file with nobody behind it, as a crashed agent leaves.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket: %v", err)
	}

	srv, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, &fakeAgent{status: control.Status{State: control.StateOffline}}) }()
	defer func() { cancel(); <-done }()
	st, err := Dial(path).Status(testCtx(t))
	if err != nil || st.State != control.StateOffline {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}

func TestListenLiveForeignSocket(t *testing.T) {
	// An agent that answers at the path without holding the lock (its
	// lock file was deleted): Listen must not take its socket away.
	path, _ := serve(t, &fakeAgent{})
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); !errors.Is(err, ErrRunning) {
		t.Fatalf("Listen: %v, want ErrRunning", err)
	}
	if _, err := Dial(path).Status(testCtx(t)); err != nil {
		t.Fatalf("the first agent after the second Listen: %v", err)
	}
}

func TestListenNotASocket(t *testing.T) {
	path := sockPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if srv, err := Listen(path); err == nil {
		srv.Close()
		t.Fatal("Listen over a regular file succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("the file after Listen: %q, %v", b, err)
	}
}

func TestListenPathTooLong(t *testing.T) {
	path := filepath.Join(t.TempDir(), strings.Repeat("x", 120), "agent.sock")
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Listen: %v", err)
	}
}

func TestCancelStopsServe(t *testing.T) {
	agent := &fakeAgent{block: make(chan struct{}), started: make(chan struct{})}
	path, stop := serve(t, agent)

	// A call in progress when the server stops: its context is canceled
	// and the client sees the agent go away.
	callErr := make(chan error, 1)
	go func() {
		_, err := Dial(path).Status(context.Background())
		callErr <- err
	}()
	<-agent.started
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Serve returned: %v", err)
	}
	if err := <-callErr; !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("call in progress: %v, want ErrNotRunning", err)
	}
	if _, err := Dial(path).Status(testCtx(t)); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("call after stop: %v, want ErrNotRunning", err)
	}
	// The lock is free again.
	srv, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen after stop: %v", err)
	}
	srv.Close()
}

func TestCallTimeoutAndCancel(t *testing.T) {
	agent := &fakeAgent{block: make(chan struct{})}
	path, _ := serve(t, agent)
	c := Dial(path)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Status past its deadline: %v, want DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Status: %v, want Canceled", err)
	}
}

// rawConn connects to path for speaking the protocol by hand.
func rawConn(t *testing.T, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, bufio.NewReader(conn)
}

func readResponse(t *testing.T, br *bufio.Reader) response {
	t.Helper()
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	var r response
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	return r
}

func TestMalformedRequests(t *testing.T) {
	path, _ := serve(t, &fakeAgent{status: control.Status{State: control.StateConnecting}})
	conn, br := rawConn(t, path)
	for _, tc := range []struct{ in, want string }{
		{`{"op":`, "malformed request"},
		{`not json`, "malformed request"},
		{`{"op":"status"} trailing`, "malformed request"},
		{`{}`, `without "op"`},
		{`{"op":"reboot"}`, `unknown op "reboot"`},
		{`{"op":"save_account"}`, `without "account"`},
		{`{"op":"save_settings"}`, `without "settings"`},
		{`{"op":"set_dnd","until":"yesterday"}`, "malformed request"},
	} {
		if _, err := fmt.Fprintf(conn, "%s\n", tc.in); err != nil {
			t.Fatal(err)
		}
		if r := readResponse(t, br); !strings.Contains(r.Error, tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.in, r.Error, tc.want)
		}
	}
	// The same connection still serves, and unknown fields are ignored.
	fmt.Fprintf(conn, `{"op":"status","from_the_future":1}`+"\n")
	if r := readResponse(t, br); r.Error != "" || r.Status == nil || r.Status.State != control.StateConnecting {
		t.Errorf("status after errors: %+v", r)
	}
}

func TestOversizedRequest(t *testing.T) {
	agent := &fakeAgent{}
	path, _ := serve(t, agent)
	conn, br := rawConn(t, path)
	big := `{"op":"open","key":"` + strings.Repeat("k", MaxMessageSize) + `"}` + "\n"
	go conn.Write([]byte(big)) // the server stops reading; the write may not finish
	r := readResponse(t, br)
	if !strings.Contains(r.Error, "longer than") {
		t.Errorf("oversized request: %+v", r)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("the connection stayed open after an oversized request")
	}
	// The server keeps serving.
	if err := Dial(path).Show(testCtx(t), "history"); err != nil {
		t.Fatal(err)
	}
	if len(agent.opened) != 0 {
		t.Errorf("oversized request reached the agent: %d keys", len(agent.opened))
	}

	// The client refuses to send one.
	err := Dial(path).Open(testCtx(t), strings.Repeat("k", MaxMessageSize))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("client with an oversized request: %v, want ErrTooLarge", err)
	}
}

func TestLargestRequestFits(t *testing.T) {
	agent := &fakeAgent{}
	path, _ := serve(t, agent)
	// Exactly MaxMessageSize bytes of JSON.
	key := strings.Repeat("k", MaxMessageSize-len(`{"op":"open","key":""}`))
	if err := Dial(path).Open(testCtx(t), key); err != nil {
		t.Fatal(err)
	}
	if len(agent.opened) != 1 || agent.opened[0] != key {
		t.Errorf("agent got %d keys", len(agent.opened))
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	path := sockPath(t)
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv.readTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, &fakeAgent{}) }()
	defer func() { cancel(); <-done }()
	_, br := rawConn(t, path)
	start := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("read a byte from an idle connection")
	}
	if d := time.Since(start); d < srv.readTimeout {
		t.Errorf("idle connection closed after %v, before %v", d, srv.readTimeout)
	}
}

func TestTooManyConnections(t *testing.T) {
	path, _ := serve(t, &fakeAgent{})
	conns := make([]net.Conn, MaxConns)
	for i := range conns {
		conn, br := rawConn(t, path)
		conns[i] = conn
		// A round trip makes sure the server has taken this connection.
		fmt.Fprintf(conn, `{"op":"ping"}`+"\n")
		if r := readResponse(t, br); r.Error != "" {
			t.Fatalf("ping %d: %s", i, r.Error)
		}
	}
	c := Dial(path)
	var e *Error
	if _, err := c.Status(testCtx(t)); !errors.As(err, &e) || !strings.Contains(e.Message, "busy") {
		t.Fatalf("Status beyond MaxConns: %v, want busy", err)
	}
	for _, conn := range conns {
		conn.Close()
	}
	// The slots free up as the server notices the closed connections.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Status(testCtx(t))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status after the connections closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConcurrentCalls(t *testing.T) {
	agent := &fakeAgent{status: control.Status{State: control.StateOnline}}
	path, _ := serve(t, agent)
	c := Dial(path)
	ctx := testCtx(t)
	const workers, calls = 2 * MaxConns, 40 // more workers than slots: some wait for one
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				var err error
				switch i % 4 {
				case 0:
					_, err = c.Status(ctx)
				case 1:
					err = c.Open(ctx, fmt.Sprintf("%d-%d", w, i))
				case 2:
					err = c.SaveSettings(ctx, control.Settings{HistoryMax: i})
				case 3:
					_, err = c.Settings(ctx)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	agent.mu.Lock()
	defer agent.mu.Unlock()
	if want := workers * calls / 4; len(agent.opened) != want {
		t.Errorf("agent saw %d opens, want %d", len(agent.opened), want)
	}
}

type panicAgent struct{ fakeAgent }

func (*panicAgent) Status(context.Context) (control.Status, error) { panic("boom") }

func TestAgentPanic(t *testing.T) {
	path, _ := serve(t, &panicAgent{})
	c := Dial(path)
	var e *Error
	if _, err := c.Status(testCtx(t)); !errors.As(err, &e) || !strings.Contains(e.Message, "internal error") {
		t.Fatalf("Status of a panicking agent: %v", err)
	}
	if err := c.Show(testCtx(t), "history"); err != nil {
		t.Fatalf("Show after the panic: %v", err)
	}
}

func TestReadLine(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
		err   error
	}{
		{"abc\n", 3, "abc", nil},
		{"abcd\n", 3, "", ErrTooLarge},
		{"abcd", 3, "", ErrTooLarge},
		{"abc", 3, "", nil}, // io.ErrUnexpectedEOF, checked below
		{"\n", 3, "", nil},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
		got, err := readLine(br, tc.limit)
		if tc.in == "abc" {
			if err == nil {
				t.Errorf("%q: no error for a line without newline", tc.in)
			}
			continue
		}
		if !errors.Is(err, tc.err) || string(got) != tc.want {
			t.Errorf("readLine(%q, %d) = %q, %v; want %q, %v", tc.in, tc.limit, got, err, tc.want, tc.err)
		}
	}
	// Longer than the reader's buffer, within the limit.
	long := strings.Repeat("x", 100)
	got, err := readLine(bufio.NewReaderSize(strings.NewReader(long+"\nnext\n"), 16), 100)
	if err != nil || string(got) != long {
		t.Errorf("long line: %d bytes, %v", len(got), err)
	}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cache := func() (string, error) { return "/home/u/.cache", nil }
	noCache := func() (string, error) { return "", errors.New("no home") }
	for _, tc := range []struct {
		goos  string
		env   map[string]string
		cache func() (string, error)
		want  string // "" for an error
	}{
		{"linux", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, cache, filepath.Join("/run/user/1000", "xpush", "agent.sock")},
		{"linux", map[string]string{"XDG_RUNTIME_DIR": "relative"}, cache, filepath.Join("/home/u/.cache", "xpush", "agent.sock")},
		{"linux", nil, cache, filepath.Join("/home/u/.cache", "xpush", "agent.sock")},
		{"freebsd", nil, noCache, ""},
		{
			"darwin",
			map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"},
			func() (string, error) { return "/Users/u/Library/Caches", nil },
			filepath.Join("/Users/u/Library/Caches", "xpush", "agent.sock"),
		},
		{"darwin", nil, noCache, ""},
		{"windows", map[string]string{"LOCALAPPDATA": `C:\Users\u\AppData\Local`}, noCache, filepath.Join(`C:\Users\u\AppData\Local`, "xpush", "agent.sock")},
		{"windows", nil, cache, ""},
	} {
		got, err := defaultPath(tc.goos, env(tc.env), tc.cache)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s %v: %q, want an error", tc.goos, tc.env, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %v: %q, %v; want %q", tc.goos, tc.env, got, err, tc.want)
		}
	}
	if p, err := DefaultPath(); err != nil || len(p) > maxPathLen(runtime.GOOS) {
		t.Logf("DefaultPath here: %q, %v", p, err)
	}
}
