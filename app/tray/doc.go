// Package tray is the agent's icon and menu in the system tray (the
// notification area on Windows, the menu bar on macOS, a
// StatusNotifierItem on Linux and BSD), built on fyne.io/systray, the tray
// library Fyne itself uses, without the Fyne driver: the agent process
// that holds the tray all day stays free of Fyne's render loop.
//
// The package has two halves:
//
//   - [Model] is pure: for a control.Status and a clock it returns the
//     [Menu], its entries with their labels, check marks and enabled
//     states, the tooltip, the title and the [Icon] to show. Tests and
//     other front ends use it without a desktop.
//   - [Run] drives fyne.io/systray: it builds the menu once, applies each
//     status from its channel by changing only the labels, check marks
//     and icon that differ, and turns clicks into [Actions]. It must run
//     on the main goroutine (macOS and Windows need the main thread), can
//     show the tray once per process, and returns when its context ends
//     or the user chooses Quit.
//
// The menu:
//
//	Connected as alice@example.org        (disabled: the state in words)
//	Open history (3 unread)               ShowWindow("history")
//	───
//	Pause notifications ▸                 "Paused until 15:04" while paused
//	    ☐ For 1 hour                      SetDND(now + 1h)
//	    ☐ Until tomorrow                  SetDND(tomorrow 08:00)
//	    ☑ Off                             SetDND(zero)
//	───
//	Account…                              ShowWindow("account")
//	Settings…                             ShowWindow("settings")
//	───
//	Quit                                  Quit(), and Run returns
//
// While the local demo runs, the first line reads "Demo: console at
// http://127.0.0.1:8080/" and is enabled: it opens the account window,
// which shows the console's address and its admin password.
//
// Per platform: on Linux and BSD the tray is exported on the D-Bus session
// bus (godbus, pure Go); fyne.io/systray panics on quit without one, so
// Run shows no tray and says why in the log unless
// $DBUS_SESSION_BUS_ADDRESS names a bus that answers. A tray host (a
// StatusNotifierWatcher) is not needed to run: the item registers when
// one appears. The title beside the icon (the unread count) shows on
// macOS only. Windows gets the icon as an ICO made of both PNG sizes, and
// is pure Go; macOS needs cgo (Cocoa).
package tray
