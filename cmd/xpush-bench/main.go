package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a phase failed, or not everything arrived
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: xpush-bench COMMAND [flags]

  run       drive an XMPP server on loopback and measure it
  compare   compare two results: xpush-bench compare OLD.json NEW.json
  report    several results side by side: xpush-bench report --md FILE --charts DIR RESULT.json...

xpush-bench run -h lists the flags of run.
`

// errUsage marks a bad command line.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		var o options
		if o, err = parseRun(args[1:], stderr); err == nil {
			err = runBench(ctx, o, os.Args, stdout, stderr)
		}
	case "compare":
		err = compareCmd(args[1:], stdout)
	case "report":
		err = reportCmd(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "xpush-bench: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "xpush-bench: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "xpush-bench: %v\n", err)
	return exitFail
}

// options of xpush-bench run.
type options struct {
	Server          string
	Domain          string
	Sessions        int
	TLS             bool
	TLSCA           string
	Register        bool
	Prefix          string
	Password        string
	Resource        string
	Sources         []net.IP
	PID             int
	API             string
	Token           string
	LatencySamples  int
	LatencyWarmup   int
	BroadcastRounds int
	Out             string
	Timeout         time.Duration
	Concurrency     int
	RegConcurrency  int
	Prederive       bool
	Idle            time.Duration
	StepTimeout     time.Duration
	SampleTimeout   time.Duration
	RoundTimeout    time.Duration
	AckPoll         time.Duration
	Keepalive       time.Duration
	CPUProfile      string
	ServerVersion   string
	AccountsOnly    bool
}

const runUsage = `usage: xpush-bench run --server HOST:PORT --sessions N [flags]

