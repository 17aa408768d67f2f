package tray

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/systray"

	"github.com/xpush/xpush/app/control"
)

// Actions are what the menu's entries do. Run calls them one at a time
// from its own goroutine, so they should return promptly; a nil one does
// nothing.
type Actions struct {
	// ShowWindow opens a window: control.WindowHistory,
	// control.WindowAccount or control.WindowSettings.
	ShowWindow func(name string)
	// SetDND turns do-not-disturb on until the given time, or off with the
	// zero time.
	SetDND func(until time.Time)
	// Quit is called when the user chooses Quit; Run returns after it.
	Quit func()
}

// Options configure [Run].
type Options struct {
	// OnReady is called once the menu is built (or, without a tray, once
	// Run knows there is none), on a goroutine of Run's. It should return
	// promptly: the tray answers its host's first request for the menu
	// after it.
	OnReady func()
	Actions Actions
	// Status delivers the agent's status; the tray shows the latest. Run
	// stops reading when it is closed and keeps showing the last one.
	Status <-chan control.Status
	// Log receives why there is no tray and other events; nil means
	// slog.Default().
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ran is set by the first Run that starts fyne.io/systray, whose state is
// global and which can start only once per process.
var ran atomic.Bool

// errRan is returned by a second Run that would start the tray.
var errRan = errors.New("tray: the system tray can be started once per process")

// Run shows the tray icon and menu and keeps them up to date with
// opts.Status, until ctx ends or the user chooses Quit; then it removes
// the tray and returns nil.
//
// Call it from the main goroutine: macOS runs the tray's event loop on
// the process's main thread (fyne.io/systray locks the main goroutine to
// it when the package is loaded). Windows runs it on the thread that made
// the tray's window, which Run holds on to; Linux needs neither. Run can
// show the tray once per process.
//
// Where there is no tray (Linux and BSD without a D-Bus session bus), Run
// logs why, calls OnReady, reads and drops statuses, and returns when ctx
// ends. It uses no ticker: besides statuses and clicks, it wakes only
// when a label goes stale ([Menu.Stale]).
func Run(ctx context.Context, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if ok, why := available(); !ok {
		opts.Log.Warn("tray: running without a tray icon", "reason", why)
		return headless(ctx, opts)
	}
	if !ran.CompareAndSwap(false, true) {
		return errRan
	}

	r := &runner{opts: opts, goos: runtime.GOOS}
	r.serve(ctx)
	return nil
}

// headless is Run without a tray.
func headless(ctx context.Context, opts Options) error {
	if opts.OnReady != nil {
		opts.OnReady()
	}
	status := opts.Status
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-status:
			if !ok {
				status = nil
			}
		}
	}
}

// menuItem is what the runner changes on a fyne.io/systray menu item.
type menuItem interface {
	SetTitle(string)
	Enable()
	Disable()
	Check()
	Uncheck()
}

var _ menuItem = (*systray.MenuItem)(nil)

// runner owns the tray while it runs: build makes the menu, then loop
// alone changes it.
type runner struct {
	opts   Options
	goos   string
	status control.Status
	shown  Menu
	items  map[ItemID]menuItem
	clicks map[ItemID]<-chan struct{}
}

// build creates the icon and the menu for the zero status ("Starting…").
func (r *runner) build() {
	m := Model(r.status, r.opts.Now())
	r.items = make(map[ItemID]menuItem)
	r.clicks = make(map[ItemID]<-chan struct{})
	for _, it := range m.Items {
		if it.Separator() {
			systray.AddSeparator()
			continue
		}
		var mi *systray.MenuItem
		if it.Checkable {
			mi = systray.AddMenuItemCheckbox(it.Label, "", it.Checked)
		} else {
			mi = systray.AddMenuItem(it.Label, "")
		}
		r.add(it, mi)
		for _, c := range it.Children {
			if c.Separator() {
				mi.AddSeparator()
				continue
			}
			var ci *systray.MenuItem
			if c.Checkable {
				ci = mi.AddSubMenuItemCheckbox(c.Label, "", c.Checked)
			} else {
				ci = mi.AddSubMenuItem(c.Label, "")
			}
			r.add(c, ci)
		}
	}
	r.setIcon(m.Icon)
	systray.SetTooltip(m.Tooltip)
	if r.goos == "darwin" {
		systray.SetTitle(m.Title)
	}
	r.shown = m
}

