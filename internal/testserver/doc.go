// Package testserver starts real XMPP servers (Debian's Prosody and
// ejabberd) on loopback for tests, through the repository's scripts
// (scripts/prosody.sh, scripts/ejabberd.sh), each with a private config
// and data directory under the test's temporary directory.
//
// Tests that need them call [Start]; it skips the test when the server is
// not installed, unless XPUSH_INTEROP=1 is set (the project's test command
// sets it), in which case a missing server fails the test. It is for tests
// only.
package testserver
