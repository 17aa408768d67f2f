package xmpp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// NSPing is the namespace of XEP-0199 pings, which the session answers
// and sends.
const NSPing = "urn:xmpp:ping"

// inbound is what the reader goroutine hands to the serve loop.
type inbound struct {
	el  *stanza.Element
	err error
}

// serve runs the bound session until the link fails or ctx ends. A reader
// goroutine decodes; this goroutine handles what it reads and does every
// write, so writes need no lock.
func (s *session) serve(ctx context.Context, resumed bool) error {
	cfg := &s.c.cfg
	// A read may wait for as long as the server may stay silent, plus the
	// ping that checks on it.
	s.t.readTimeout = cfg.PingInterval + cfg.PingTimeout + cfg.Keepalive
	in := make(chan inbound, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			el, err := s.t.next()
			select {
			case in <- inbound{el, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(done)
		s.t.conn.Close()
		wg.Wait()
	}()

	s.c.setState(ctx, &StateChange{State: StateOnline, JID: s.full, Resumed: resumed})
	s.c.cfg.Logger.Info("xmpp: online", "jid", s.full, "resumed", resumed, "server", s.remoteAddr())

	ka := &keepalive{cfg: cfg, t: s.t, lastRead: cfg.Now()}
	timer := time.NewTimer(ka.due(cfg.Now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.t.closeStream()
			return ctx.Err()
		case it := <-in:
			if errors.Is(it.err, stream.ErrClosed) {
				s.t.closeStream()
				return errClosed
			}
			if it.err != nil {
				return it.err
			}
			ka.read(cfg.Now())
			if err := s.handle(ctx, it.el, ka); err != nil {
				return err
			}
		case req := <-s.c.sendCh:
			err := s.sendCounted(req.el)
			req.done <- err
			if err != nil {
				return err
			}
		case <-s.c.kick:
			// The network changed: check the link now.
			if err := s.ping(ka); err != nil {
				return err
			}
		case <-timer.C:
		}
		if err := s.tick(ka); err != nil {
			return err
		}
		timer.Reset(ka.due(cfg.Now()))
	}
}

// handle deals with one element from the server.
func (s *session) handle(ctx context.Context, el *stanza.Element, ka *keepalive) error {
	if el.Name.Space == NSSM {
		return s.handleSM(el)
	}
	if !stanza.IsStanza(el) {
		return nil // unknown top-level element: ignore
	}
	var err error
	switch el.Name.Local {
	case "iq":
		err = s.handleIQ(ctx, el, ka)
	case "message":
		err = s.handleMessage(ctx, el)
	}
	if err != nil {
		return err
	}
	s.handled()
	return nil
}

func (s *session) handleIQ(ctx context.Context, el *stanza.Element, ka *keepalive) error {
	switch typ := el.AttrValue("type"); typ {
	case stanza.TypeResult, stanza.TypeError:
		if ka.pingID != "" && el.AttrValue("id") == ka.pingID {
			ka.pong()
		}
		return nil
	case stanza.TypeGet, stanza.TypeSet:
	default:
		return nil
	}
	p := el.First()
	switch {
	case p == nil:
		return s.sendCounted(stanza.ErrorReply(el, stanza.BadRequest))
	case p.Is(NSPing, "ping"):
		return s.sendCounted(stanza.Result(el))
	case notification.IsIQ(el):
		return s.handleNotificationIQ(ctx, el)
	case p.Is(stanza.NSDiscoInfo, "query") && el.AttrValue("type") == stanza.TypeGet:
		q := stanza.New(stanza.NSDiscoInfo, "query").Add(
			stanza.New(stanza.NSDiscoInfo, "identity", "category", "client", "type", "pc", "name", "xpush"),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", stanza.NSDiscoInfo),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", NSPing),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", notification.NS),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", notification.NSOOB),
		)
		return s.sendCounted(stanza.Result(el).Add(q))
	}
	return s.sendCounted(stanza.ErrorReply(el, stanza.ServiceUnavailable))
}

// handleNotificationIQ hands the notification over, then acknowledges it
// with the IQ result; a malformed one gets an error and no event.
func (s *session) handleNotificationIQ(ctx context.Context, el *stanza.Element) error {
	if !s.allowed(el.AttrValue("from"), true) {
		return s.sendCounted(stanza.ErrorReply(el, stanza.Forbidden))
	}
	n, err := notification.ParseIQ(el, s.c.cfg.URISchemes)
	if err != nil {
		s.c.cfg.Logger.Warn("xmpp: malformed notification", "err", err)
		return s.sendCounted(stanza.ErrorReply(el, stanza.BadRequest.WithText(err.Error())))
	}
	if err := s.deliver(ctx, n); err != nil {
		return err
	}
	return s.sendCounted(stanza.Result(el))
}

