package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Session and throttle bounds.
const (
	// SessionIdle ends a console session nobody used for this long.
	SessionIdle = 2 * time.Hour
	// SessionMax ends a console session this long after login, used or not.
	SessionMax = 12 * time.Hour
	// maxSessions bounds the session map; the oldest session goes first.
	maxSessions = 1000

	// freeFailures is how many wrong passwords an address may send in a
	// throttleWindow before it has to wait.
	freeFailures = 5
	// throttleWindow forgets an address's failures after this much quiet.
	throttleWindow = 15 * time.Minute
	// maxBackoff caps the wait after many failures.
	maxBackoff = 15 * time.Minute
	// maxThrottled bounds the failure map; past it, new addresses share
	// one entry.
	maxThrottled = 10_000
)

// sessions holds logged-in console sessions in memory, keyed by the
// SHA-256 of the cookie value, so a memory dump reveals no usable cookie.
// There is no sweeper goroutine: expired entries go when looked up or
// when the map is full.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	now func() time.Time
}

type session struct {
	created time.Time
	used    time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{m: make(map[[32]byte]*session), now: now}
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.used) >= SessionIdle || now.Sub(ss.created) >= SessionMax
}

// create starts a session and returns its cookie value: 256 random bits.
func (s *sessions) create() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		var oldestKey [32]byte
		var oldest *session
		for k, ss := range s.m {
			if s.expired(ss, now) {
				delete(s.m, k)
				continue
			}
			if oldest == nil || ss.created.Before(oldest.created) {
				oldestKey, oldest = k, ss
			}
		}
		if len(s.m) >= maxSessions && oldest != nil {
			delete(s.m, oldestKey)
		}
	}
	s.m[sha256.Sum256([]byte(id))] = &session{created: now, used: now}
	return id
}

// valid reports whether id is a live session, and marks it used.
func (s *sessions) valid(id string) bool {
	if id == "" {
		return false
	}
	key := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[key]
	if !ok {
		return false
	}
	if s.expired(ss, now) {
		delete(s.m, key)
		return false
	}
	ss.used = now
	return true
}

// end removes a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

// throttle counts failed logins per client address and makes an address
// wait, doubling each time, once it has used its free failures.
type throttle struct {
	mu  sync.Mutex
	m   map[string]*failures
	now func() time.Time
}

type failures struct {
	n     int
	last  time.Time
	until time.Time // no login before this
}

const overflowKey = "\x00overflow"

func newThrottle(now func() time.Time) *throttle {
	return &throttle{m: make(map[string]*failures), now: now}
}

// wait returns how long addr must wait before its next attempt; 0 when
// it may try now.
func (t *throttle) wait(addr string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[addr]
	if f == nil {
		f = t.m[overflowKey]
	}
	if f == nil || !f.until.After(now) {
		return 0
	}
	return f.until.Sub(now)
}

// fail records a failed attempt from addr.
func (t *throttle) fail(addr string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[addr]
	if f == nil {
		if len(t.m) >= maxThrottled {
			for k, o := range t.m {
				if now.Sub(o.last) >= throttleWindow {
					delete(t.m, k)
				}
			}
		}
		if len(t.m) >= maxThrottled {
			addr = overflowKey
			f = t.m[addr]
		}
		if f == nil {
			f = &failures{}
			t.m[addr] = f
		}
	}
	if now.Sub(f.last) >= throttleWindow {
		f.n = 0
	}
	f.n++
	f.last = now
	if f.n > freeFailures {
		d := maxBackoff
		if shift := f.n - freeFailures - 1; shift < 20 {
			d = min(time.Second<<shift, maxBackoff)
		}
		f.until = now.Add(d)
	}
}

// ok forgets addr's failures after a successful login.
func (t *throttle) ok(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, addr)
}
