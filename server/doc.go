// Package server is xpushd as a library: it wires the store, the delivery
// hub, the c2s listener and the HTTP side (API, web console, metrics,
// health) into one [Server] that Run starts and stops as a unit.
//
// The parts live in sub-packages, each with one job: store (persistence),
// account (names and SCRAM keys), c2s (XMPP connections), delivery
// (store-and-forward), send (validating and accepting a notification), api
// (HTTP JSON API), console (the web console), metrics (Prometheus).
package server
