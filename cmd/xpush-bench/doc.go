// Command xpush-bench drives an XMPP server over c2s on loopback and
// prints numbers: logins per second, the server's RSS per idle session,
// one-to-one push latency (and push-to-ack through xpushd's HTTP API),
// and broadcast deliveries per second. It writes them as JSON too,
// compares two such results, and reports several side by side as a
// Markdown page with PNG charts (scripts/bench-compare.sh runs it against
// xpushd, Prosody and ejabberd and writes docs/benchmarks.md).
//
//	xpush-bench run --server 127.0.0.1:5222 --domain localhost --sessions 10000 --register \
//	    --api http://127.0.0.1:8080 --token $TOKEN --out result.json
//	xpush-bench compare old.json new.json
//	xpush-bench report --md docs/benchmarks.md --charts docs/bench docs/bench/*.json
//
// Load goes to 127.0.0.0/8 only: --server, --api and --sources outside it
// are refused.
//
// # Phases
//
// Each phase is bounded in count and in time (--step-timeout,
// --sample-timeout, --round-timeout, and --timeout for the whole run).
//
//  1. accounts (--register): N accounts (PREFIX0 .. PREFIX(N-1), plus
//     PREFIX-sender when a sender session is needed) registered in-band
//     (XEP-0077), --register-concurrency at a time. Existing accounts
//     count as existed, not as failures. --accounts-only stops the run
//     here, so that the server can be restarted before it is measured
//     (its memory then holds no garbage of the registrations).
//  2. prederive (--prederive, on by default): for each account, an
//     aborted SCRAM exchange reads its salt and iteration count, and the
//     client key is derived then, outside the timed logins. SCRAM makes a
//     client pay one PBKDF2 per login (4096 iterations, about 0.9 ms of
//     CPU here) and the salt is per user, so no cache across users helps;
//     on a machine the tool shares with the server, that PBKDF2 would be
//     measured as the server's slowness. --prederive=false measures logins
//     as real clients do them.
//  3. logins: N sessions log in with SCRAM-SHA-256 (or SHA-1), bind,
//     send presence and stay connected, --concurrency at a time, spread
//     over the --sources addresses (each has about 28k ephemeral ports;
//     IP_BIND_ADDRESS_NO_PORT lets them share ports across destinations).
//  4. idle: after --idle with every session online, the server's VmRSS
//     and utime+stime are read from /proc (--pid, or the process that
//     listens on --server's port) and compared with before the logins:
//     RSS per idle session = (RSS now - RSS before) / N. With --api, the
//     Go runtime gauges of xpushd's /metrics split it into stacks and heap.
//  5. latency: --latency-samples notifications (after --latency-warmup),
//     one at a time, each to the next session. With --api: POST
//     /api/v1/notifications to that user, timed until the session has it
//     and, separately, until GET /api/v1/notifications/{id} says acked
//     (polled every --ack-poll). Without: a headline message with an
//     XEP-0066 url from a second session (PREFIX-sender) to the
//     recipient's full JID, timed until receipt. Both clocks are this
//     process's.
//  6. broadcast: --broadcast-rounds rounds. With --api: POST {"all":true}
//     and time until every session has it, then until the API says all
//     acked. Without: one headline per session from the sender, written
//     as fast as the server reads them.
//
// Every session is a lean connection built on xmpp/stream and
// xmpp/stanza, not an xmpp.Client: one reader goroutine per session that
// counts notifications, answers each notification IQ with a result (the
// paper's acknowledgement) and pings with a pong. A whitespace keepalive
// goes to every session each --keepalive.
//
// # Reading the numbers
//
// Every phase reports the CPU the server, the tool and everything else on
// the machine used, as a share of all cores. When tool and server share
// a small machine, a phase where server+tool is near 100% is CPU-bound
// and the split says who spent it; "other" is noise from other processes
// (compare flags figures measured with more than 15% of it). The load
// average at the start and end is in the result too.
//
// At start the tool raises its RLIMIT_NOFILE soft limit to the hard limit
// (and the hard limit too when it may) and prints what it got; each
// session needs one descriptor in the tool and one in the server.
//
// --cpuprofile profiles the tool itself, with the phases as pprof labels.
// To profile xpushd's code, use perf on the xpushd process, or
// BenchmarkInProcess, which runs a whole run against an xpushd built in
// the test process on the SQLite store.
package main
