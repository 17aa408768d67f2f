// Package config is the tray agent's configuration file: the account
// (server, JID, TLS and push-service choices), the user's settings and
// do-not-disturb, in TOML at DefaultPath (config.toml in an xpush folder
// of os.UserConfigDir).
//
// The file never holds a secret: the account's password lives in the OS
// keyring (package secret), and Config has no field that could carry it.
//
// [Load] reads the file: a missing file is the zero Config, a broken one
// an error that names the file and the line, so that the agent can show
// the problem and go on with the zero Config. [Save] replaces the file
// atomically (a temporary file in the same directory, fsync, rename), with
// mode 0600 in a directory of mode 0700, so a crash leaves either the old
// file or the new one, never half of one.
package config
