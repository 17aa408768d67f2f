// Package metrics is xpushd's Prometheus instrumentation: counters the
// c2s listener and the delivery hub bump (auth failures, deliveries,
// acknowledgements, expiries) and gauges read from their sources on each
// scrape (sessions, queue depth, users).
//
// [New] registers everything on a registry the caller owns, so there is no
// package-level state; [Metrics.Handler] serves that registry at /metrics.
// *Metrics satisfies c2s.Metrics and delivery.Metrics.
package metrics
