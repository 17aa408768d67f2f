//go:build !((linux || freebsd || openbsd || netbsd) && !android)

package tray

import (
	"context"
	"runtime"
	"sync"

	"fyne.io/systray"
)

// available reports whether the tray can be shown: always on Windows and
// macOS, where it is part of the desktop.
func available() (bool, string) { return true, "" }

// serve runs the tray until ctx ends or the user chooses Quit, on the
// platform's event loop: systray.Run returns after systray.Quit. The menu
// is built in onReady, which systray calls once the tray exists, and the
// loop runs beside the event loop.
func (r *runner) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		launched bool // the loop runs
		returned bool // systray.Run has returned
	)
	loopDone := make(chan struct{})
	onReady := func() {
		r.build()
		mu.Lock()
		if returned {
			mu.Unlock()
			return
		}
		launched = true
		mu.Unlock()
		go func() {
			defer close(loopDone)
			r.loop(ctx)
			mu.Lock()
			stop := !returned
			mu.Unlock()
			if stop {
				systray.Quit()
			}
		}()
		if r.opts.OnReady != nil {
			r.opts.OnReady()
		}
	}
	// Windows reads the tray window's messages on the thread that made
	// the window: keep this goroutine on one thread (the main goroutine
	// already is, and macOS needs it).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	systray.Run(onReady, nil)

	mu.Lock()
	returned = true
	wait := launched
	mu.Unlock()
	cancel()
	if wait {
		<-loopDone
	}
}
