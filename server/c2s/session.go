package c2s

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// maxUnacked bounds what a session keeps for resending under stream
// management; past it the client is not acknowledging and is cut off.
const maxUnacked = 1024

// wbufPool holds the buffers sessions encode stanzas into: an idle session
// keeps none. Buffers grown past maxPooledWrite are left to the collector.
var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledWrite = 4 << 10

// ErrGone is returned by Push when the session has ended.
var ErrGone = errors.New("c2s: session gone")

// Session is a bound client session. Push may be called from any
// goroutine.
type Session struct {
	srv      *Server
	user     string
	resource string
	since    time.Time
	ip       string

	mu      sync.Mutex
	nc      net.Conn          // nil while detached (waiting for resumption)
	gen     int               // incremented on each attach, with nc
	pending map[string]string // stanza id -> notification id awaiting the IQ result; nil when none
	gone    bool
	// XEP-0198.
	smOn    bool
	smID    string
	inH     uint32
	outH    uint32
	unacked []*stanza.Element
	expiry  *time.Timer
}

// User returns the session's account name.
func (s *Session) User() string { return s.user }

// JID returns the full JID.
func (s *Session) JID() string { return s.user + "@" + s.srv.opts.Domain + "/" + s.resource }

// Resource returns the bound resource.
func (s *Session) Resource() string { return s.resource }

// Since returns when the session was bound.
func (s *Session) Since() time.Time { return s.since }

// IP returns the client's address.
func (s *Session) IP() string { return s.ip }

// bind creates the session for an authenticated conn, answers with reply
// and registers it, replacing a session with the same resource.
func (srv *Server) bind(c *conn, resource string, reply *stanza.Element) (*Session, error) {
	sess := &Session{srv: srv, user: c.user, resource: resource, since: srv.opts.Now(), ip: c.ip, nc: c.nc, gen: 1}
	srv.mu.Lock()
	if srv.closed.Load() {
		srv.mu.Unlock()
		return nil, stream.SystemShutdown
	}
	byRes := srv.bound[c.user]
	var old *Session
	i := slices.IndexFunc(byRes, func(s *Session) bool { return s.resource == resource })
	if i >= 0 {
		old = byRes[i]
	}
	switch {
	case old != nil && c.accepted.Before(old.since):
		// A login that began before the session holding the resource
		// was bound: a connection its client gave up and replaced, whose
		// bind arrives late. Taking the resource over would throw the
		// live session out (RFC 6120 §7.7.2.2 lets the server refuse).
		srv.mu.Unlock()
		return nil, c.send(stanza.ErrorReply(reply, stanza.Conflict.WithText("a newer login holds this resource")))
	case old == nil && srv.sessions >= srv.opts.MaxSessions:
		srv.mu.Unlock()
		return nil, stream.ResourceConstraint.WithText("the server is full")
	case old == nil && len(byRes) >= srv.opts.MaxPerUser:
		srv.mu.Unlock()
		return nil, c.send(stanza.ErrorReply(reply, stanza.ResourceConstraint.WithText("too many sessions for this account")))
	}
	if old == nil {
		// A new slice: SessionsOf and Each may still range over the old.
		srv.bound[c.user] = append(slices.Clip(byRes), sess)
		srv.sessions++
	} else {
		byRes = slices.Clone(byRes)
		byRes[i] = sess
		srv.bound[c.user] = byRes
	}
	srv.mu.Unlock()
	if old != nil {
		old.replaced()
	}
	c.gen = sess.gen
	if err := c.send(reply); err != nil {
		sess.end(err)
		return nil, err
	}
	srv.opts.Hub.Bound(sess)
	return sess, nil
}

// replaced ends a session whose resource a new login took.
func (s *Session) replaced() {
	s.mu.Lock()
	nc := s.nc
	s.gone = true
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.mu.Unlock()
	if nc != nil {
		b := stream.Conflict.WithText("replaced by a new login").Element().AppendXML(nil, stanza.NSClient)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(append(b, stream.CloseTag...))
		nc.Close()
	}
	s.srv.opts.Hub.Unbound(s)
}

