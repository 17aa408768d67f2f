package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"
)

// DefaultDialTimeout bounds the dial to the target of one connection: a
// server that is down refuses at once on loopback, so this only matters
// when its accept queue is full.
const DefaultDialTimeout = 5 * time.Second

// bufSize is the copy buffer per direction of a connection.
const bufSize = 32 << 10

// Options configure a Proxy; the zero value is usable.
type Options struct {
	// Listen is the address to listen on; 127.0.0.1:0 when empty.
	Listen string
	// DialTimeout bounds each dial to the target; DefaultDialTimeout
	// when zero.
	DialTimeout time.Duration
	// Dial, when set, replaces the dialer, for example to spread
	// connections over several source addresses of 127.0.0.0/8.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// KeepClientIP dials the target from the client's own IP address
	// (the port is the system's choice), so that the target tells
	// clients apart by address as it would without the proxy: its
	// per-address limits apply per client. Clients on 127.0.0.0/8 can
	// each dial from an address of their own. Ignored with Dial.
	KeepClientIP bool
}

// ID names one proxied connection; IDs increase in accept order.
type ID uint64

// Stats counts what a proxy has done since it started.
type Stats struct {
	Accepted   int // client connections accepted
	DialFailed int // of those, closed because the target refused
	Dropped    int // connections closed by Drop, DropAll or Close
	Stalled    int // connections a stall caught (counted once per stall)
}

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	l      net.Listener
	target string
	opts   Options
	ctx    context.Context // ends on Close: cancels dials in flight
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pairs   map[ID]*pair
	nextID  ID
	stalled bool // Stall: every connection, new ones too
	closed  bool
	stats   Stats
}

type pair struct {
	id             ID
	client, server net.Conn
	// gate is closed while the pair forwards; a stall replaces it with
	// an open one. Guarded by Proxy.mu.
	gate    chan struct{}
	dropped bool
}

// New listens on 127.0.0.1:0 and forwards to target. Close stops it.
func New(target string) (*Proxy, error) { return NewWith(target, Options{}) }

// NewWith listens as opts say and forwards to target. Close stops it.
func NewWith(target string, opts Options) (*Proxy, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.Dial != nil {
		opts.KeepClientIP = false
	} else {
		var d net.Dialer
		opts.Dial = d.DialContext
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{l: l, target: target, opts: opts, ctx: ctx, cancel: cancel, pairs: make(map[ID]*pair)}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// accept accepts until the listener closes. Other errors (out of file
// descriptors under load) are retried after a pause, 5 ms doubling up to
// a second, so that a burst of reconnections does not end the proxy.
func (p *Proxy) accept() {
	defer p.wg.Done()
	var delay time.Duration
	for {
		c, err := p.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
				continue
			case <-p.ctx.Done():
				return
			}
		}
		delay = 0
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		p.stats.Accepted++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.connect(c)
	}
}

// connect dials the target for client connection c and starts the pair.
func (p *Proxy) connect(c net.Conn) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.DialTimeout)
	dial := p.opts.Dial
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok && p.opts.KeepClientIP {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ta.IP}}
		dial = d.DialContext
	}
	s, err := dial(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		_ = c.Close()
		p.mu.Lock()
		p.stats.DialFailed++
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.nextID++
	pr := &pair{id: p.nextID, client: c, server: s, gate: make(chan struct{})}
	if p.stalled {
		p.stats.Stalled++
	} else {
		close(pr.gate)
	}
	p.pairs[pr.id] = pr
	p.wg.Add(2)
	p.mu.Unlock()
	go p.pipe(pr, pr.server, pr.client)
	go p.pipe(pr, pr.client, pr.server)
}

// pipe copies src to dst, waiting at the gate before each write and
// before passing on the end of src: a stalled link carries nothing, not
// even a close.
func (p *Proxy) pipe(pr *pair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, bufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate(pr)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			<-p.gate(pr)
			break // EOF or a failure: either way this pair is done
		}
	}
	p.drop(pr, false)
}

func (p *Proxy) gate(pr *pair) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pr.gate
}

// drop closes both sides of pr; fault says whether a test asked for it.
// It reports whether this call closed it.
func (p *Proxy) drop(pr *pair, fault bool) bool {
	p.mu.Lock()
	if pr.dropped {
		p.mu.Unlock()
		return false
	}
	pr.dropped = true
	delete(p.pairs, pr.id)
	// Close before opening the gate: a goroutine waiting there with
	// bytes read while stalled must fail its write, not pass them on.
	_ = pr.client.Close()
	_ = pr.server.Close()
	openGate(pr) // let a goroutine waiting at the gate finish
	if fault {
		p.stats.Dropped++
	}
	p.mu.Unlock()
	return true
}

func openGate(pr *pair) {
	select {
	case <-pr.gate:
	default:
		close(pr.gate)
	}
}

func closeGate(pr *pair) bool {
	select {
	case <-pr.gate:
		pr.gate = make(chan struct{})
		return true
	default:
		return false // stalled already
	}
}

// Conns returns the ids of the open connections, oldest first.
func (p *Proxy) Conns() []ID {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]ID, 0, len(p.pairs))
	for id := range p.pairs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Pick returns a random share (0 to 1) of the open connections' ids,
// chosen with r so that a seeded run picks the same ones, oldest first.
// At least one is picked when any is open and share > 0.
func (p *Proxy) Pick(r *rand.Rand, share float64) []ID {
	ids := p.Conns()
	if len(ids) == 0 || share <= 0 {
		return nil
	}
	n := min(len(ids), max(1, int(share*float64(len(ids))+0.5)))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = ids[:n]
	slices.Sort(ids)
	return ids
}

// lookup returns the open pairs among ids.
func (p *Proxy) lookup(ids []ID) []*pair {
	p.mu.Lock()
	defer p.mu.Unlock()
	prs := make([]*pair, 0, len(ids))
	for _, id := range ids {
		if pr := p.pairs[id]; pr != nil {
			prs = append(prs, pr)
		}
	}
	return prs
}

// Drop closes the given connections on both sides, as a network failure
// does, and returns how many were still open.
func (p *Proxy) Drop(ids ...ID) int {
	n := 0
	for _, pr := range p.lookup(ids) {
		if p.drop(pr, true) {
			n++
		}
	}
	return n
}

// DropAll closes every proxied connection (both sides), as a network
// failure does; new connections are accepted as before.
func (p *Proxy) DropAll() int { return p.Drop(p.Conns()...) }

// StallConns stops forwarding on the given connections without closing
// anything, and returns how many it stalled (open and not stalled yet).
func (p *Proxy) StallConns(ids ...ID) int {
	prs := p.lookup(ids)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pr := range prs {
		if !pr.dropped && closeGate(pr) {
			n++
		}
	}
	p.stats.Stalled += n
	return n
}

// ResumeConns lets the given connections forward again.
func (p *Proxy) ResumeConns(ids ...ID) {
	prs := p.lookup(ids)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range prs {
		openGate(pr)
	}
}

// Stall stops forwarding on every connection, current and new, without
// closing anything: to both ends the link looks dead.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	for _, pr := range p.pairs {
		if closeGate(pr) {
			p.stats.Stalled++
		}
	}
}

// Resume forwards again after Stall, on every connection (those stalled
// with StallConns too).
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	for _, pr := range p.pairs {
		openGate(pr)
	}
}

// Count returns how many connections are open.
func (p *Proxy) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops accepting, drops every connection and waits for the
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	err := p.l.Close()
	for _, pr := range p.lookup(p.Conns()) {
		p.drop(pr, false)
	}
	p.wg.Wait()
	return err
}
