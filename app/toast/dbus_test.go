//go:build unix && !darwin

package toast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esiqveland/notify"
	"github.com/godbus/dbus/v5"
)

const serverName = ":1.42"

// fakeBus is a notification server on a fake connection: Notify hands out
// increasing ids and records the messages; the test emits signals.
type fakeBus struct {
	mu     sync.Mutex
	next   uint32
	posted []notify.Notification
	err    error // Notify's answer, when set
	closes []uint32

	sigs      chan *dbus.Signal
	closeOnce sync.Once
}

func newFakeBus() *fakeBus { return &fakeBus{sigs: make(chan *dbus.Signal, signalQueue)} }

func (f *fakeBus) Notify(_ context.Context, n notify.Notification) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.next++
	f.posted = append(f.posted, n)
	return f.next, nil
}

func (f *fakeBus) CloseNotification(_ context.Context, id uint32) error {
	f.mu.Lock()
	f.closes = append(f.closes, id)
	f.mu.Unlock()
	return nil
}

func (f *fakeBus) Owner(context.Context) (string, error) { return serverName, nil }
func (f *fakeBus) Signals() <-chan *dbus.Signal          { return f.sigs }
func (f *fakeBus) Close() error {
	f.closeOnce.Do(func() { close(f.sigs) })
	return nil
}

func (f *fakeBus) emit(sender, name string, body ...any) {
	f.sigs <- &dbus.Signal{Sender: sender, Path: fdoPath, Name: name, Body: body}
}

func (f *fakeBus) action(id uint32) { f.emit(serverName, sigAction, id, defaultAction) }
func (f *fakeBus) closed(id uint32) { f.emit(serverName, sigClosed, id, uint32(2)) }

// sync waits until the signal loop has handled everything emitted before:
// it emits a click on a marker toast and waits for its key.
func (f *fakeBus) sync(t *testing.T, n *dbusNotifier, id uint32, key string) {
	t.Helper()
	f.action(id)
	waitClick(t, n, key)
}

// logBuffer collects log lines, and lets a test wait for one.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // a token after each write
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until the log contains s.
func (l *logBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.wrote:
		case <-timeout:
			t.Fatalf("no log line with %q", s)
		}
	}
}

