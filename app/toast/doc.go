// Package toast shows each notification as a native desktop toast and
// reports clicks on it.
//
// [New] picks the backend for the platform and returns a [Notifier]: Show
// posts a [Toast], Clicks delivers the Key of a clicked toast, Close stops
// everything. New does no I/O; the first Show contacts the platform. The
// owner turns a click into an action, typically: the toast's link opens
// with opener.Open when opener.Check accepts it (http and https), a link
// with another scheme is shown in the history window and opens only after
// the user confirms, and a toast without a link opens its history entry.
// Where the platform opens links itself (Toast.URI), the same rule holds:
// only links opener.Check accepts are handed over, others come back as
// clicks (Windows) or do nothing (macOS).
//
// What works, per platform:
//
//	platform          backend                       toast  icon         click
//	Linux, BSDs       org.freedesktop.Notifications yes    yes          Clicks(Key) (1)
//	                  over D-Bus (esiqveland/notify
//	                  types, godbus)
//	  no session bus  beeep (D-Bus without actions, if any  yes          none: use the
//	  or no daemon    notify-send, kdialog) (2)     works                history window
//	macOS             terminal-notifier, if on PATH yes    best effort  a safe link opens
//	                                                       (3)          directly (-open);
//	                                                                    else none (4)
//	  without it      osascript display notification yes   no           none (4)
//	Windows 10, 11    WinRT toast via go-toast's    yes    yes          a safe link opens
//	                  wintoast (COM, PowerShell                         directly (protocol
//	                  fallback) (5)                                     activation); else
//	                                                                    Clicks(Key) (6)
//	others            beeep                         if any  -           none
//
// (1) One long-lived private session-bus connection (ActionInvoked goes
// only to the connection that posted). Each toast carries exactly one
// action, keyed "default", labelled "Open" (HasLink) or "Show": with two
// actions and none keyed default, dunst opens a menu instead. The expiry is
// the server's (-1). ActionInvoked and NotificationClosed are read by one
// goroutine that Close ends; signals are accepted only from the current
// owner of org.freedesktop.Notifications, and only for ids this Notifier
// posted (at most 1000 remembered, forgotten when closed). After a click
// the toast is closed. The body is escaped when the server announces
// body-markup. A server without the "actions" capability shows toasts but
// sends no clicks (logged once). dunst: with its stock configuration a left
// click only dismisses (mouse_left_click = close_current); the middle click,
// the context menu and `dunstctl action 0` run the default action. Set
// mouse_left_click = do_action, close_current for click-to-open.
//
// (2) Logged once. D-Bus is tried again on the next toast after a minute, so
// a daemon that starts after the agent is picked up. No session bus is
// ever autolaunched.
//
// (3) -appIcon: older terminal-notifier shows it beside the text, newer
// versions attach it as an image; the notification itself carries
// terminal-notifier's icon. Texts are passed so that terminal-notifier
// reads them as plain strings.
//
// (4) Neither helper reports clicks, so Clicks never delivers on macOS; the
// history window is the way to a toast without a safe link. A click on an
// osascript notification may open Script Editor.
//
// (5) The toast XML is built by this package with everything escaped:
// go-toast's own template does not escape titles (injecting XML elements)
// and its PowerShell fallback would expand "$(...)" in them. The
// application is registered under HKCU\Software\Classes\AppUserModelId.
//
// (6) Foreground activation with an in-process COM activator: works while
// the agent runs and the COM path (not the PowerShell fallback) was used;
// built and vetted here, not yet verified on a Windows desktop. A toast
// clicked from the Action Center after the agent exited does nothing.
package toast
