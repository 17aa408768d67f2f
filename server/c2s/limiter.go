package c2s

import (
	"sync"
	"time"
)

// limiter counts events per key in a sliding window and says when a key
// has had too many. It forgets keys whose window passed, and holds at most
// max keys (new keys are refused beyond that, which fails closed).
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	max    int
	keys   map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

func newLimiter(limit int, window time.Duration, maxKeys int) *limiter {
	return &limiter{limit: limit, window: window, max: maxKeys, keys: make(map[string]*bucket)}
}

// blocked reports whether key is over its limit at now.
func (l *limiter) blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys[key]
	if !ok {
		return len(l.keys) >= l.max
	}
	if now.Sub(b.start) >= l.window {
		delete(l.keys, key)
		return false
	}
	return b.n >= l.limit
}

// add counts one event for key and returns the count in the window.
func (l *limiter) add(key string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.keys[key]
	if !ok || now.Sub(b.start) >= l.window {
		if !ok && len(l.keys) >= l.max {
			l.sweep(now)
			if len(l.keys) >= l.max {
				return l.limit
			}
		}
		b = &bucket{start: now}
		l.keys[key] = b
	}
	b.n++
	return b.n
}

// reset forgets key (after a success).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.keys {
		if now.Sub(b.start) >= l.window {
			delete(l.keys, k)
		}
	}
}
