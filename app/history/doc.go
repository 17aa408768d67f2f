// Package history is the tray agent's notification history: every
// notification the agent showed, kept on disk across restarts in one
// SQLite file (DefaultPath), for the history window to list, search, mark
// read or unread and delete.
//
// # Model
//
// An Entry is one notification, identified by its Key, the notification's
// DedupeKey ("iq:ID", "message:sid:FROM:ID"), or a random key (NewKey) for
// one that carries no id; FromNotification builds it. The history holds
// each key at most once, and remembers the keys the user deleted, so a
// redelivered notification is a duplicate even after Delete or Clear.
// Entries are listed newest first (by Received); search looks for every
// word of the query in the title, message, uri and sender, ignoring case,
// with no wildcard characters.
//
// Retention keeps at most Options.MaxEntries entries (10,000 by default)
// received within Options.MaxAge (90 days). Add and Open prune; a count
// the schema's triggers keep up to date makes that a single-row read when
// there is nothing to prune.
//
// # Durability
//
// The rule: store first, show second. Add commits its transaction with
// synchronous=FULL in WAL mode, so the entry is on disk when Add returns,
// and it reports whether the key was new. The agent shows a toast only
// when Add reported added=true: a notification that was shown is in the
// history even if the agent is killed a moment later, and one the server
// delivers again after a restart (because its acknowledgement was lost)
// is not shown twice. The agent acknowledges the notification to the
// server after Add returned, whatever added says.
//
// # Two processes
//
// The agent (which adds) and the history window (a child process, which
// reads, marks and deletes) open the same file with Open. WAL lets readers
// run beside the one writer; a writer waits up to ten seconds for the
// other's write lock. Version returns a number that changes with every
// change to the entries, in either process; the window polls it (a
// single-row read, once a second while it is shown) and reloads its list
// only when it changed.
//
// Schema changes are numbered migrations embedded in the program
// (migrations/NNNN_name.sql) and recorded in PRAGMA user_version; Open
// refuses a file from a newer program with ErrNewerSchema. A write that
// fails because the disk is full returns an error wrapping ErrDiskFull.
package history
