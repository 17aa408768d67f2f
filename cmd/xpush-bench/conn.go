package main

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdg-go/scram"

	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// Namespaces of the negotiation and of the few IQs the tool sends.
const (
	nsTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession   = "urn:ietf:params:xml:ns:xmpp-session"
	nsRegister  = "jabber:iq:register"
	nsPing      = "urn:xmpp:ping"
	nsVersion   = "jabber:iq:version"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
)

// SASL mechanisms the tool speaks, most preferred first. Channel binding
// is left out on purpose: it costs a TLS exporter per login and measures
// nothing the plain mechanisms don't.
var mechanisms = []struct {
	name string
	hash scram.HashGeneratorFcn
}{
	{"SCRAM-SHA-256", scram.SHA256},
	{"SCRAM-SHA-1", scram.SHA1},
}

// errExists is register's error for a name that is taken.
var errExists = errors.New("account exists")

// stanzaIDs numbers the stanzas the tool sends.
var stanzaIDs atomic.Uint64

func nextID() string { return "b" + strconv.FormatUint(stanzaIDs.Add(1), 36) }

// conn is one c2s connection of the tool: a stream decoder and a writer
// that any goroutine may use. Whoever holds a conn closes nc: the
// negotiation on failure, the session's reader once online.
type conn struct {
	nc  net.Conn
	dec *stream.Decoder
	// deadline is the read deadline set before each read; it changes
	// only while no read is in progress (between negotiation steps, or
	// before the reader goroutine starts).
	deadline     time.Time
	writeTimeout time.Duration

	wmu  sync.Mutex
	wbuf []byte
}

func newConn(nc net.Conn, deadline time.Time, writeTimeout time.Duration) *conn {
	c := &conn{nc: nc, deadline: deadline, writeTimeout: writeTimeout}
	c.dec = stream.NewDecoder(nc, stream.Limits{})
	c.dec.BeforeRead(func() { _ = c.nc.SetReadDeadline(c.deadline) })
	return c
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

func (c *conn) writeLocked(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// send writes one stanza or negotiation element.
func (c *conn) send(el *stanza.Element) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = el.AppendXML(c.wbuf[:0], stanza.NSClient)
	err := c.writeLocked(c.wbuf)
	if cap(c.wbuf) > 4<<10 {
		c.wbuf = nil // an idle session keeps no large buffer
	}
	return err
}

// next reads the next element; a stream error from the server is
// returned as an error.
func (c *conn) next() (*stanza.Element, error) {
	el, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Is(stanza.NSStream, "error") {
		return nil, stream.ParseError(el)
	}
	return el, nil
}

// open writes our stream header and reads the server's and its
// features.
func (c *conn) open(domain string) (*stanza.Element, error) {
	if err := c.write(stream.AppendHeader(nil, stream.Header{To: domain, Lang: "en"})); err != nil {
		return nil, err
	}
	if _, err := c.dec.ReadHeader(); err != nil {
		return nil, fmt.Errorf("stream header: %w", err)
	}
	f, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("stream features: %w", err)
	}
	if !f.Is(stanza.NSStream, "features") {
		return nil, fmt.Errorf("expected stream features, got <%s/>", f.Name.Local)
	}
	return f, nil
}

// startTLS upgrades the stream (RFC 6120 §5) and reopens it.
func (c *conn) startTLS(domain string, cfg *tls.Config) (*stanza.Element, error) {
	if err := c.send(stanza.New(nsTLS, "starttls")); err != nil {
		return nil, err
	}
	el, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("starttls: %w", err)
	}
	if !el.Is(nsTLS, "proceed") {
		return nil, fmt.Errorf("starttls: server answered <%s/>", el.Name.Local)
	}
	tc := tls.Client(c.nc, cfg)
	_ = tc.SetDeadline(c.deadline)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc = tc
	c.dec.Reset(tc)
	return c.open(domain)
}

// roundTrip sends the iq and returns its result, or the stanza error,
// skipping anything else. It is for the negotiation, before the reader
// goroutine runs.
func (c *conn) roundTrip(iq *stanza.Element) (*stanza.Element, error) {
	if err := c.send(iq); err != nil {
		return nil, err
	}
	id := iq.AttrValue("id")
	for {
		el, err := c.next()
		if err != nil {
			return nil, err
		}
		if el.Name.Local != "iq" || el.AttrValue("id") != id {
			continue
		}
		switch el.AttrValue("type") {
		case stanza.TypeResult:
			return el, nil
		case stanza.TypeError:
			e, _ := stanza.ParseError(el)
			return nil, e
		}
	}
}

// closeStream ends a short-lived stream politely: it sends our closing
// tag and waits, briefly, for the server to close first, so that the
// TIME_WAIT state stays on the server's side and does not use up the
// tool's ephemeral ports. Then it closes the connection.
func (c *conn) closeStream() {
	defer c.nc.Close()
	if c.write([]byte(stream.CloseTag)) != nil {
		return
	}
	c.deadline = time.Now().Add(2 * time.Second)
	for range 16 {
		if _, err := c.dec.Next(); err != nil {
			return
		}
	}
}

