// Command xpush is the xpush desktop agent: a tray application that shows
// every notification pushed to its XMPP account as a desktop toast and a
// history entry, and opens the notification's link when the toast is
// clicked.
//
//	xpush                                  the tray agent (the local demo when no account is set up)
//	xpush --server H:P --jid U@D [--register]   the tray agent with that account
//	xpush listen --jid U@D ...             headless: one JSON line per notification
//	xpush demo                             the local demo, headless
//	xpush window history|account|settings  a window of the running agent (started by it)
//
// The agent process holds the tray, the XMPP session, the toasts, the
// keyring and the history; windows run in a child process on demand, so
// that the Fyne driver is not paid for while the agent idles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xpush/xpush/app/account"
	"github.com/xpush/xpush/app/agent"
	"github.com/xpush/xpush/app/autostart"
	"github.com/xpush/xpush/app/config"
	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/demo"
	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/ipc"
	"github.com/xpush/xpush/app/listen"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/app/toast"
	"github.com/xpush/xpush/app/tray"
	"github.com/xpush/xpush/app/ui"
	"github.com/xpush/xpush/assets"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the composition root: it picks the mode and wires its parts.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	mode := ""
	if len(args) > 0 {
		mode = args[0]
	}
	switch mode {
	case "listen":
		return listen.Main(ctx, args[1:], secret.Keyring{}, stdin, stdout, stderr)
	case "demo":
		return runDemo(ctx, stdout, stderr)
	case "window":
		return runWindow(ctx, args[1:], stderr)
	}
	return runAgent(ctx, args, stdout, stderr)
}

// fail prints a one-sentence error and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "xpush:", err)
	return 1
}

// runAgent runs the tray agent.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xpush", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var acct account.Flags
	acct.Bind(fs)
	verbose := fs.Bool("v", false, "log diagnostics to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// One agent per user: a second start shows the first one's history.
	sock, err := ipc.DefaultPath()
	if err != nil {
		return fail(stderr, err)
	}
	srv, err := ipc.Listen(sock)
	if errors.Is(err, ipc.ErrRunning) {
		if err := ipc.Dial(sock).Show(ctx, control.WindowHistory); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	if err != nil {
		return fail(stderr, err)
	}
	defer srv.Close()

	cfgPath, err := config.DefaultPath()
	if err != nil {
		return fail(stderr, err)
	}
	if acct.JID != "" {
		if err := applyAccountFlags(cfgPath, acct, secret.Keyring{}); err != nil {
			return fail(stderr, err)
		}
	}
	cfg, cfgErr := config.Load(cfgPath)
	if cfgErr != nil {
		log.Warn("xpush: config", "err", cfgErr) // the agent shows it too
	}
	histPath, err := history.DefaultPath()
	if err != nil {
		return fail(stderr, err)
	}
	hist, err := history.Open(ctx, histPath, cfg.HistoryOptions())
	if err != nil {
		return fail(stderr, err)
	}
	defer hist.Close()
	toasts := toast.New("xpush", iconFile(log), log)
	defer toasts.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	win := &windows{log: log}
	defer win.wait()
	status := make(chan control.Status, 1)
	ag, err := agent.New(agent.Options{
		ConfigPath: cfgPath,
		History:    hist,
		Toasts:     toasts,
		Secrets:    secret.Keyring{},
		ShowWindow: win.show,
		OnStatus:   func(st control.Status) { latest(status, st) },
		Demo: func(ctx context.Context) (*demo.Demo, error) {
			dir, err := os.UserConfigDir()
			if err != nil {
				return nil, err
			}
			d, err := demo.Start(ctx, filepath.Join(dir, "xpush", "demo"), secret.Keyring{}, log)
			if err == nil {
				d.Explain(stdout)
			}
			return d, err
		},
		ApplySettings: applyAutostart,
		Logger:        log,
	})
	if err != nil {
		return fail(stderr, err)
	}
	// A window that ended may have changed the history: Status reads the
	// unread count again for the tray.
	win.closed = func() { _, _ = ag.Status(ctx) }
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, ag); err != nil {
			log.Warn("xpush: control socket", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		defer cancel()
		if err := ag.Run(ctx); err != nil {
			log.Error("xpush: agent", "err", err)
		}
	}()
	err = tray.Run(ctx, tray.Options{
		Actions: tray.Actions{
			ShowWindow: win.show,
			SetDND: func(until time.Time) {
				if err := ag.SetDND(ctx, until); err != nil {
					log.Warn("xpush: pause notifications", "err", err)
				}
			},
			Quit: cancel,
		},
		Status: status,
		Log:    log,
	})
	cancel()
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// latest puts st on ch, replacing a status the tray has not read yet.
func latest(ch chan control.Status, st control.Status) {
	for {
		select {
		case ch <- st:
			return
		default:
			select {
			case <-ch:
			default:
			}
		}
	}
}

// applyAccountFlags stores the account given on the command line in the
// config, and with --register and no stored password, generates one into
// the keyring so that the agent registers the account.
func applyAccountFlags(cfgPath string, f account.Flags, keys secret.Store) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		cfg = config.Config{}
	}
	bare, _, _ := strings.Cut(f.JID, "/")
	cfg.Account = control.Account{Server: f.Server, JID: bare, InsecurePlain: f.InsecurePlain, PushService: f.PushService}
	if _, err := keys.Get(bare); errors.Is(err, secret.ErrNotFound) {
		if !f.Register {
			return fmt.Errorf("no password for %s in the keyring: use --register to create the account", bare)
		}
		if err := keys.Set(bare, secret.Generate()); err != nil {
			return fmt.Errorf("store the new password: %w", err)
		}
		cfg.Register = true
	} else if err != nil {
		return err
	}
	return config.Save(cfgPath, cfg)
}

