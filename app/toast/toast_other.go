//go:build !unix && !windows

package toast

import (
	"context"
	"log/slog"
	"sync"
)

// newPlatform: beeep, without clicks.
func newPlatform(appName, iconPath string, log *slog.Logger) Notifier {
	return &plainNotifier{b: newBeeep(appName, iconPath), clicks: newClickSink(log)}
}

type plainNotifier struct {
	b      *beeepNotifier
	clicks *clickSink
	mu     sync.Mutex
	closed bool
}

func (p *plainNotifier) Show(ctx context.Context, t Toast) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return p.b.show(ctx, cleaned(t))
}

func (p *plainNotifier) Clicks() <-chan string { return p.clicks.ch }

func (p *plainNotifier) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.clicks.close()
	return nil
}