// serve starts reading the session's stanzas from c's connection, which
// bind or resume attached as generation gen, on goroutines of its own (see
// link), and returns.
func (s *Session) serve(c *conn, gen int) {
	l := &link{s: s, raw: c.raw, nc: c.nc, pc: c.pc, tls: c.secure, dec: c.dec, gen: gen}
	l.dec.BeforeRead(l.setReadDeadline)
	l.start(false)
}

// expire ends a detached session whose resumption window passed.
func (s *Session) expire() {
	s.mu.Lock()
	if s.nc != nil || s.gone {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.end(errors.New("c2s: resumption window passed"))
}

// end removes the session for good and tells the hub.
func (s *Session) end(err error) {
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return
	}
	s.gone = true
	if s.expiry != nil {
		s.expiry.Stop()
	}
	id := s.smID
	s.unacked = nil
	s.mu.Unlock()
	srv := s.srv
	srv.mu.Lock()
	if id != "" && srv.resumable[id] == s {
		delete(srv.resumable, id)
	}
	if byRes := srv.bound[s.user]; slices.Contains(byRes, s) {
		// A new slice: SessionsOf and Each may still range over the old.
		byRes = slices.DeleteFunc(slices.Clone(byRes), func(o *Session) bool { return o == s })
		srv.sessions--
		if len(byRes) == 0 {
			delete(srv.bound, s.user)
		} else {
			srv.bound[s.user] = byRes
		}
	}
	srv.mu.Unlock()
	srv.opts.Logger.Debug("c2s: session ended", "jid", s.JID(), "err", err)
	srv.opts.Hub.Unbound(s)
}

// handleElement handles one top-level element from the client.
func (s *Session) handleElement(el *stanza.Element) error {
	if el.Is(stanza.NSStream, "error") {
		return stream.ParseError(el)
	}
	if el.Name.Space == xmpp.NSSM {
		return s.handleSM(el)
	}
	if !stanza.IsStanza(el) {
		return stream.UnsupportedStanzaType.WithText(el.Name.Local)
	}
	if err := s.handle(el); err != nil {
		return err
	}
	s.mu.Lock()
	if s.smOn {
		s.inH++
	}
	s.mu.Unlock()
	return nil
}

// handle deals with one stanza from the client.
func (s *Session) handle(el *stanza.Element) error {
	switch el.Name.Local {
	case "iq":
		return s.handleIQ(el)
	case "message":
		if el.AttrValue("type") == stanza.TypeError {
			return nil
		}
		// xpushd routes no messages: a client can never reach another
		// user through it.
		return s.send(stanza.ErrorReply(el, stanza.ServiceUnavailable.WithText("this server routes no messages")))
	}
	return nil // presence: nothing to route
}

func (s *Session) handleIQ(iq *stanza.Element) error {
	id := iq.AttrValue("id")
	switch iq.AttrValue("type") {
	case stanza.TypeResult, stanza.TypeError:
		s.mu.Lock()
		nid, ok := s.pending[id]
		delete(s.pending, id)
		if len(s.pending) == 0 {
			s.pending = nil // an idle session keeps no map
		}
		s.mu.Unlock()
		if !ok {
			return nil
		}
		if iq.AttrValue("type") == stanza.TypeResult {
			s.srv.opts.Hub.Acked(s, nid)
		} else {
			e, _ := stanza.ParseError(iq)
			s.srv.opts.Hub.Nacked(s, nid, e)
		}
		return nil
	case stanza.TypeGet, stanza.TypeSet:
	default:
		return s.send(stanza.ErrorReply(iq, stanza.BadRequest))
	}
	if to := iq.AttrValue("to"); to != "" && to != s.srv.opts.Domain && to != s.user+"@"+s.srv.opts.Domain {
		return s.send(stanza.ErrorReply(iq, stanza.ServiceUnavailable.WithText("this server routes no stanzas to others")))
	}
	p := iq.First()
	switch {
	case p == nil:
		return s.send(stanza.ErrorReply(iq, stanza.BadRequest))
	case p.Is(xmpp.NSPing, "ping"):
		return s.send(stanza.Result(iq))
	case p.Is(notification.NS, "notification"):
		return s.send(stanza.ErrorReply(iq, stanza.Forbidden.WithText("clients cannot send notifications")))
	case p.Is(stanza.NSRoster, "query") && iq.AttrValue("type") == stanza.TypeGet:
		return s.send(stanza.Result(iq).Add(stanza.New(stanza.NSRoster, "query")))
	case p.Is(stanza.NSSession, "session"):
		return s.send(stanza.Result(iq))
	case p.Is(stanza.NSDiscoInfo, "query") && iq.AttrValue("type") == stanza.TypeGet:
		q := stanza.New(stanza.NSDiscoInfo, "query").Add(
			stanza.New(stanza.NSDiscoInfo, "identity", "category", "server", "type", "im", "name", "xpushd"),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", stanza.NSDiscoInfo),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", xmpp.NSPing),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", xmpp.NSSM),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", xmpp.NSRegister),
			stanza.New(stanza.NSDiscoInfo, "feature", "var", notification.NS),
		)
		return s.send(stanza.Result(iq).Add(q))
	}
	return s.send(stanza.ErrorReply(iq, stanza.ServiceUnavailable))
}

