// Package listen is the headless agent, `xpush listen`: it runs the XMPP
// session without any window and prints one JSON object per notification
// on stdout, for scripts and tests.
package listen
