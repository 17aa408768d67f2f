package assets

import (
	"embed"

	"github.com/xpush/xpush/app/control"
)

//go:generate go run ./gen -out .

//go:embed icon.png tray/*.png
var files embed.FS

// Icon returns the application icon, a 256×256 PNG.
func Icon() []byte { return read("icon.png") }

// Tray returns the 22×22 PNG tray icon for a connection state, with
// do-not-disturb active or not, and with unread notifications or not.
// The state decides first: connecting and offline (also no account, and
// any state this package does not know) have an icon of their own whatever
// dnd and unread say; when connected, do-not-disturb shows before unread.
func Tray(state control.State, dnd, unread bool) []byte {
	return read("tray/" + TrayName(state, dnd, unread) + ".png")
}

// Tray2x is [Tray] at 44×44, for HiDPI panels.
func Tray2x(state control.State, dnd, unread bool) []byte {
	return read("tray/" + TrayName(state, dnd, unread) + "@2x.png")
}

// TrayName names the icon [Tray] picks: "online", "online-unread",
// "connecting", "offline" or "dnd".
func TrayName(state control.State, dnd, unread bool) string {
	switch state {
	case control.StateOnline:
		switch {
		case dnd:
			return "dnd"
		case unread:
			return "online-unread"
		}
		return "online"
	case control.StateConnecting:
		return "connecting"
	}
	return "offline"
}

// read returns a copy of an embedded file; a missing one is a bug in this
// package, caught by its tests.
func read(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("assets: " + err.Error())
	}
	return b
}
