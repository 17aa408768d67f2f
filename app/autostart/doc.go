// Package autostart turns "start xpush at login" on and off, the way each
// desktop expects:
//
//	platform      entry
//	Linux, BSDs   an XDG autostart entry, $XDG_CONFIG_HOME/autostart/xpush.desktop
//	              (~/.config/autostart when $XDG_CONFIG_HOME is unset or relative)
//	macOS         a launchd agent, ~/Library/LaunchAgents/org.xpush.agent.plist,
//	              with RunAtLoad, for GUI (Aqua) sessions
//	Windows       the value "xpush" of HKCU\Software\Microsoft\Windows\CurrentVersion\Run
//
// [New] takes the folders to use in [Options] (empty fields mean the
// user's own) and does no I/O; the returned [Entry] has the three
// operations, which are idempotent. The package-level [Enabled], [Enable]
// and [Disable] use the defaults.
//
// Enable writes the command line exe args... with exe an absolute path,
// quoted for the platform: per the Desktop Entry specification's Exec
// rules (quotes, backslashes, and %% for a literal %), as XML text in the
// property list's ProgramArguments, or per the Windows command-line rules.
// Arguments with control characters are refused rather than mangled. An
// XDG entry for a program whose path holds a % starts it through
// /usr/bin/env, because GLib refuses such an Exec program.
//
// Enabled reports whether the entry exists and the desktop will honour
// it: an XDG entry with Hidden=true or X-GNOME-Autostart-enabled=false
// (as a desktop's startup-applications tool writes it) counts as off, and
// so does a Run value that Windows' Task Manager marked disabled (Enable
// clears that mark). The entry is read at login, so neither operation
// starts or stops a running xpush.
package autostart
