//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"context"
	"os"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
)

// available reports whether the tray can be shown, and why not. On Linux
// and BSD the tray is a StatusNotifierItem on the D-Bus session bus, and
// fyne.io/systray panics on quit when it could not connect to one, so the
// tray runs only when $DBUS_SESSION_BUS_ADDRESS names a bus that answers.
// The probe is the shared connection systray itself uses next (and closes
// when it quits); an unset address is not autolaunched.
func available() (bool, string) {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr == "" || addr == "autolaunch:" {
		return false, "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set"
	}
	if _, err := dbus.SessionBus(); err != nil {
		return false, "the D-Bus session bus does not answer: " + err.Error()
	}
	return true, ""
}

// serve runs the tray until ctx ends or the user chooses Quit.
//
// On D-Bus there is no event loop to run, so this uses systray's
// external-loop mode and builds everything before start: start exports
// the item with the icon, tooltip and menu as they are then. (With
// systray.Run the menu is built while start exports, and an icon or
// tooltip set between the moment start reads them and the moment it
// publishes the item is lost.)
func (r *runner) serve(ctx context.Context) {
	start, end := systray.RunWithExternalLoop(nil, nil)
	// The StatusNotifierItem's Id and Title.
	systray.SetTitle(appName)
	r.build()
	start()
	defer func() {
		// end closes the bus connection, and panics when start could not
		// open it (the bus went away after available's probe).
		defer func() {
			if p := recover(); p != nil {
				r.opts.Log.Error("tray: closing the tray", "panic", p)
			}
		}()
		end()
	}()
	if r.opts.OnReady != nil {
		r.opts.OnReady()
	}
	r.loop(ctx)
}
