// Package account turns the account flags shared by the tray agent and the
// headless listener (--server, --jid, --register, --password-stdin, ...)
// into an xmpp.Config whose password comes from the keyring, or from
// stdin, and never from a file.
package account