// pickMechanism returns the best SCRAM mechanism the features offer.
func pickMechanism(feats *stanza.Element) (string, scram.HashGeneratorFcn, error) {
	var offered []string
	if m := feats.Child(nsSASL, "mechanisms"); m != nil {
		for _, c := range m.Children {
			offered = append(offered, strings.ToUpper(strings.TrimSpace(c.Text)))
		}
	}
	for _, m := range mechanisms {
		for _, o := range offered {
			if o == m.name {
				return m.name, m.hash, nil
			}
		}
	}
	return "", nil, fmt.Errorf("no SCRAM mechanism offered (the server offers %s)", strings.Join(offered, ", "))
}

// saslError is a <failure/>.
type saslError struct{ condition, text string }

func (e *saslError) Error() string {
	if e.text != "" {
		return "sasl: " + e.condition + ": " + e.text
	}
	return "sasl: " + e.condition
}

func parseFailure(el *stanza.Element) *saslError {
	f := &saslError{condition: "not-authorized"}
	for _, c := range el.Children {
		if c.Name.Local == "text" {
			f.text = c.Text
		} else {
			f.condition = c.Name.Local
		}
	}
	return f
}

// auth runs one SCRAM exchange with the client's keys (derived on the
// spot unless the client has them cached for the server's salt).
func (c *conn) auth(mech string, client *scram.Client) error {
	conv := client.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return fmt.Errorf("sasl: %w", err)
	}
	el := stanza.New(nsSASL, "auth", "mechanism", mech)
	el.Text = base64.StdEncoding.EncodeToString([]byte(first))
	if err := c.send(el); err != nil {
		return err
	}
	for {
		el, err := c.next()
		if err != nil {
			return fmt.Errorf("sasl: %w", err)
		}
		if el.Name.Space != nsSASL {
			continue
		}
		switch el.Name.Local {
		case "challenge":
			in, err := xmpp.DecodeSASL(el.Text)
			if err != nil {
				return err
			}
			out, err := conv.Step(string(in))
			if err != nil {
				return fmt.Errorf("sasl: %w", err)
			}
			resp := stanza.New(nsSASL, "response")
			resp.Text = xmpp.EncodeSASL([]byte(out))
			if err := c.send(resp); err != nil {
				return err
			}
		case "success":
			in, err := xmpp.DecodeSASL(el.Text)
			if err != nil {
				return err
			}
			if !conv.Done() {
				if _, err := conv.Step(string(in)); err != nil {
					return fmt.Errorf("sasl: server not verified: %w", err)
				}
			}
			if !conv.Valid() {
				return errors.New("sasl: server not verified")
			}
			return nil
		case "failure":
			return parseFailure(el)
		}
	}
}

// probeSalt starts a SCRAM exchange only to read the server's salt and
// iteration count for user, then aborts it.
func (c *conn) probeSalt(mech, user string) (scram.KeyFactors, error) {
	var nonce [18]byte
	_, _ = rand.Read(nonce[:])
	first := "n,,n=" + saslName(user) + ",r=" + base64.RawStdEncoding.EncodeToString(nonce[:])
	el := stanza.New(nsSASL, "auth", "mechanism", mech)
	el.Text = xmpp.EncodeSASL([]byte(first))
	if err := c.send(el); err != nil {
		return scram.KeyFactors{}, err
	}
	for {
		el, err := c.next()
		if err != nil {
			return scram.KeyFactors{}, fmt.Errorf("sasl probe: %w", err)
		}
		switch {
		case el.Is(nsSASL, "failure"):
			return scram.KeyFactors{}, parseFailure(el)
		case !el.Is(nsSASL, "challenge"):
			continue
		}
		in, err := xmpp.DecodeSASL(el.Text)
		if err != nil {
			return scram.KeyFactors{}, err
		}
		kf, err := parseServerFirst(string(in))
		if err != nil {
			return kf, err
		}
		if err := c.send(stanza.New(nsSASL, "abort")); err != nil {
			return kf, err
		}
		// The answer to <abort/> is a <failure/>; wait for it so that the
		// stream is idle when it is closed.
		for {
			el, err := c.next()
			if err != nil || el.Name.Space == nsSASL {
				return kf, nil
			}
		}
	}
}

// parseServerFirst reads s= and i= from a SCRAM server-first-message.
func parseServerFirst(msg string) (scram.KeyFactors, error) {
	var kf scram.KeyFactors
	for _, attr := range strings.Split(msg, ",") {
		k, v, ok := strings.Cut(attr, "=")
		if !ok {
			continue
		}
		switch k {
		case "s":
			salt, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return kf, fmt.Errorf("scram salt: %w", err)
			}
			kf.Salt = string(salt)
		case "i":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return kf, fmt.Errorf("scram iteration count %q", v)
			}
			kf.Iters = n
		}
	}
	if kf.Salt == "" || kf.Iters == 0 {
		return kf, fmt.Errorf("server-first-message without salt or iteration count: %q", msg)
	}
	return kf, nil
}

