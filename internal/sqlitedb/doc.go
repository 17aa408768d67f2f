// Package sqlitedb opens an SQLite database file (modernc.org/sqlite:
// pure Go, builds with CGO_ENABLED=0) the way xpush's stores use one, and
// brings its schema up to date. It is shared by xpushd's store
// (server/store/sqlite) and the desktop agent's history (app/history),
// which differ only in what [Options] sets.
//
// # Connections
//
// [Open] returns a [DB] of two connection pools on one file: W, exactly
// one connection, for every write, with transactions begun IMMEDIATE (so
// writers queue in Go rather than spin on SQLITE_BUSY); and R, a pool of
// query_only connections that WAL lets run beside the writer. The file is
// in WAL mode with synchronous=FULL, so a commit has reached the disk
// when it returns. Every connection sets busy_timeout, for other
// processes using the same file, and the extra pragmas the caller asks
// for (foreign_keys, fullfsync).
//
// Optionally (Options.DirMode, Options.FileMode) Open creates the file and
// its directory itself, private, before SQLite would create them readable
// by everyone; and (Options.Memory) the path ":memory:" gives a private
// in-memory database on one connection, for tests.
//
// # Migrations
//
// Migrations are the files migrations/NNNN_name.sql of Options.Migrations
// (an embed.FS, typically), numbered 1, 2, 3... without gaps. PRAGMA
// user_version records how many have been applied; Open applies the
// missing ones in order, each in its own transaction together with the
// version bump, reading the version again under the write lock so that
// two processes opening a new file at once do not both apply one. A
// database whose version is beyond the migrations is refused with an
// error wrapping Options.NewerSchema.
package sqlitedb
