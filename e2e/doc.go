// Package e2e holds end-to-end tests of the xpush binaries as users see
// them: the tray agent on a private X display (Xvfb) and session bus, with
// dunst showing its toasts, gnome-keyring holding its password and a fake
// browser recording the links it opens; the agent's tray as a tray host
// sees it (a StatusNotifierWatcher of the test's own on a private session
// bus), started with no account so that it offers the local demo; and
// cross-builds of the agent.
//
// The tests run when the tools they need are installed and skip
// otherwise; with XPUSH_INTEROP=1 a missing tool fails them instead.
// XPUSH_SCREENSHOTS=1 writes the screenshots to docs/screenshots.
// XPUSH_CROSS=1 turns on the (slow, cold-cache) Windows cross-build.
package e2e
