package ui

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/history"
)

var update = flag.Bool("update", false, "rewrite the golden markup files in testdata/")

// t0 is the fixed clock of the tests, in the local time zone like the
// history's entries.
var t0 = time.Date(2025, 3, 1, 14, 30, 0, 0, time.Local)

// loop stands in for the Fyne main goroutine: the windows' fyne.Do
// queues functions here, and the test goroutine runs them, so widgets are
// touched by the test goroutine alone (as with the real driver, by one).
type loop struct {
	mu   sync.Mutex
	q    []func()
	wake chan struct{}
}

func newLoop() *loop { return &loop{wake: make(chan struct{}, 1)} }

func (l *loop) Do(f func()) {
	l.mu.Lock()
	l.q = append(l.q, f)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run runs what is queued, in order.
func (l *loop) run() {
	for {
		l.mu.Lock()
		q := l.q
		l.q = nil
		l.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
	}
}

// until runs queued functions until cond holds, or fails the test after
// five seconds.
func (l *loop) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		l.run()
		if cond() {
			return
		}
		select {
		case <-l.wake:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// settle runs queued functions for d, for checks that something does not
// happen.
func (l *loop) settle(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		l.run()
		time.Sleep(5 * time.Millisecond)
	}
	l.run()
}

// fakeAgent is a control.Agent that records what it was asked.
type fakeAgent struct {
	mu           sync.Mutex
	status       control.Status
	statusErr    error
	account      control.Account
	settings     control.Settings
	saveErr      error
	opened       []string
	dnd          []time.Time
	accounts     []savedAccount
	savedSetting []control.Settings
	// onStatus, when set, is called at each Status call.
	onStatus func()
}

type savedAccount struct {
	Account  control.Account
	Password string
	Create   bool
}

func (f *fakeAgent) Status(context.Context) (control.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onStatus != nil {
		f.onStatus()
	}
	return f.status, f.statusErr
}

func (f *fakeAgent) SetDND(_ context.Context, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dnd = append(f.dnd, until)
	f.status.DNDUntil = until
	return nil
}

func (f *fakeAgent) Account(context.Context) (control.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.account == (control.Account{}) {
		return control.Account{}, errors.New("no account")
	}
	return f.account, nil
}

func (f *fakeAgent) SaveAccount(_ context.Context, a control.Account, password string, create bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saveErr != nil {
		return f.saveErr
	}
	f.accounts = append(f.accounts, savedAccount{a, password, create})
	f.account = a
	f.status = control.Status{State: control.StateConnecting}
	return nil
}

func (f *fakeAgent) Settings(context.Context) (control.Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings, nil
}

func (f *fakeAgent) SaveSettings(_ context.Context, s control.Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.savedSetting = append(f.savedSetting, s)
	f.settings = s
	return nil
}

func (f *fakeAgent) Open(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, key)
	return nil
}

func (f *fakeAgent) Show(context.Context, string) error { return nil }

func (f *fakeAgent) openedKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.opened)
}

func (f *fakeAgent) dndCalls() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.dnd)
}

func (f *fakeAgent) savedAccounts() []savedAccount {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.accounts)
}

func (f *fakeAgent) savedSettings() []control.Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.savedSetting)
}

// newTestEnv returns an env on the test app, with l as the main
// goroutine, the fixed clock and short timings.
func newTestEnv(t *testing.T, agent control.Agent, hist *history.Store) (*env, *loop) {
	t.Helper()
	l := newLoop()
	e := newEnv(agent, hist)
	e.do = l.Do
	e.now = func() time.Time { return t0 }
	e.poll = 20 * time.Millisecond
	e.statusPoll = 20 * time.Millisecond
	e.debounce = 30 * time.Millisecond
	e.callTimeout = 5 * time.Second
	e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	// No test reaches the network; preview tests set a real client.
	e.preview = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("offline")
	})}
	return e, l
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newStore opens a history in a temporary directory with the fixed clock.
func newStore(t *testing.T) *history.Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "history.db"))
}

// openStore opens the history at path with the fixed clock.
func openStore(t *testing.T, path string) *history.Store {
	t.Helper()
	s, err := history.Open(context.Background(), path, history.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// closeView closes the window when the test ends and waits for its
// goroutines.
func closeView(t *testing.T, w fyne.Window, b *base) {
	w.SetOnClosed(b.close)
	t.Cleanup(func() {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if !closed { // the test driver panics on a second Close
			w.Close()
		}
		b.wait()
	})
}

// objects returns every object of o's tree, laid out.
func objects(o fyne.CanvasObject) []fyne.CanvasObject {
	return test.LaidOutObjects(o)
}

// overlay returns the top overlay (a dialog) of w, or nil.
func overlay(w fyne.Window) fyne.CanvasObject {
	return w.Canvas().Overlays().Top()
}

// findButton returns the visible button labelled text in o's tree.
func findButton(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	for _, obj := range objects(o) {
		if b, ok := obj.(*widget.Button); ok && b.Text == text && b.Visible() {
			return b
		}
	}
	t.Fatalf("no button %q", text)
	return nil
}

// texts returns the text of every label in o's tree.
func texts(o fyne.CanvasObject) string {
	var b strings.Builder
	for _, obj := range objects(o) {
		if l, ok := obj.(*widget.Label); ok && l.Visible() {
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// assertMarkup compares the rendering of c with testdata/name, which
// -update rewrites.
func assertMarkup(t *testing.T, name string, c fyne.Canvas) {
	t.Helper()
	if *update {
		path := filepath.Join("testdata", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(test.RenderToMarkup(c)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	test.AssertRendersToMarkup(t, name, c)
}

func TestRunRefusesUnknownWindow(t *testing.T) {
	if err := Run("nope", &fakeAgent{}, nil); err == nil {
		t.Error("Run(nope) = nil")
	}
	if err := Run(control.WindowHistory, &fakeAgent{}, nil); err == nil {
		t.Error("Run(history) without a history = nil")
	}
	if err := Run(control.WindowAccount, nil, nil); err == nil {
		t.Error("Run without an agent = nil")
	}
}

func TestNewWindow(t *testing.T) {
	a := test.NewTempApp(t)
	hist := newStore(t)
	for _, name := range []string{control.WindowHistory, control.WindowAccount, control.WindowSettings} {
		w, err := NewWindow(a, name, &fakeAgent{}, hist)
		if err != nil {
			t.Fatalf("NewWindow(%s): %v", name, err)
		}
		// fyne.Do of the test driver runs on the calling goroutine:
		// close first (the window's lock orders it after any update).
		w.Close()
		w.Wait() // the goroutines end when the window closes
		if !strings.HasPrefix(w.Title(), "xpush: ") {
			t.Errorf("NewWindow(%s) title %q", name, w.Title())
		}
	}
	if _, err := NewWindow(a, "nope", &fakeAgent{}, hist); err == nil {
		t.Error("NewWindow(nope) = nil")
	}
}