// send writes a stanza to the client, counting it for stream management.
func (s *Session) send(el *stanza.Element) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(el)
}

func (s *Session) sendLocked(el *stanza.Element) error {
	if s.smOn {
		if len(s.unacked) >= maxUnacked {
			return stream.PolicyViolation.WithText("too many unacknowledged stanzas")
		}
		s.unacked = append(s.unacked, el)
	}
	if s.nc == nil {
		return nil // detached: resent on resumption
	}
	if err := s.writeLocked(el); err != nil {
		return err
	}
	if s.smOn && len(s.unacked)%smAskEvery == 0 {
		// Clients acknowledge when asked (XEP-0198 §4): ask, so that
		// the stanzas kept for resending stay few.
		return s.writeLocked(smRequest)
	}
	return nil
}

// smAskEvery is how many unacknowledged stanzas make the session ask the
// client for an acknowledgement.
const smAskEvery = 8

var smRequest = stanza.New(xmpp.NSSM, "r")

func (s *Session) writeLocked(el *stanza.Element) error {
	bp := wbufPool.Get().(*[]byte)
	b := el.AppendXML((*bp)[:0], stanza.NSClient)
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.srv.opts.WriteTimeout))
	_, err := s.nc.Write(b)
	if cap(b) <= maxPooledWrite {
		*bp = b[:0]
		wbufPool.Put(bp)
	}
	if err != nil {
		// Unblock the reader so that the session ends.
		_ = s.nc.SetReadDeadline(time.Unix(1, 0))
		return fmt.Errorf("c2s: write to %s: %w", s.JID(), err)
	}
	return nil
}

// Push sends notification n as the paper's IQ. The client's result is
// reported to the hub as Acked. Pushing a notification already awaiting
// its ack on this session does nothing.
func (s *Session) Push(n *notification.Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return ErrGone
	}
	for _, nid := range s.pending {
		if nid == n.ID {
			return nil
		}
	}
	sid := "n" + strconv.FormatUint(uint64(len(s.pending)), 36) + "-" + xmppID()[:10]
	if s.pending == nil {
		s.pending = make(map[string]string, 1)
	}
	s.pending[sid] = n.ID
	return s.sendLocked(n.AsIQ(sid, s.srv.opts.Domain, s.JID()))
}

// Online reports whether the session has a live connection.
func (s *Session) Online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nc != nil && !s.gone
}

// handleSM processes XEP-0198 elements.
func (s *Session) handleSM(el *stanza.Element) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch el.Name.Local {
	case "enable":
		if s.smOn {
			return s.writeLocked(stanza.New(xmpp.NSSM, "failed").Add(stanza.New(stanza.NSStanzas, "unexpected-request")))
		}
		s.smOn = true
		enabled := stanza.New(xmpp.NSSM, "enabled")
		if v := el.AttrValue("resume"); v == "true" || v == "1" {
			s.smID = xmppID()
			enabled.SetAttr("id", s.smID).SetAttr("resume", "true").
				SetAttr("max", strconv.Itoa(int(s.srv.opts.ResumeWindow/time.Second)))
		}
		return s.writeLocked(enabled)
	case "r":
		if !s.smOn {
			return nil
		}
		return s.writeLocked(stanza.New(xmpp.NSSM, "a", "h", strconv.FormatUint(uint64(s.inH), 10)))
	case "a":
		h, err := strconv.ParseUint(el.AttrValue("h"), 10, 32)
		if err != nil {
			return stream.UndefinedCondition.WithText("bad h")
		}
		return s.ackLocked(uint32(h))
	}
	return nil
}

