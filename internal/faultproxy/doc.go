// Package faultproxy is a TCP proxy on loopback that tests put between a
// client and a server to inject network faults: drop every connection at
// once, or stall them (stop forwarding without closing, as a dead link
// does). It is for tests only.
package faultproxy
