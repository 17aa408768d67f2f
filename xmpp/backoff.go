package xmpp

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: exponential from min to max with full
// jitter (a uniformly random delay between min and the current cap).
type backoff struct {
	min, max time.Duration
	attempt  int
	rand     func(n int64) int64
}

// next returns the delay before the next attempt and advances.
func (b *backoff) next() time.Duration {
	ceil := b.min
	for i := 0; i < b.attempt && ceil < b.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.max)
	b.attempt++
	r := b.rand
	if r == nil {
		r = rand.Int64N
	}
	if ceil <= b.min {
		return b.min
	}
	return b.min + time.Duration(r(int64(ceil-b.min)+1))
}

// reset starts again from min.
func (b *backoff) reset() { b.attempt = 0 }
