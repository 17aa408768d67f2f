// Package dbustest starts a private D-Bus session bus (dbus-daemon) for
// tests, so that they talk to the services they start and to nothing of
// the desktop they run on. It is for tests only.
package dbustest