// applyAutostart turns start-at-login on or off.
func applyAutostart(s control.Settings) error {
	if !s.StartAtLogin {
		return autostart.Disable()
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return autostart.Enable(exe)
}

// iconFile writes the app icon where the notification daemon can read it.
func iconFile(log *slog.Logger) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(dir, "xpush", "icon.png")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
		if err = os.WriteFile(p, assets.Icon(), 0o600); err == nil {
			return p
		}
		log.Debug("xpush: icon file", "err", err)
	}
	return ""
}

// windows starts window processes, one per window at a time, and waits
// for them.
type windows struct {
	log *slog.Logger
	// closed, when set, is called after a window process ended; it is set
	// before the first show.
	closed func()
	mu     sync.Mutex
	open   map[string]bool
	wg     sync.WaitGroup
}

func (w *windows) show(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open[name] {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		w.log.Warn("xpush: open window", "err", err)
		return
	}
	cmd := exec.Command(exe, "window", name)
	if err := cmd.Start(); err != nil {
		w.log.Warn("xpush: open window", "window", name, "err", err)
		return
	}
	if w.open == nil {
		w.open = map[string]bool{}
	}
	w.open[name] = true
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := cmd.Wait(); err != nil {
			w.log.Warn("xpush: window", "window", name, "err", err)
		}
		w.mu.Lock()
		delete(w.open, name)
		w.mu.Unlock()
		if w.closed != nil {
			w.closed()
		}
	}()
}

// wait waits for the windows to close.
func (w *windows) wait() { w.wg.Wait() }

// runWindow shows one window of the running agent.
func runWindow(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: xpush window history|account|settings")
		return 2
	}
	sock, err := ipc.DefaultPath()
	if err != nil {
		return fail(stderr, err)
	}
	histPath, err := history.DefaultPath()
	if err != nil {
		return fail(stderr, err)
	}
	// The user's retention, so that opening a window never prunes more
	// than the agent does.
	var opts history.Options
	if cfgPath, err := config.DefaultPath(); err == nil {
		if cfg, err := config.Load(cfgPath); err == nil {
			opts = cfg.HistoryOptions()
		}
	}
	hist, err := history.Open(ctx, histPath, opts)
	if err != nil {
		return fail(stderr, err)
	}
	defer hist.Close()
	if err := ui.Run(args[0], ipc.Dial(sock), hist); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// runDemo starts the local server and an agent on it, headless, printing
// what comes.
func runDemo(ctx context.Context, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dataDir, err := os.UserConfigDir()
	if err != nil {
		return fail(stderr, err)
	}
	d, err := demo.Start(ctx, filepath.Join(dataDir, "xpush", "demo"), secret.Keyring{}, log)
	if err != nil {
		return fail(stderr, err)
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