func (s *session) handleMessage(ctx context.Context, el *stanza.Element) error {
	typ := el.AttrValue("type")
	if typ == "" {
		typ = stanza.TypeNormal
	}
	switch typ {
	case stanza.TypeHeadline, stanza.TypeNormal, stanza.TypeChat:
	default:
		return nil
	}
	if !s.allowed(el.AttrValue("from"), typ == stanza.TypeHeadline) {
		return nil
	}
	n, err := notification.ParseMessage(el, s.c.cfg.URISchemes)
	if err != nil {
		return nil // chat states, receipts: nothing to show
	}
	return s.deliver(ctx, n)
}

// deliver puts a new notification on the events channel, dropping one
// seen before. It returns an error only when ctx ends first.
func (s *session) deliver(ctx context.Context, n *notification.Notification) error {
	n.Received = s.c.cfg.Now().UTC()
	if key := n.DedupeKey(); key != "" && !s.c.seen.add(key) {
		s.c.cfg.Logger.Debug("xmpp: duplicate notification dropped", "key", key)
		return nil
	}
	if !s.c.emit(ctx, &Notified{Notification: n}) {
		return ctx.Err()
	}
	return nil
}

// allowed applies the sender allow-list. anyone says whether the stanza
// kind (headline, notification IQ) is accepted from anyone when the list
// is empty.
func (s *session) allowed(from string, anyone bool) bool {
	list := s.c.cfg.AllowedSenders
	if len(list) == 0 && anyone {
		return true
	}
	if from == "" {
		return true // from our own server (RFC 6120 §8.1.2.1)
	}
	j, err := jid.Parse(from)
	if err != nil {
		return false
	}
	bare, domain := j.Bare().String(), j.Domainpart()
	if j.Localpart() == "" && (domain == s.c.domain || domain == s.c.cfg.PushService) {
		return true
	}
	return slices.ContainsFunc(list, func(a string) bool {
		return strings.EqualFold(a, bare) || strings.EqualFold(a, domain)
	})
}

// keepalive tracks when we last read, and the ping in flight; the
// transport knows when we last wrote.
type keepalive struct {
	cfg      *Config
	t        *transport
	lastRead time.Time
	pingID   string
	pingSent time.Time
}

func (k *keepalive) read(now time.Time) { k.lastRead = now }
func (k *keepalive) pong()              { k.pingID = "" }

// due returns how long until the next keepalive action.
func (k *keepalive) due(now time.Time) time.Duration {
	next := k.t.lastWrite.Add(k.cfg.Keepalive)
	if k.pingID != "" {
		next = minTime(next, k.pingSent.Add(k.cfg.PingTimeout))
	} else {
		next = minTime(next, k.lastRead.Add(k.cfg.PingInterval))
	}
	return max(next.Sub(now), 10*time.Millisecond)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// tick does what is due: fail on an unanswered ping, ping a silent server,
// write a space on a quiet stream.
func (s *session) tick(ka *keepalive) error {
	now := s.c.cfg.Now()
	switch {
	case ka.pingID != "" && now.Sub(ka.pingSent) >= s.c.cfg.PingTimeout:
		return fmt.Errorf("%w (no answer in %v)", ErrPingTimeout, s.c.cfg.PingTimeout)
	case ka.pingID == "" && now.Sub(ka.lastRead) >= s.c.cfg.PingInterval:
		return s.ping(ka)
	case now.Sub(s.t.lastWrite) >= s.c.cfg.Keepalive:
		return s.t.write([]byte{' '})
	}
	return nil
}

// ping sends an XEP-0199 ping to the server unless one is in flight.
func (s *session) ping(ka *keepalive) error {
	if ka.pingID != "" {
		return nil
	}
	ka.pingID = s.c.cfg.ID()
	ka.pingSent = s.c.cfg.Now()
	return s.sendCounted(stanza.IQ(stanza.TypeGet, ka.pingID, s.c.domain, stanza.New(NSPing, "ping")))
}

// errClosed is returned when the server closes the stream.
var errClosed = errors.New("xmpp: the server closed the stream")
