package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// target is one notification the tool waits for: a latency sample (one
// recipient) or a broadcast round (every online session).
type target struct {
	id   string
	need int64
	base time.Time // what first and last are measured from

	seen    []atomic.Bool // by session index: counted once
	got     atomic.Int64
	refused atomic.Int64
	first   atomic.Int64 // ns after base, 0: none yet
	last    atomic.Int64
	once    sync.Once
	done    chan struct{} // closed when got+refused reaches need
	errMu   sync.Mutex
	err     error // the first refusal
}

func newTarget(id string, need, sessions int, base time.Time) *target {
	return &target{id: id, need: int64(need), base: base, seen: make([]atomic.Bool, sessions), done: make(chan struct{})}
}

func (t *target) settle() {
	if t.got.Load()+t.refused.Load() >= t.need {
		t.once.Do(func() { close(t.done) })
	}
}

// lastAt returns the time of the last delivery so far.
func (t *target) lastAt() time.Time { return t.base.Add(time.Duration(t.last.Load())) }

// firstAt returns the time of the first delivery so far.
func (t *target) firstAt() time.Time { return t.base.Add(time.Duration(t.first.Load())) }

// firstErr returns the first refusal.
func (t *target) firstErr() error {
	t.errMu.Lock()
	defer t.errMu.Unlock()
	return t.err
}

// tracker matches what the sessions receive with the current target.
type tracker struct {
	cur   atomic.Pointer[target]
	stray atomic.Int64 // notifications that matched no target (late, or a redelivery)
}

func (tr *tracker) received(s *session, id string, at time.Time) {
	t := tr.cur.Load()
	if t == nil || t.id != id || s.idx >= len(t.seen) || t.seen[s.idx].Swap(true) {
		tr.stray.Add(1)
		return
	}
	ns := int64(at.Sub(t.base))
	if ns <= 0 {
		ns = 1
	}
	t.first.CompareAndSwap(0, ns)
	for {
		l := t.last.Load()
		if ns <= l || t.last.CompareAndSwap(l, ns) {
			break
		}
	}
	t.got.Add(1)
	t.settle()
}

func (tr *tracker) refused(_ *session, _ string, err error) {
	t := tr.cur.Load()
	if t == nil {
		return
	}
	t.errMu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.errMu.Unlock()
	t.refused.Add(1)
	t.settle()
}
