// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema per test on one server per test binary. It is for tests only.
//
// The server is the one whose DSN the environment variable
// XPUSH_POSTGRES_DSN holds (its user must be allowed to create schemas),
// or else one that [Main] starts for the test binary with
// scripts/postgres.sh (found through XPUSH_SCRIPTS, like the other
// servers the tests start) when Debian's PostgreSQL is installed, in a
// temporary directory it removes afterwards:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// [New] then creates a schema for one test, dropped when the test ends,
// and returns a DSN whose search_path is that schema. Without a server,
// New skips the test, or fails it when XPUSH_INTEROP=1 (the project's
// test command) demands the real servers.
package pgtest
