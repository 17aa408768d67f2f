package listen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xpush/xpush/app/account"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/xmpp"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// line is what is printed per notification.
type line struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	URI       string `json:"uri"`
	URIUnsafe bool   `json:"uri_unsafe,omitempty"`
	From      string `json:"from"`
	Kind      string `json:"kind"`
	Received  string `json:"received"`
}

// Main runs `xpush listen` with args (after "listen") and returns the exit
// code. store is where passwords live (the OS keyring in production).
func Main(ctx context.Context, args []string, store secret.Store, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xpush listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		acct    account.Flags
		count   = fs.Int("count", 0, "exit 0 after `N` notifications (0: run until interrupted)")
		timeout = fs.Duration("timeout", 0, "exit 1 if --count notifications have not arrived after this `DURATION`")
		verbose = fs.Bool("v", false, "log protocol diagnostics to stderr")
	)
	acct.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := acct.Config(store, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "xpush listen:", err)
		return exitUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Serve(ctx, cfg, *count, *timeout, stdout, stderr)
}

// Serve runs the client of cfg and prints its notifications until count
// of them came (0: until ctx ends). With a timeout, not getting them in
// time is a failure. It returns the exit code.
func Serve(ctx context.Context, cfg xmpp.Config, count int, timeout time.Duration, stdout, stderr io.Writer) int {
	client, err := xmpp.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "xpush listen:", err)
		return exitUsage
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	runErr := make(chan error, 1)
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() { runErr <- client.Run(runCtx) }()

	code := consume(client.Events(), count, stdout, stderr)
	cancelRun()
	// Drain so that Run can finish its last report, then wait for it.
	for range client.Events() {
	}
	<-runErr
	if code < 0 { // the events ended first: ctx is done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "xpush listen: timed out after %v\n", timeout)
			return exitFailure
		}
		if count > 0 {
			return exitFailure
		}
		return exitOK
	}
	return code
}

// consume prints notifications until count is reached (code 0), a
// permanent error (code 1) or the channel closes (-1).
func consume(events <-chan xmpp.Event, count int, stdout, stderr io.Writer) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	got := 0
	for ev := range events {
		switch ev := ev.(type) {
		case *xmpp.StateChange:
			switch {
			case ev.State == xmpp.StateOnline:
				fmt.Fprintf(stderr, "xpush listen: online as %s\n", ev.JID)
			case ev.Err != nil:
				fmt.Fprintf(stderr, "xpush listen: offline: %s (%v)\n", xmpp.Explain(ev.Err), ev.Err)
				if !ev.Retry {
					return exitFailure
				}
			}
		case *xmpp.Registered:
			fmt.Fprintf(stderr, "xpush listen: registered %s\n", ev.JID)
		case *xmpp.Notified:
			n := ev.Notification
			if err := enc.Encode(line{
				ID: n.ID, Title: n.Title, Message: n.Message, URI: n.URI, URIUnsafe: n.URIUnsafe,
				From: n.From, Kind: n.Kind, Received: n.Received.Format(time.RFC3339),
			}); err != nil {
				fmt.Fprintln(stderr, "xpush listen: write:", err)
				return exitFailure
			}
			got++
			if count > 0 && got >= count {
				return exitOK
			}
		}
	}
	return -1
}
