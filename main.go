// Command xpush is the xpush desktop agent: a tray application that shows
// every notification pushed to its XMPP account as a desktop toast and a
// history entry. `xpush listen` runs the same session headless and prints
// notifications as JSON lines. With no account configured, xpush runs the
// local demo: an xpushd in the same process, on loopback.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/listen"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the composition root: it picks the mode and wires its parts.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "listen":
		return listen.Main(ctx, args[1:], secret.Keyring{}, stdin, stdout, stderr)
	case len(args) == 0 || args[0] == "demo":
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDemo(ctx, stdout, stderr)
	}
	fmt.Fprintln(stderr, "xpush: the tray agent is not built yet; run `xpush` for the demo or `xpush listen --help` for the headless agent")
	return 2
}

// runDemo starts the local server and an agent on it, printing what comes.
func runDemo(ctx context.Context, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dataDir, err := os.UserConfigDir()
	if err != nil {
		fmt.Fprintln(stderr, "xpush: no user config directory:", err)
		return 1
	}
	d, err := demo.Start(ctx, filepath.Join(dataDir, "xpush", "demo"), secret.Keyring{}, log)
	if err != nil {
		fmt.Fprintln(stderr, "xpush:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := d.Run(ctx); err != nil {
			fmt.Fprintln(stderr, "xpush: demo server:", err)
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		welcome(ctx, d, stderr)
	}()
	d.Explain(stdout)
	cfg := xmpp.Config{JID: d.JID, Server: d.C2S, Register: true, Password: d.Password, Logger: log}
	return listen.Serve(ctx, cfg, 0, 0, stdout, stderr)
}

// welcome sends the first notification once the agent has registered,
// trying for at most a minute.
func welcome(ctx context.Context, d *demo.Demo, stderr io.Writer) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(time.Minute)
	for {
		err := d.Welcome(ctx)
		// Until the agent has registered, the account is unknown.
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			if err != nil && ctx.Err() == nil {
				fmt.Fprintln(stderr, "xpush: welcome notification:", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-t.C:
		}
	}
}