// ackLocked drops stanzas the client acknowledged.
func (s *Session) ackLocked(h uint32) error {
	n := h - s.outH
	if int(n) > len(s.unacked) {
		return stream.UndefinedCondition.WithText("h acknowledges stanzas never sent")
	}
	clear(s.unacked[:n])
	s.unacked = s.unacked[n:]
	if len(s.unacked) == 0 {
		s.unacked = nil
	}
	s.outH = h
	return nil
}

// resume reattaches a detached session to c (XEP-0198 §5). It returns nil
// after answering <failed/> when the session cannot be resumed.
func (c *conn) resume(el *stanza.Element) *Session {
	failed := func(cond string) *Session {
		f := stanza.New(xmpp.NSSM, "failed").Add(stanza.New(stanza.NSStanzas, cond))
		_ = c.send(f)
		return nil
	}
	if c.user == "" || !c.saslDone {
		return failed("unexpected-request")
	}
	h, err := strconv.ParseUint(el.AttrValue("h"), 10, 32)
	if err != nil {
		return failed("bad-request")
	}
	srv := c.srv
	srv.mu.Lock()
	sess := srv.resumable[el.AttrValue("previd")]
	if sess == nil || sess.user != c.user {
		srv.mu.Unlock()
		return failed("item-not-found")
	}
	delete(srv.resumable, sess.smID)
	srv.mu.Unlock()

	sess.mu.Lock()
	if sess.gone {
		sess.mu.Unlock()
		return failed("item-not-found")
	}
	if sess.expiry != nil {
		sess.expiry.Stop()
	}
	if err := sess.ackLocked(uint32(h)); err != nil {
		sess.mu.Unlock()
		// Out of the resumable set and without a timer: end it, or it
		// would stay bound, detached, for good.
		sess.end(fmt.Errorf("c2s: resumption with a bad h: %w", err))
		return failed("bad-request")
	}
	// A new generation, with the connection: from now on the link of the
	// previous one, if still reading, leaves the session alone.
	sess.gen++
	c.gen = sess.gen
	sess.nc = c.nc
	sess.ip = c.ip
	resumed := stanza.New(xmpp.NSSM, "resumed", "previd", sess.smID, "h", strconv.FormatUint(uint64(sess.inH), 10))
	err = sess.writeLocked(resumed)
	for _, st := range sess.unacked {
		if err != nil {
			break
		}
		err = sess.writeLocked(st)
	}
	sess.mu.Unlock()
	if err != nil {
		// The new connection failed too. Its link will notice, and
		// detach the session again (or end it): without a link, it
		// would stay attached to a dead connection.
		srv.opts.Logger.Debug("c2s: resumption failed to write", "jid", sess.JID(), "err", err)
		return sess
	}
	srv.opts.Logger.Debug("c2s: session resumed", "jid", sess.JID())
	srv.opts.Hub.Bound(sess)
	return sess
}

// SessionsOf returns the bound sessions of user.
func (srv *Server) SessionsOf(user string) []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return slices.Clone(srv.bound[user])
}

// Each calls f for every bound session (detached ones included), outside
// the server's lock.
func (srv *Server) Each(f func(*Session)) {
	srv.mu.Lock()
	all := make([]*Session, 0, srv.sessions)
	for _, byRes := range srv.bound {
		all = append(all, byRes...)
	}
	srv.mu.Unlock()
	for _, s := range all {
		f(s)
	}
}

// OnlineUsers returns the users with at least one bound session.
func (srv *Server) OnlineUsers() []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]string, 0, len(srv.bound))
	for u := range srv.bound {
		out = append(out, u)
	}
	return out
}
