// Package demo runs xpush's local demo: an xpushd in the same process on
// loopback, with its data in the user's data directory, a fresh
// auto-registered account for the agent, and the web console's address
// and admin password printed so that a first push can be sent at once.
package demo
