// Package chaos holds xpush's no-loss chaos test, TestNoLoss: the real
// xpushd binary on a persistent data directory, killed with SIGKILL and
// started again several times; in-process clients of package xmpp (each
// with its own account, reconnecting, with keepalive, ping and XEP-0198)
// behind a fault proxy (internal/faultproxy) that drops and stalls their
// connections at random; and real `xpush listen` processes stopped with
// SIGSTOP for longer than the server's timeouts, then continued.
// Notifications go in through the HTTP API (to one user, to a list, to
// everyone) with caller-chosen ids, so that a send cut off by a kill is
// retried without a second copy. At the end every client must have had
// each notification addressed to it exactly once (after its own dedupe
// by id), in the order each sender sent them, and the API must report
// every delivery acked. Any loss, duplicate or reordering fails the test
// with the ids.
//
// regress_test.go holds a regression test for each fault TestNoLoss
// found, reduced to its smallest sequence of events against an
// in-process server.
//
// The package has no code outside its tests. The short mode is the
// default and runs in the project's test command:
//
//	go test -race -run TestNoLoss ./chaos
//
// The long mode (5,000 clients) runs on request, without -race (the race
// detector allows 8,128 goroutines) and with a raised file limit:
//
//	ulimit -n 65536
//	XPUSH_CHAOS_LONG=1 go test -run TestNoLoss -timeout 60m -v ./chaos
//
// (or -args -chaos.long). -chaos.seed N replays a run's random choices
// (the seed is logged); -chaos.report FILE writes the run's figures as
// JSON. Every loop is bounded in count and time, and all traffic stays on
// 127.0.0.0/8.
package chaos
