// Package control is the contract between the tray agent process and the
// processes that talk to it: the Fyne windows (history, account,
// settings), which run in a child process started on demand, and a
// second `xpush` start, which asks the running agent to show itself.
//
// [Agent] is what they may ask of the agent; the agent implements it, and
// the local-socket client implements it in the other processes, so the
// windows are written and tested against this interface alone. The
// notification history is not in it: both processes open the same SQLite
// history file (package history).
package control
