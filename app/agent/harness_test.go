package agent_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/app/agent"
	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/app/toast"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 20 * time.Second

// xpushd is an in-process push server on loopback with an in-memory
// store.
type xpushd struct {
	addr    string
	st      *store.Memory
	sender  *send.Sender
	accepts atomic.Int64 // c2s connections accepted
}

// noAcks is a store that forgets acknowledgements, as if each one were
// lost on the way: the server sends every notification again on the
// account's next session.
type noAcks struct{ *store.Memory }

func (noAcks) Ack(context.Context, string, string, time.Time) error { return nil }

func (s noAcks) Record(ctx context.Context, changes []store.Change) error {
	var kept []store.Change
	for _, c := range changes {
		if c.State != store.StateAcked {
			kept = append(kept, c)
		}
	}
	return s.Memory.Record(ctx, kept)
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func startServer(t testing.TB, forgetAcks bool) *xpushd {
	t.Helper()
	x := &xpushd{st: store.NewMemory()}
	var st store.Store = x.st
	if forgetAcks {
		st = noAcks{x.st}
	}
	srv, err := server.New(server.Options{Domain: "localhost", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x.addr, x.sender = l.Addr().String(), srv.Sender
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, server.Listeners{C2S: countingListener{l, &x.accepts}}, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return x
}

// send pushes a notification to user and returns its history key.
func (x *xpushd) send(t testing.TB, user string, req send.Request) string {
	t.Helper()
	req.To = []string{user}
	id, err := x.sender.Send(context.Background(), req)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return "iq:" + id
}

// fakeToasts records the toasts shown and lets a test click them.
type fakeToasts struct {
	mu     sync.Mutex
	shown  []toast.Toast
	clicks chan string
	poke   func()
}

func (f *fakeToasts) Show(_ context.Context, t toast.Toast) error {
	f.mu.Lock()
	f.shown = append(f.shown, t)
	f.mu.Unlock()
	f.poke()
	return nil
}

func (f *fakeToasts) Clicks() <-chan string { return f.clicks }
func (f *fakeToasts) Close() error          { return nil }

func (f *fakeToasts) list() []toast.Toast {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.shown)
}

// brokenKeyring behaves like a machine without a Secret Service.
type brokenKeyring struct{}

func (brokenKeyring) Get(string) (string, error) { return "", secret.ErrUnavailable }
func (brokenKeyring) Set(string, string) error   { return secret.ErrUnavailable }
func (brokenKeyring) Delete(string) error        { return secret.ErrUnavailable }

// rig is a running agent with fakes around it, recording what it does.
type rig struct {
	t       testing.TB
	a       *agent.Agent
	hist    *history.Store
	toasts  *fakeToasts
	cfgPath string

	mu         sync.Mutex
	statuses   []control.Status
	deliveries []agent.Delivery
	opened     []string
	windows    []string
	notify     chan struct{}

	cancel context.CancelFunc
	done   chan error
}

type rigOptions struct {
	dir  string // holds config.toml and history.db; a new one when empty
	keys secret.Store
	demo func(ctx context.Context) (*demo.Demo, error)
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.keys == nil {
		o.keys = &secret.Memory{}
	}
	r := &rig{t: t, cfgPath: filepath.Join(o.dir, "config.toml"), notify: make(chan struct{}, 1)}
	r.toasts = &fakeToasts{clicks: make(chan string, 4), poke: r.poke}
	h, err := history.Open(context.Background(), filepath.Join(o.dir, "history.db"), history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.hist = h
	r.a, err = agent.New(agent.Options{
		ConfigPath: r.cfgPath,
		History:    h,
		Toasts:     r.toasts,
		Secrets:    o.keys,
		Open: func(_ context.Context, uri string) error {
			r.record(func() { r.opened = append(r.opened, uri) })
			return nil
		},
		ShowWindow: func(w string) { r.record(func() { r.windows = append(r.windows, w) }) },
		OnStatus:   func(s control.Status) { r.record(func() { r.statuses = append(r.statuses, s) }) },
		OnDelivery: func(d agent.Delivery) { r.record(func() { r.deliveries = append(r.deliveries, d) }) },
		Demo:       o.demo,
		Tune: func(c *xmpp.Config) {
			c.BackoffMin, c.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
		},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.a.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends Run, checks that it returns, and closes the history.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		r.t.Errorf("Run did not return after its context ended")
	}
	if err := r.hist.Close(); err != nil {
		r.t.Errorf("close history: %v", err)
	}
}

func (r *rig) record(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	r.poke()
}

func (r *rig) poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until cond, called with r.mu held, holds.
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			r.t.Fatalf("timed out waiting for %s; last status %+v", what, r.lastLocked())
		}
	}
}

func (r *rig) lastLocked() control.Status {
	if len(r.statuses) == 0 {
		return control.Status{}
	}
	return r.statuses[len(r.statuses)-1]
}

// waitStatus waits for a status that f accepts and returns it.
func (r *rig) waitStatus(what string, f func(control.Status) bool) control.Status {
	r.t.Helper()
	var s control.Status
	r.waitFor(what, func() bool {
		s = r.lastLocked()
		return f(s)
	})
	return s
}

func (r *rig) waitOnline() control.Status {
	r.t.Helper()
	return r.waitStatus("online", func(s control.Status) bool { return s.State == control.StateOnline })
}

// waitDelivery waits for the n-th (1-based) delivery of key.
func (r *rig) waitDelivery(key string, n int) agent.Delivery {
	r.t.Helper()
	var d agent.Delivery
	r.waitFor("delivery "+key, func() bool {
		seen := 0
		for _, x := range r.deliveries {
			if x.Key == key {
				seen++
				if seen == n {
					d = x
					return true
				}
			}
		}
		return false
	})
	return d
}

func (r *rig) toastsFor(key string) []toast.Toast {
	var out []toast.Toast
	for _, t := range r.toasts.list() {
		if t.Key == key {
			out = append(out, t)
		}
	}
	return out
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// tWriter writes log lines to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger logs to the test's log with -v, else nowhere.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