func (r *runner) add(it Item, mi *systray.MenuItem) {
	if !it.Enabled {
		mi.Disable()
	}
	r.items[it.ID] = mi
	r.clicks[it.ID] = mi.ClickedCh
}

func (r *runner) setIcon(c Icon) {
	b, err := iconBytes(r.goos, c)
	if err != nil {
		r.opts.Log.Error("tray: icon", "err", err)
		return
	}
	systray.SetIcon(b)
}

// loop applies statuses and dispatches clicks until ctx ends or the user
// chooses Quit.
func (r *runner) loop(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// fyne.io/systray drops a click when nobody is receiving on the item's
	// channel at that moment, so one goroutine per item always is, and
	// queues the click here for the loop.
	clicks := make(chan ItemID, 8)
	for id, ch := range r.clicks {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					select {
					case clicks <- id:
					default:
						r.opts.Log.Warn("tray: click dropped, too many queued", "item", id)
					}
				}
			}
		})
	}

	var (
		stale  *time.Timer
		staleC <-chan time.Time
	)
	defer func() {
		if stale != nil {
			stale.Stop()
		}
	}()
	render := func() {
		now := r.opts.Now()
		m := Model(r.status, now)
		r.apply(m)
		if stale != nil {
			stale.Stop()
			stale, staleC = nil, nil
		}
		if !m.Stale.IsZero() {
			stale = time.NewTimer(m.Stale.Sub(now))
			staleC = stale.C
		}
	}
	render()

	status := r.opts.Status
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-status:
			if !ok {
				status = nil
				continue
			}
			r.status = s
			render()
		case <-staleC:
			render()
		case id := <-clicks:
			quit, dnd, until := r.opts.Actions.do(id, r.opts.Now())
			if quit {
				return
			}
			if dnd {
				// Show the choice now; the agent's next status confirms it.
				r.status.DNDUntil = until
				render()
			}
		}
	}
}

// apply changes what differs between the menu shown and m.
func (r *runner) apply(m Menu) {
	if m.Icon != r.shown.Icon {
		r.setIcon(m.Icon)
	}
	if m.Tooltip != r.shown.Tooltip {
		systray.SetTooltip(m.Tooltip)
	}
	if m.Title != r.shown.Title && r.goos == "darwin" {
		systray.SetTitle(m.Title)
	}
	update(r.items, r.shown.Items, m.Items)
	r.shown = m
}

// update calls the setters for what changed from old to items, which have
// the same structure.
func update(mis map[ItemID]menuItem, old, items []Item) {
	for i, it := range items {
		if it.Separator() || i >= len(old) {
			continue
		}
		was, mi := old[i], mis[it.ID]
		if mi == nil {
			continue
		}
		if it.Label != was.Label {
			mi.SetTitle(it.Label)
		}
		if it.Enabled != was.Enabled {
			if it.Enabled {
				mi.Enable()
			} else {
				mi.Disable()
			}
		}
		if it.Checked != was.Checked {
			if it.Checked {
				mi.Check()
			} else {
				mi.Uncheck()
			}
		}
		update(mis, was.Children, it.Children)
	}
}

// do performs the action of the item clicked at now. It reports whether
// the user chose Quit, and whether and how do-not-disturb was set.
func (a Actions) do(id ItemID, now time.Time) (quit, dnd bool, until time.Time) {
	show := func(name string) {
		if a.ShowWindow != nil {
			a.ShowWindow(name)
		}
	}
	setDND := func(t time.Time) {
		dnd, until = true, t
		if a.SetDND != nil {
			a.SetDND(t)
		}
	}
	switch id {
	case ItemStatus, ItemAccount:
		// The state line is enabled while the demo runs: the account
		// window shows the demo's console and admin password.
		show(control.WindowAccount)
	case ItemHistory:
		show(control.WindowHistory)
	case ItemSettings:
		show(control.WindowSettings)
	case ItemPauseHour:
		setDND(now.Add(PauseFor))
	case ItemPauseTomorrow:
		setDND(Tomorrow(now))
	case ItemPauseOff:
		setDND(time.Time{})
	case ItemQuit:
		if a.Quit != nil {
			a.Quit()
		}
		return true, false, time.Time{}
	}
	return quit, dnd, until
}
