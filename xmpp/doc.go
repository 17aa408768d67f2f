// Package xmpp is the client side of xpush: it connects to an XMPP server
// (xpushd, Prosody, ejabberd, or a server written to the paper), registers
// and logs in, keeps the stream alive, and turns every pushed notification
// into an event.
//
// # Model
//
// [New] builds a [Client] from a [Config] and does no I/O. [Client.Run]
// owns everything that follows until its context ends: it dials, negotiates
// the stream (STARTTLS, SASL SCRAM or the paper's jabber:iq:auth, in-band
// registration, resource binding, XEP-0198 stream management), then serves
// it — answering pings, writing whitespace keepalives, acknowledging
// notifications — and reconnects with exponential backoff and full jitter
// when the link fails, resuming the stream without loss where the server
// allows. Everything the caller needs to know arrives as an [Event] on the
// bounded channel returned by [Client.Events]: state changes with their
// reason, notifications, and registration of a new account.
//
// The password is never stored here: [Config.Password] is a callback, so
// the keyring stays with the caller.
//
// Permanent failures (a wrong password, a server that wants registration
// fields we cannot fill, TLS required but not offered) are reported once
// and not retried until the caller calls [Client.Reconnect]; everything
// else is retried forever with backoff between 1 s and 5 min. Reconnect
// also skips the backoff at once, which is what a caller does when the
// network changes or the machine wakes from sleep.
//
// # Files
//
// One file per feature: dial.go (TCP, SRV, direct TLS), starttls.go,
// sasl.go (SCRAM-SHA-256/1 with -PLUS channel binding, PLAIN), iqauth.go
// (XEP-0078), register.go (XEP-0077), bind.go, sm.go (XEP-0198),
// keepalive.go (whitespace and XEP-0199), notify.go, backoff.go.
package xmpp
