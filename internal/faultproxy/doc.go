// Package faultproxy is a TCP proxy on loopback that tests put between a
// client and a server to inject network faults. It is for tests only.
//
// [New] (or [NewWith] for options) listens and forwards every accepted
// connection to the target, dialing it on a goroutine of its own so that
// a slow or dead target holds up no other connection. The faults:
//
//   - [Proxy.DropAll] and [Proxy.Drop] close connections on both sides at
//     once, as a failed network does; [Proxy.Pick] chooses a random share
//     of the open connections by id, for drops and stalls at random.
//   - [Proxy.Stall] (every connection, current and new) and
//     [Proxy.StallConns] (the given ones) stop forwarding without closing
//     anything: to both ends the link looks dead. Bytes read meanwhile are
//     held, and an end closing its side is not passed on either, until
//     [Proxy.Resume] or [Proxy.ResumeConns] let the link carry again, or a
//     drop ends it.
//
// With [Options.KeepClientIP] the proxy dials the target from each
// client's own address, so that a server's per-address limits see the
// clients, not the proxy.
//
// [Proxy.Close] stops accepting, drops every connection and waits for
// every goroutine the proxy started. [Proxy.Stats] counts what happened.
package faultproxy