// saslName escapes a user name for SCRAM (RFC 5802 §5.1).
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// register creates the account in-band (XEP-0077), straight with a set:
// servers that want the form first say so with an error.
func (c *conn) register(domain, user, password string) error {
	q := stanza.New(nsRegister, "query").AddText("username", user).AddText("password", password)
	_, err := c.roundTrip(stanza.IQ(stanza.TypeSet, nextID(), domain, q))
	if errors.Is(err, stanza.Conflict) {
		return errExists
	}
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	return nil
}

// bind binds resource and, where the server still wants it, opens the
// RFC 3921 session. It returns the full JID.
func (c *conn) bind(feats *stanza.Element, resource string) (string, error) {
	if feats.Child(nsBind, "bind") == nil {
		return "", errors.New("the server offers no resource binding")
	}
	res, err := c.roundTrip(stanza.IQ(stanza.TypeSet, nextID(), "", stanza.New(nsBind, "bind").AddText("resource", resource)))
	if err != nil {
		return "", fmt.Errorf("bind: %w", err)
	}
	jid := res.Child(nsBind, "bind").ChildText(nsBind, "jid")
	if jid == "" {
		return "", errors.New("bind: no JID in the result")
	}
	if s := feats.Child(nsSession, "session"); s != nil && s.Child(nsSession, "optional") == nil {
		if _, err := c.roundTrip(stanza.IQ(stanza.TypeSet, nextID(), "", stanza.New(nsSession, "session"))); err != nil {
			return "", fmt.Errorf("session: %w", err)
		}
	}
	return jid, nil
}

// receiver is told about what online sessions receive.
type receiver interface {
	// received is called by a session's reader for each notification
	// (IQ or message), before it acknowledges it.
	received(s *session, id string, at time.Time)
	// refused is called for an error reply to a message the tool sent.
	refused(s *session, stanzaID string, err error)
}

// session is a bound, online session: one reader goroutine counts what
// arrives and answers notification IQs with a result (the paper's
// acknowledgement) and pings with a pong.
type session struct {
	*conn
	idx  int
	user string
	jid  string
	done chan struct{} // closed when the reader has ended and closed nc
	err  error         // why the reader ended, once done is closed

	mu      sync.Mutex
	waiters map[string]chan *stanza.Element // our own IQs awaiting an answer
}

// serve starts the reader. The session's conn must not be read by anyone
// else from then on.
func (s *session) serve(rc receiver) {
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		defer s.nc.Close()
		s.err = s.read(rc)
	}()
}

func (s *session) read(rc receiver) error {
	for {
		el, err := s.next()
		if err != nil {
			return err
		}
		switch el.Name.Local {
		case "iq":
			if err := s.handleIQ(el, rc); err != nil {
				return err
			}
		case "message":
			s.handleMessage(el, rc)
		}
	}
}

func (s *session) handleIQ(iq *stanza.Element, rc receiver) error {
	switch iq.AttrValue("type") {
	case stanza.TypeResult, stanza.TypeError:
		s.mu.Lock()
		ch := s.waiters[iq.AttrValue("id")]
		delete(s.waiters, iq.AttrValue("id"))
		s.mu.Unlock()
		if ch != nil {
			ch <- iq
		}
		return nil
	case stanza.TypeSet:
		if p := iq.Child(notification.NS, "notification"); p != nil {
			rc.received(s, p.ChildText(notification.NS, "id"), time.Now())
			return s.send(stanza.Result(iq))
		}
	case stanza.TypeGet:
		if iq.Child(nsPing, "ping") != nil {
			return s.send(stanza.Result(iq))
		}
	default:
		return nil
	}
	return s.send(stanza.ErrorReply(iq, stanza.ServiceUnavailable))
}

func (s *session) handleMessage(m *stanza.Element, rc receiver) {
	if m.AttrValue("type") == stanza.TypeError {
		e, _ := stanza.ParseError(m)
		rc.refused(s, m.AttrValue("id"), e)
		return
	}
	id := ""
	if p := m.Child(notification.NS, "notification"); p != nil {
		id = p.ChildText(notification.NS, "id")
	}
	if id == "" {
		id = m.AttrValue("id")
	}
	rc.received(s, id, time.Now())
}

// request sends an IQ from the online session and waits for its answer.
func (s *session) request(iq *stanza.Element, timeout time.Duration) (*stanza.Element, error) {
	id := iq.AttrValue("id")
	ch := make(chan *stanza.Element, 1)
	s.mu.Lock()
	if s.waiters == nil {
		s.waiters = map[string]chan *stanza.Element{}
	}
	s.waiters[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, id)
		s.mu.Unlock()
	}()
	if err := s.send(iq); err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case el := <-ch:
		if e, ok := stanza.ParseError(el); ok {
			return el, e
		}
		return el, nil
	case <-s.done:
		return nil, fmt.Errorf("session ended: %w", s.err)
	case <-t.C:
		return nil, errors.New("no answer in time")
	}
}
