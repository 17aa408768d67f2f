package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/history"
)

// AppID is the Fyne application id of the windows.
const AppID = "org.xpush.xpush"

// Timings of the windows.
const (
	// PollInterval is how often the history window asks the history
	// whether it changed (a one-row read).
	PollInterval = time.Second
	// StatusInterval is how often the account window asks the agent for
	// its status, to show why it is offline.
	StatusInterval = 2 * time.Second
	// SearchDelay is how long the search waits after the last keystroke.
	SearchDelay = 300 * time.Millisecond
	// CallTimeout bounds every call to the agent; saving an account that
	// is created in-band is the slowest.
	CallTimeout = 30 * time.Second
	// PreviewTimeout bounds the whole fetch of an image preview.
	PreviewTimeout = 5 * time.Second
	// PreviewMaxBytes is the largest image a preview downloads.
	PreviewMaxBytes = 5 << 20
)

// env is what a window depends on; tests build their own.
type env struct {
	agent control.Agent
	hist  *history.Store
	// do runs f on the Fyne main goroutine: fyne.Do, or a test's queue.
	do  func(f func())
	now func() time.Time

	poll, statusPoll, debounce, callTimeout time.Duration

	preview *http.Client
	log     *slog.Logger
}

func newEnv(agent control.Agent, hist *history.Store) *env {
	return &env{
		agent:       agent,
		hist:        hist,
		do:          fyne.Do,
		now:         time.Now,
		poll:        PollInterval,
		statusPoll:  StatusInterval,
		debounce:    SearchDelay,
		callTimeout: CallTimeout,
		preview:     newPreviewClient(),
		log:         slog.Default(),
	}
}

// base is what every window has: the goroutines it owns and the
// scheduler that hands their results to the main goroutine.
type base struct {
	env *env
	win fyne.Window

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	closers []func() // run by close, on the main goroutine
}

// onClose adds f to what close runs.
func (b *base) onClose(f func()) { b.closers = append(b.closers, f) }

func (b *base) init(e *env, w fyne.Window) {
	b.env, b.win = e, w
	b.ctx, b.cancel = context.WithCancel(context.Background())
}

// do runs f on the main goroutine, unless the window has closed: after
// that the driver may have stopped, and nothing is left to update.
func (b *base) do(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.env.do(f)
}

// async runs work in a goroutine the window owns, with a context that
// ends when the window closes or after callTimeout, and then runs the
// function work returned (if any) on the main goroutine.
func (b *base) async(work func(ctx context.Context) func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.ctx, b.env.callTimeout)
		defer cancel()
		if f := work(ctx); f != nil {
			b.do(f)
		}
	}()
}

// every calls f every interval (and once at once) in a goroutine the
// window owns, until the window closes.
func (b *base) every(interval time.Duration, f func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			f(b.ctx)
			select {
			case <-b.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// close stops the window's goroutines and drops their pending updates.
// It runs on the main goroutine (from the window's OnClosed) and does not
// wait: see wait.
func (b *base) close() {
	b.mu.Lock()
	was := b.closed
	b.closed = true
	b.mu.Unlock()
	if was {
		return
	}
	b.cancel()
	for _, f := range b.closers {
		f()
	}
}

// wait waits for the window's goroutines, which end soon after close.
func (b *base) wait() { b.wg.Wait() }

// relayout lays the window's content out again, after something in it
// was shown, hidden or grew.
func (b *base) relayout() {
	if c := b.win.Content(); c != nil {
		c.Refresh()
	}
}

// userMessage turns an error from the agent into a sentence.
func userMessage(err error) string {
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return "xpush is not running."
	case errors.Is(err, context.DeadlineExceeded):
		return "xpush did not answer in time."
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	}
	return err.Error()
}

// Window is one of the windows, with the goroutines it owns; they end
// when the window is closed.
type Window struct {
	fyne.Window
	b *base
}

// Wait waits for the window's goroutines to end, after it was closed.
func (w *Window) Wait() { w.b.wait() }

// NewWindow builds the window name (control.WindowHistory,
// WindowAccount or WindowSettings) on a, without showing it. hist is
// needed by the history window only.
func NewWindow(a fyne.App, name string, agent control.Agent, hist *history.Store) (*Window, error) {
	if agent == nil {
		return nil, errors.New("ui: no agent")
	}
	if err := checkName(name, hist); err != nil {
		return nil, err
	}
	return newWindow(a, name, newEnv(agent, hist))
}

func checkName(name string, hist *history.Store) error {
	switch name {
	case control.WindowHistory:
		if hist == nil {
			return errors.New("ui: the history window needs the history")
		}
	case control.WindowAccount, control.WindowSettings:
	default:
		return fmt.Errorf("ui: no window %q (history, account or settings)", name)
	}
	return nil
}

func newWindow(a fyne.App, name string, e *env) (*Window, error) {
	w := a.NewWindow("xpush")
	var b *base
	switch name {
	case control.WindowHistory:
		b = &newHistoryView(w, e).base
	case control.WindowAccount:
		b = &newAccountView(w, e).base
	case control.WindowSettings:
		b = &newSettingsView(w, e).base
	default:
		return nil, fmt.Errorf("ui: no window %q", name)
	}
	w.SetOnClosed(b.close)
	return &Window{Window: w, b: b}, nil
}

// Run creates the Fyne app, shows the window name (control.WindowHistory,
// WindowAccount or WindowSettings) and returns when it has been closed and
// its goroutines have ended. hist is needed by the history window only.
func Run(name string, agent control.Agent, hist *history.Store) error {
	if agent == nil {
		return errors.New("ui: no agent")
	}
	if err := checkName(name, hist); err != nil {
		return err
	}
	a := app.NewWithID(AppID)
	w, err := newWindow(a, name, newEnv(agent, hist))
	if err != nil {
		return err
	}
	w.SetMaster()
	w.ShowAndRun()
	// The app may also end without the window's OnClosed (a signal, a
	// quit from the desktop): stop the goroutines either way.
	w.b.close()
	w.Wait()
	return nil
}
