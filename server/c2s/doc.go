// Package c2s is xpushd's client-to-server XMPP listener: it accepts
// connections, negotiates streams (STARTTLS, SASL SCRAM-SHA-256/SHA-1 with
// -PLUS channel binding, PLAIN where a password may cross, the paper's
// jabber:iq:auth, in-band registration, resource binding, XEP-0198 stream
// management with resumption, XEP-0199 ping) and holds the bound
// sessions.
//
// What happens to a bound session is the [Hub]'s business: c2s tells it
// when a session comes and goes and when the client acknowledges a
// notification, and the hub pushes notifications with [Session.Push].
// Clients cannot send anything to other users: xpushd routes no messages,
// and a notification IQ from a client is refused.
//
// Each connection costs one goroutine, which reads and handles its
// stanzas; writes from any goroutine go through the session's mutex with a
// write deadline. Every read has a deadline that depends on the phase: a
// short one until the stream is open and authenticated (slowloris), a long
// idle one after, matched to the clients' keepalive.
//
// Idle sessions are most of a push server's connections, so their cost is
// kept low: once bound, a session is read on a fresh goroutine, and on
// Linux, macOS and the BSDs an idle one waits for input in a few shallow
// frames (a peek at the socket through its RawConn) on a 2 KiB stack,
// with the decoder's buffers released; each time it has handled input it
// hands over to a new goroutine, rather than keep the stack that handling
// grew. That holds under TLS too. See link for the details, and
// TestIdleSessionStack.
package c2s
