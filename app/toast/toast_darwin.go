//go:build darwin

package toast

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// runTimeout bounds one terminal-notifier or osascript run. The first run
// of terminal-notifier may wait for the user to allow notifications.
const runTimeout = 30 * time.Second

// newPlatform: terminal-notifier (click opens a safe link) when it is on
// PATH, else osascript (no click-through).
func newPlatform(appName, iconPath string, log *slog.Logger) Notifier {
	return &macNotifier{icon: iconPath, log: log, clicks: make(chan string)}
}

// macNotifier runs a short-lived helper per toast. Neither helper tells us
// about clicks, so Clicks never delivers; terminal-notifier opens the link
// itself.
type macNotifier struct {
	icon   string
	log    *slog.Logger
	clicks chan string // never sent on; closed by Close

	mu     sync.Mutex
	closed bool
	warned once
	tnFail once
}

func (m *macNotifier) Clicks() <-chan string { return m.clicks }

func (m *macNotifier) Show(ctx context.Context, t Toast) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	t = cleaned(t)
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	if tn, err := exec.LookPath("terminal-notifier"); err == nil {
		err := run(ctx, tn, terminalNotifierArgs(t, m.icon))
		if err == nil {
			return nil
		}
		m.tnFail.do(func() {
			m.log.Warn("toast: terminal-notifier failed; using osascript, clicks will not open links", "err", err)
		})
	} else {
		m.warned.do(func() {
			m.log.Info("toast: terminal-notifier is not installed; using osascript, clicks will not open links (open them from the history window)")
		})
	}
	return run(ctx, "/usr/bin/osascript", osascriptArgs(t))
}

// run runs name with args and waits for it, within ctx.
func run(ctx context.Context, name string, args []string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return fmt.Errorf("toast: %s: %w: %s", name, err, msg)
	}
	return nil
}

func (m *macNotifier) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.clicks)
	}
	return nil
}

// once logs a message the first time it is asked to, for "falling back
// because..." lines that would otherwise repeat with every toast.
type once struct {
	mu   sync.Mutex
	done bool
}

func (o *once) do(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.done = true
		f()
	}
}
