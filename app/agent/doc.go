// Package agent is the heart of the xpush tray agent: the process that
// runs all day. It owns the XMPP session, turns each notification into a
// history entry and then a toast, turns a click on a toast into an opened
// link or the history window, keeps the connection status the tray shows,
// and answers the window process through [control.Agent].
//
// It imports neither Fyne nor systray: the tray (package tray) and the
// windows (package ui, in a child process) are wired to it by main through
// [Options] (ShowWindow, OnStatus) and the local socket (package ipc), so
// the agent builds and is tested with CGO_ENABLED=0.
//
// # Model
//
// [New] checks the options and does no I/O. [Agent.Run] owns everything
// until its context ends, and returns after every goroutine it started has
// ended:
//
//   - it loads the configuration file (package config); a broken file is
//     reported in Status.Reason and the agent goes on without it;
//   - a session supervisor runs one xmpp.Client for the configured account
//     (its password read from the keyring on each login), or, with no
//     account and Options.Demo set, the local demo server and its account,
//     or waits for an account; SaveAccount replaces the session;
//   - each notification is stored first (history.Add, on a context that
//     shutdown does not cancel, so a notification the client has
//     acknowledged is not lost halfway) and shown second, only when Add
//     reported it new, and only when do-not-disturb is off and its
//     sender's domain is not muted;
//   - clicks on toasts are read from Toasts.Clicks: a safe link
//     (opener.Check) opens and marks the entry read; any other entry opens
//     the history window, which asks before opening an unsafe link;
//   - a sleep of the machine (the wall clock running ahead of the
//     monotonic clock) makes the client reconnect at once. The readings
//     cost no wake-up of their own while the agent is online: each read
//     and write on the XMPP connection takes one, and the client's
//     keepalive writes at least once per keepalive interval. While it is
//     connecting or offline, a ticker every DefaultWakeInterval (the
//     keepalive's interval) takes them. On Linux, NetworkManager's
//     StateChanged and logind's PrepareForSleep on the system bus do the
//     same, when a system bus is there;
//   - do-not-disturb ends on time, by a timer armed only while it is on;
//   - the unread count is read again after the agent's own changes and on
//     each Status call: the window process, which marks entries read in
//     the shared history file, calls Status after its changes, and main
//     calls it when a window process ends.
//
// Idle and online, the agent thus has no timer of its own: the process
// wakes up for the XMPP client's keepalive (a space every 60 seconds, an
// XEP-0199 ping after 150 seconds of silence from the server) and for the
// Go runtime (the forced GC every two minutes, its scavenger, sysmon).
// scripts/bench-idle.sh measures them.
//
// Status changes reach Options.OnStatus from one goroutine, in order, with
// bursts collapsed into the latest status.
//
// A permanent connection error (a wrong password, registration refused)
// stays in the status until the account is saved again: the agent does
// not retry it on wake-up or network changes.
//
// # Secrets
//
// The account's password is in the keyring (Options.Secrets) and nowhere
// else: the configuration file has no field for it, SaveAccount stores it
// (or a generated one, when it creates the account) before anything is
// registered or saved, and a keyring that cannot store it fails the save
// with nothing written.
package agent