func newTestNotifier(t *testing.T, dial dialFunc, fallback fallbackFunc) (*dbusNotifier, *logBuffer) {
	t.Helper()
	logs := &logBuffer{wrote: make(chan struct{}, 1)}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if fallback == nil {
		fallback = func(context.Context, Toast) error { return errors.New("no fallback in this test") }
	}
	n := newDBus("xpush", "/icon.png", log, dial, fallback)
	t.Cleanup(func() {
		n.Close()
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	return n, logs
}

func dialFake(f *fakeBus, caps ...string) dialFunc {
	return func(context.Context) (bus, server, error) {
		return f, server{info: notify.ServerInformation{Name: "fake"}, caps: caps}, nil
	}
}

func waitClick(t *testing.T, n Notifier, want string) {
	t.Helper()
	select {
	case got, ok := <-n.Clicks():
		if !ok || got != want {
			t.Fatalf("click = %q (open %v), want %q", got, ok, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no click for %q", want)
	}
}

func noClick(t *testing.T, n Notifier) {
	t.Helper()
	select {
	case got := <-n.Clicks():
		t.Fatalf("unexpected click %q", got)
	default:
	}
}

func show(t *testing.T, n Notifier, key string) {
	t.Helper()
	if err := n.Show(context.Background(), Toast{Key: key, Title: "t " + key, Body: "b"}); err != nil {
		t.Fatalf("Show(%s): %v", key, err)
	}
}

func TestDBusMessage(t *testing.T) {
	f := newFakeBus()
	n, _ := newTestNotifier(t, dialFake(f, "actions", "body", "body-markup"), nil)
	err := n.Show(context.Background(), Toast{Key: "k", Title: "A <b> & \x1b title", Body: "x < y & <a href=\"file:///\">z</a>", HasLink: true})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Show(context.Background(), Toast{Key: "k2", Title: "no link"})
	if err != nil {
		t.Fatal(err)
	}
	m := f.posted[0]
	if m.AppName != "xpush" || m.AppIcon != "/icon.png" {
		t.Errorf("app = %q, icon = %q", m.AppName, m.AppIcon)
	}
	if m.Summary != "A <b> &   title" {
		t.Errorf("summary = %q", m.Summary)
	}
	if want := "x &lt; y &amp; &lt;a href=\"file:///\"&gt;z&lt;/a&gt;"; m.Body != want {
		t.Errorf("body = %q, want %q", m.Body, want)
	}
	if len(m.Actions) != 1 || m.Actions[0] != (notify.Action{Key: "default", Label: "Open"}) {
		t.Errorf("actions = %v", m.Actions)
	}
	if got := f.posted[1].Actions; len(got) != 1 || got[0].Key != "default" || got[0].Label != "Show" {
		t.Errorf("actions without link = %v", got)
	}
	if m.ExpireTimeout != -time.Millisecond {
		t.Errorf("expire = %v, want -1ms (the server's default)", m.ExpireTimeout)
	}
}

func TestDBusPlainBody(t *testing.T) {
	f := newFakeBus()
	n, _ := newTestNotifier(t, dialFake(f, "actions", "body"), nil)
	show(t, n, "k")
	if err := n.Show(context.Background(), Toast{Key: "k", Body: "a < b"}); err != nil {
		t.Fatal(err)
	}
	if got := f.posted[1].Body; got != "a < b" {
		t.Errorf("body = %q: no escaping without body-markup", got)
	}
}

func TestDBusClicks(t *testing.T) {
	f := newFakeBus()
	n, logs := newTestNotifier(t, dialFake(f, "actions"), nil)
	for i := 1; i <= 3; i++ {
		show(t, n, fmt.Sprint("k", i))
	}
	f.action(2)
	waitClick(t, n, "k2")
	f.mu.Lock()
	closes := slices.Clone(f.closes)
	f.mu.Unlock()
	if !slices.Equal(closes, []uint32{2}) {
		t.Errorf("CloseNotification calls = %v, want [2] after the click", closes)
	}

	// Ignored: another application's id, another action, a signal from a
	// peer that does not own the name, and malformed bodies.
	f.action(77)
	f.emit(serverName, sigAction, uint32(1), "other")
	f.emit(":1.666", sigAction, uint32(1), defaultAction)
	f.emit(serverName, sigAction, "1", defaultAction)
	f.emit(serverName, sigAction, uint32(1))
	f.emit(serverName, sigAction, uint32(1), 5)
	f.emit(serverName, sigClosed, uint32(1), "x")
	f.sigs <- &dbus.Signal{Sender: serverName, Path: "/elsewhere", Name: sigAction, Body: []any{uint32(1), defaultAction}}
	f.sigs <- nil
	f.sync(t, n, 3, "k3")
	noClick(t, n)
	if !strings.Contains(logs.String(), "non-owner") {
		t.Error("the forged signal was not logged")
	}

	// Closed: forgotten.
	f.closed(1)
	f.action(1)
	f.sync(t, n, 3, "k3")
	noClick(t, n)
	n.mu.Lock()
	if _, ok := n.ids.key(1); ok {
		t.Error("id 1 still tracked after NotificationClosed")
	}
	n.mu.Unlock()
}

func TestDBusTrackerBounded(t *testing.T) {
	f := newFakeBus()
	n, _ := newTestNotifier(t, dialFake(f, "actions"), nil)
	for i := 1; i <= maxTracked+10; i++ {
		show(t, n, fmt.Sprint("k", i))
	}
	n.mu.Lock()
	size := n.ids.len()
	n.mu.Unlock()
	if size != maxTracked {
		t.Errorf("tracked %d ids, want %d", size, maxTracked)
	}
	f.action(1) // evicted: no click
	f.sync(t, n, maxTracked+10, fmt.Sprint("k", maxTracked+10))
	noClick(t, n)
}

func TestDBusSlowReader(t *testing.T) {
	f := newFakeBus()
	n, logs := newTestNotifier(t, dialFake(f, "actions"), nil)
	show(t, n, "k")
	show(t, n, "marker")
	for range clickQueue + 5 {
		f.action(1)
	}
	f.closed(1)
	logs.waitFor(t, "toast: closed")
	// Nobody read until now. A loop that blocked on the full queue would
	// deliver the overflow once the reader drains it; this one dropped it
	// and went on, so after the queued clicks the next is the marker.
	for range clickQueue {
		waitClick(t, n, "k")
	}
	f.action(2)
	waitClick(t, n, "marker")
	if c := strings.Count(logs.String(), "click dropped"); c != 5 {
		t.Errorf("logged %d dropped clicks, want 5", c)
	}
	n.mu.Lock()
	_, ok := n.ids.key(1)
	n.mu.Unlock()
	if ok {
		t.Error("the close behind the dropped clicks was not handled")
	}
}

func TestDBusClose(t *testing.T) {
	f := newFakeBus()
	n, _ := newTestNotifier(t, dialFake(f, "actions"), nil)
	show(t, n, "k")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the loop: the fake's signal channel is closed and
	// Clicks is closed.
	if _, ok := <-n.Clicks(); ok {
		t.Error("Clicks still open after Close")
	}
	if err := n.Show(context.Background(), Toast{Key: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Show after Close = %v, want ErrClosed", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestDBusFallback(t *testing.T) {
	var dials int
	var fb []string
	dialErr := errors.New("dial unix /run/user/0/bus: no such file or directory")
	dial := func(context.Context) (bus, server, error) {
		dials++
		return nil, server{}, dialErr
	}
	fallback := func(_ context.Context, t Toast) error {
		fb = append(fb, t.Key)
		return nil
	}
	n, logs := newTestNotifier(t, dial, fallback)
	now := time.Unix(1_700_000_000, 0)
	n.now = func() time.Time { return now }

	show(t, n, "a")
	show(t, n, "b")
	if dials != 1 {
		t.Errorf("dialled %d times within redialInterval, want 1", dials)
	}
	if strings.Join(fb, ",") != "a,b" {
		t.Errorf("fallback showed %v", fb)
	}
	if c := strings.Count(logs.String(), "no D-Bus notification service"); c != 1 {
		t.Errorf("logged the fallback %d times, want once:\n%s", c, logs)
	}

	now = now.Add(redialInterval)
	show(t, n, "c")
	if dials != 2 {
		t.Errorf("dials = %d, want a retry after redialInterval", dials)
	}
	if c := strings.Count(logs.String(), "no D-Bus notification service"); c != 1 {
		t.Errorf("logged the fallback %d times, want still once", c)
	}

	// The daemon appears: D-Bus takes over, and clicks come back.
	f := newFakeBus()
	n.dial = dialFake(f, "actions")
	now = now.Add(redialInterval)
	show(t, n, "d")
	if len(f.posted) != 1 || len(fb) != 3 {
		t.Fatalf("posted %d through D-Bus, %d through the fallback", len(f.posted), len(fb))
	}
	f.action(1)
	waitClick(t, n, "d")

	// The connection drops: the next toast redials.
	f.Close()
	n.loops.Wait() // the loop ends with its connection
	if !strings.Contains(logs.String(), "D-Bus connection lost") {
		t.Error("the lost connection was not logged")
	}
	f2 := newFakeBus()
	n.dial = dialFake(f2, "actions")
	show(t, n, "e")
	if len(f2.posted) != 1 {
		t.Error("no redial after the connection was lost")
	}
}

func TestDBusNotifyError(t *testing.T) {
	f := newFakeBus()
	f.err = &dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown"}
	n, _ := newTestNotifier(t, dialFake(f, "actions"), nil)
	err := n.Show(context.Background(), Toast{Key: "k"})
	var derr *dbus.Error
	if !errors.As(err, &derr) || !strings.HasPrefix(err.Error(), "toast: notify: ") {
		t.Errorf("Show = %v", err)
	}
}
