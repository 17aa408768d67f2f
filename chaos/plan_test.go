package chaos

import (
	"flag"
	"os"
	"testing"
	"time"

	"github.com/xpush/xpush/server/c2s"
)

var (
	longFlag    = flag.Bool("chaos.long", false, "run the long chaos test (5,000 clients); also XPUSH_CHAOS_LONG=1")
	seedFlag    = flag.Uint64("chaos.seed", 0, "seed of the random choices; 0 picks one from the clock")
	clientsFlag = flag.Int("chaos.clients", 0, "in-process clients instead of the mode's number")
	reportFlag  = flag.String("chaos.report", "", "write the run's figures as JSON to this `file`")
	windowFlag  = flag.Duration("chaos.window", 0, "send over this `duration` instead of the mode's window")
)

// plan is what one run does: its sizes, its faults and its bounds.
type plan struct {
	name      string
	clients   int // in-process xmpp clients behind the fault proxy
	listeners int // xpush listen processes, connected directly
	senders   int // API senders, each sending in its own order
	perSender int // notifications per sender
	listMax   int // most recipients of a list notification
	// Shares of single and broadcast sends; the rest are lists.
	singleShare, allShare float64

	window time.Duration // the senders spread their sends over this

	// Faults, spread over the window.
	kills       int     // SIGKILL and restart of xpushd
	drops       int     // drops of a random share of the proxied connections
	dropShare   float64 // most of that share
	stalls      int     // stalls of a random share, past the ping timeout
	stallShare  float64
	hiccups     int // short stalls that the clients must ride out
	deadNetwork int // stalls of every connection, new ones too
	sigstops    int // SIGSTOP of an xpush listen process, over the listeners
	// bulk notifications sent to a stopped listener fill the socket
	// buffers so that the server's write to it times out.
	bulk, bulkSize int
	// idleStops is how many of the SIGSTOPs last past the server's
	// idle timeout instead (no bulk): only in the long mode, where the
	// window is long enough.
	idleStops int

	pingInterval, pingTimeout time.Duration // of the in-process clients
	connectTimeout            time.Duration
	backoffMax                time.Duration

	settle   time.Duration // after the window: all delivered and acked by then
	deadline time.Duration // the whole test
}

// stopFor is how long a SIGSTOP with bulk lasts after the bulk is in: the
// server's write timeout, and some.
const stopFor = c2s.DefaultWriteTimeout + 5*time.Second

// idleStopFor is how long a SIGSTOP without bulk lasts: past the server's
// idle timeout, after which it drops a silent session.
const idleStopFor = c2s.DefaultIdleTimeout + 10*time.Second

func shortPlan() plan {
	return plan{
		name: "short", clients: 200, listeners: 2, senders: 5, perSender: 100, listMax: 20,
		singleShare: 0.45, allShare: 0.06,
		window: 45 * time.Second,
		kills:  3, drops: 6, dropShare: 0.4, stalls: 3, stallShare: 0.2, hiccups: 2, deadNetwork: 1,
		sigstops: 2, bulk: 64, bulkSize: 60 << 10,
		pingInterval: 2 * time.Second, pingTimeout: 2 * time.Second,
		connectTimeout: 5 * time.Second, backoffMax: 2 * time.Second,
		settle: 2 * time.Minute, deadline: 4 * time.Minute,
	}
}

func longPlan() plan {
	return plan{
		name: "long", clients: 5000, listeners: 4, senders: 8, perSender: 250, listMax: 50,
		singleShare: 0.45, allShare: 0.03,
		window: 6 * time.Minute,
		kills:  5, drops: 12, dropShare: 0.5, stalls: 6, stallShare: 0.2, hiccups: 4, deadNetwork: 2,
		sigstops: 4, bulk: 64, bulkSize: 60 << 10, idleStops: 2,
		pingInterval: 10 * time.Second, pingTimeout: 5 * time.Second,
		connectTimeout: 20 * time.Second, backoffMax: 5 * time.Second,
		settle: 8 * time.Minute, deadline: 50 * time.Minute,
	}
}

// smallPlan is for go test -short: a quick look while developing.
func smallPlan() plan {
	p := shortPlan()
	p.name = "small"
	p.clients, p.listeners, p.senders, p.perSender = 40, 1, 3, 40
	p.window = 20 * time.Second
	p.kills, p.drops, p.stalls, p.hiccups, p.sigstops = 2, 3, 1, 1, 1
	p.settle, p.deadline = time.Minute, 3*time.Minute
	return p
}

// choosePlan picks the plan from the flags and the environment.
func choosePlan() plan {
	var p plan
	switch {
	case *longFlag || os.Getenv("XPUSH_CHAOS_LONG") == "1":
		p = longPlan()
	case testing.Short():
		p = smallPlan()
	default:
		p = shortPlan()
	}
	if *clientsFlag > 0 {
		p.clients = *clientsFlag
	}
	if *windowFlag > 0 {
		p.window = *windowFlag
	}
	return p
}

// stallFor is how long a stall lasts: past the clients' ping interval
// plus ping timeout, so that they give the link up.
func (p plan) stallFor() time.Duration { return p.pingInterval + p.pingTimeout + 2*time.Second }

// hiccupFor is a stall short enough that no client notices.
func (p plan) hiccupFor() time.Duration { return p.pingInterval / 2 }
