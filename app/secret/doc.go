// Package secret keeps account passwords in the operating system's keyring
// (Secret Service on Linux, Keychain on macOS, Credential Manager on
// Windows) through go-keyring, under service "xpush" and the bare JID as
// user. Nothing here ever writes a secret to a file or a log.
package secret
