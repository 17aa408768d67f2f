package faultproxy

import (
	"net"
	"sync"
)

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	l      net.Listener
	target string

	mu      sync.Mutex
	pairs   map[*pair]struct{}
	stalled bool
	closed  bool
	wg      sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	// gate is closed to let a stalled pair forward again.
	gate chan struct{}
}

// New listens on 127.0.0.1:0 and forwards to target. Close stops it.
func New(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{l: l, target: target, pairs: make(map[*pair]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s, gate: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		if !p.stalled {
			close(pr.gate)
		}
		p.pairs[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, pr.server, pr.client)
		go p.pipe(pr, pr.client, pr.server)
	}
}

// pipe copies src to dst, waiting at the gate before each write.
func (p *Proxy) pipe(pr *pair, dst, src net.Conn) {
	defer p.wg.Done()
	defer p.drop(pr)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate(pr)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a failure: either way this pair is done
		}
	}
}

func (p *Proxy) gate(pr *pair) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pr.gate
}

func (p *Proxy) drop(pr *pair) {
	p.mu.Lock()
	delete(p.pairs, pr)
	select {
	case <-pr.gate:
	default:
		close(pr.gate) // let the other direction's goroutine finish
	}
	p.mu.Unlock()
	pr.client.Close()
	pr.server.Close()
}

// DropAll closes every proxied connection (both sides), as a network
// failure does; new connections are accepted as before.
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	prs := make([]*pair, 0, len(p.pairs))
	for pr := range p.pairs {
		prs = append(prs, pr)
	}
	p.mu.Unlock()
	for _, pr := range prs {
		p.drop(pr)
	}
	return len(prs)
}

// Stall stops forwarding on every connection, current and new, without
// closing anything: to both ends the link looks dead.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	for pr := range p.pairs {
		select {
		case <-pr.gate:
			pr.gate = make(chan struct{})
		default:
		}
	}
}

// Resume forwards again after Stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	for pr := range p.pairs {
		select {
		case <-pr.gate:
		default:
			close(pr.gate)
		}
	}
}

// Count returns how many connections are open.
func (p *Proxy) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Close stops accepting, drops every connection and waits for the
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.l.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}