Logs N sessions into an XMPP server on loopback, keeps them idle, and
measures the server: logins per second, RSS per idle session, one-to-one
push latency (and push-to-ack through xpushd's HTTP API with --api), and
broadcast deliveries per second. Prints a table and writes --out as JSON.
Every address must be in 127.0.0.0/8.

Phases: accounts (with --register), prederive (with --prederive), logins,
idle, latency, broadcast; each is bounded in count and time.

`

func parseRun(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("xpush-bench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	var sources string
	fs.StringVar(&o.Server, "server", "127.0.0.1:5222", "c2s `address` of the server (loopback only)")
	fs.StringVar(&o.Domain, "domain", "localhost", "XMPP `domain` of the accounts")
	fs.IntVar(&o.Sessions, "sessions", 100, "`number` of sessions to log in and keep online")
	fs.BoolVar(&o.TLS, "tls", false, "use STARTTLS")
	fs.StringVar(&o.TLSCA, "tls-ca", "", "PEM `file` of the CA (or self-signed certificate) to trust with --tls")
	fs.BoolVar(&o.Register, "register", false, "register the accounts in-band first (XEP-0077); existing ones are fine")
	fs.BoolVar(&o.AccountsOnly, "accounts-only", false, "with --register: register the accounts and stop (to restart the server before measuring it)")
	fs.StringVar(&o.Prefix, "prefix", "bench", "account names are PREFIX0 .. PREFIX(N-1), and PREFIX-sender")
	fs.StringVar(&o.Password, "password", "bench-password", "password of every account")
	fs.StringVar(&o.Resource, "resource", "bench", "resource to bind")
	fs.StringVar(&sources, "sources", "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8",
		"comma-separated loopback source `addresses` to spread connections over (each has ~28k ephemeral ports)")
	fs.IntVar(&o.PID, "pid", 0, "server process `id` for RSS and CPU; default: the process listening on --server's port")
	fs.StringVar(&o.API, "api", "", "xpushd HTTP API base `URL` (e.g. http://127.0.0.1:8080): push through it and track acks")
	fs.StringVar(&o.Token, "token", "", "xpushd API `token` (or XPUSH_BENCH_TOKEN)")
	fs.IntVar(&o.LatencySamples, "latency-samples", 1000, "one-to-one `samples`, sent one after the other")
	fs.IntVar(&o.LatencyWarmup, "latency-warmup", 10, "warm-up `samples` sent first and not counted")
	fs.IntVar(&o.BroadcastRounds, "broadcast-rounds", 3, "broadcast `rounds` to every online session")
	fs.StringVar(&o.Out, "out", "xpush-bench.json", "JSON result `file`; empty: none")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "bound on the whole run")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "logins (and salt probes) in flight")
	fs.IntVar(&o.RegConcurrency, "register-concurrency", 32, "registrations in flight")
	fs.BoolVar(&o.Prederive, "prederive", true, "learn each account's SCRAM salt and derive its client key before the timed logins, "+
		"so that the tool's PBKDF2 does not compete with the server for the CPU while logins are measured")
	fs.DurationVar(&o.Idle, "idle", 5*time.Second, "how long all sessions stay idle before the server's RSS is read")
	fs.DurationVar(&o.StepTimeout, "step-timeout", 30*time.Second, "bound on one registration, probe or login")
	fs.DurationVar(&o.SampleTimeout, "sample-timeout", 5*time.Second, "bound on one latency sample")
	fs.DurationVar(&o.RoundTimeout, "round-timeout", 2*time.Minute, "bound on one broadcast round")
	fs.DurationVar(&o.AckPoll, "ack-poll", 500*time.Microsecond, "interval between API polls for the ack of a latency sample")
	fs.DurationVar(&o.Keepalive, "keepalive", 60*time.Second, "whitespace keepalive interval of the idle sessions")
	fs.StringVar(&o.ServerVersion, "server-version", "", "`version` to record when the server does not tell its own (XEP-0092)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the tool itself to `file` (phases are pprof labels: -tagfocus phase=logins)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if o.Token == "" {
		o.Token = os.Getenv("XPUSH_BENCH_TOKEN")
	}
	for _, s := range strings.Split(sources, ",") {
		ip := net.ParseIP(strings.TrimSpace(s)).To4()
		if ip == nil || !ip.IsLoopback() {
			return o, fmt.Errorf("%w: --sources: %q is not an address in 127.0.0.0/8", errUsage, s)
		}
		o.Sources = append(o.Sources, ip)
	}
	switch {
	case o.Sessions < 1:
		return o, fmt.Errorf("%w: --sessions must be at least 1", errUsage)
	case o.Concurrency < 1 || o.RegConcurrency < 1:
		return o, fmt.Errorf("%w: --concurrency and --register-concurrency must be at least 1", errUsage)
	case o.LatencySamples < 0 || o.LatencyWarmup < 0 || o.BroadcastRounds < 0:
		return o, fmt.Errorf("%w: sample and round counts must not be negative", errUsage)
	case o.Timeout <= 0 || o.StepTimeout <= 0 || o.SampleTimeout <= 0 || o.RoundTimeout <= 0 || o.AckPoll <= 0 || o.Keepalive <= 0:
		return o, fmt.Errorf("%w: durations must be positive", errUsage)
	case o.API != "" && o.Token == "":
		return o, fmt.Errorf("%w: --api needs --token (or XPUSH_BENCH_TOKEN)", errUsage)
	case o.AccountsOnly && !o.Register:
		return o, fmt.Errorf("%w: --accounts-only goes with --register", errUsage)
	case o.TLSCA != "" && !o.TLS:
		return o, fmt.Errorf("%w: --tls-ca goes with --tls", errUsage)
	case len(o.Password) < 8:
		return o, fmt.Errorf("%w: --password must have at least 8 characters (xpushd's minimum)", errUsage)
	}
	if _, err := loopbackTCP(o.Server); err != nil {
		return o, fmt.Errorf("%w: --server: %v", errUsage, err)
	}
	if o.API != "" {
		u, err := url.Parse(o.API)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return o, fmt.Errorf("%w: --api %q is not an http URL", errUsage, o.API)
		}
		if _, err := loopbackTCP(u.Host); err != nil && !strings.Contains(u.Host, ":") {
			_, err = loopbackTCP(u.Host + ":80")
			if err != nil {
				return o, fmt.Errorf("%w: --api: %v", errUsage, err)
			}
		} else if err != nil {
			return o, fmt.Errorf("%w: --api: %v", errUsage, err)
		}
		o.API = strings.TrimRight(o.API, "/")
	}
	return o, nil
}

// loopbackTCP resolves addr to an IPv4 address and refuses anything
// outside 127.0.0.0/8: this tool sends load only to this machine.
func loopbackTCP(addr string) (*net.TCPAddr, error) {
	a, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	if !a.IP.IsLoopback() {
		return nil, fmt.Errorf("%s resolves to %s, outside 127.0.0.0/8: load goes to loopback only", addr, a.IP)
	}
	return a, nil
}

func platform() string { return runtime.GOOS + "/" + runtime.GOARCH }
