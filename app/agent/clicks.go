package agent

import (
	"context"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/opener"
)

// clicks turns each click on a toast into an action until ctx ends or
// the Notifier is closed.
func (a *Agent) clicks(ctx context.Context) {
	if a.opts.Toasts == nil {
		return
	}
	ch := a.opts.Toasts.Clicks()
	for {
		select {
		case <-ctx.Done():
			return
		case key, ok := <-ch:
			if !ok {
				return
			}
			a.click(ctx, key)
		}
	}
}

// click opens the entry's link when it is safe and marks the entry read;
// anything else (no link, an unsafe one, an entry gone) opens the history
// window, which asks before opening an unsafe link.
func (a *Agent) click(ctx context.Context, key string) {
	e, err := a.opts.History.Get(ctx, key)
	switch {
	case err != nil:
		a.log.Info("agent: clicked toast has no history entry", "key", key, "err", err)
	case e.URI != "" && !e.URIUnsafe && opener.Check(e.URI) == nil:
		if err := a.opts.Open(ctx, e.URI); err != nil {
			a.log.Warn("agent: open link", "key", key, "err", err)
			break
		}
		if err := a.opts.History.SetRead(ctx, key, true); err != nil {
			a.log.Warn("agent: mark read", "key", key, "err", err)
		}
		a.refreshUnread(ctx)
		return
	}
	a.showWindow(control.WindowHistory)
}

func (a *Agent) showWindow(w string) {
	if a.opts.ShowWindow == nil {
		a.log.Info("agent: no window process to show", "window", w)
		return
	}
	a.opts.ShowWindow(w)
}
