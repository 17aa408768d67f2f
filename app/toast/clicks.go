//go:build !darwin

package toast

import (
	"log/slog"
	"sync"
)

// clickSink is the buffered Clicks channel with a non-blocking send that
// is safe against a concurrent close: a platform callback may fire at any
// time, even after Close.
type clickSink struct {
	log    *slog.Logger
	mu     sync.Mutex
	ch     chan string
	closed bool
}

func newClickSink(log *slog.Logger) *clickSink {
	return &clickSink{log: log, ch: make(chan string, clickQueue)}
}

// send queues key, or drops and logs it when the queue is full or closed.
func (s *clickSink) send(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- key:
	default:
		s.log.Warn("toast: click dropped: nobody is reading Clicks", "key", key, "queued", len(s.ch))
	}
}

func (s *clickSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}
