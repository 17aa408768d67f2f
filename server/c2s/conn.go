package c2s

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// conn is one connection until its session is bound: the negotiation
// state. It is owned by the connection's goroutine.
type conn struct {
	srv      *Server
	raw      net.Conn  // as accepted: the key in Server.conns
	nc       net.Conn  // what is read and written: pc, TLS over it, or raw
	pc       *pollConn // nil when raw is not a TCP connection
	dec      *stream.Decoder
	secure   bool
	local    bool
	ip       string
	streamID string
	user     string // authenticated user, "" before
	saslDone bool   // the stream must restart after SASL
	legacy   bool   // logged in with jabber:iq:auth
	resource string
	wbuf     []byte
	deadline time.Time // the whole negotiation must end by then
	accepted time.Time
	phase    time.Duration
	gen      int // the session's generation once bound or resumed
}

// newConn returns the negotiation state of raw, a connection just
// accepted; with direct set, it starts with a TLS handshake (XEP-0368).
func newConn(s *Server, raw net.Conn, direct bool) *conn {
	c := &conn{srv: s, raw: raw, secure: direct, phase: s.opts.OpenTimeout}
	c.nc, c.pc = pollable(raw)
	if direct {
		c.nc = tls.Server(c.nc, s.opts.TLS)
	}
	c.local, c.ip = peer(raw)
	c.accepted = s.opts.Now()
	c.deadline = c.accepted.Add(s.opts.AuthTimeout)
	c.dec = stream.NewDecoder(c.nc, s.opts.Limits)
	c.dec.BeforeRead(c.setReadDeadline)
	return c
}

// peer returns whether the peer is on this machine, and its IP.
func peer(nc net.Conn) (bool, string) {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback(), a.IP.String()
	case *net.UnixAddr:
		return true, "unix"
	}
	return nc.RemoteAddr().Network() == "pipe", nc.RemoteAddr().String()
}

func (c *conn) setReadDeadline() {
	d := time.Now().Add(c.phase)
	if c.user == "" || c.resource == "" {
		d = minTime(d, c.deadline)
	}
	c.srv.setReadDeadline(c.nc, d)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (c *conn) send(el *stanza.Element) error {
	c.wbuf = el.AppendXML(c.wbuf[:0], stanza.NSClient)
	return c.write(c.wbuf)
}

func (c *conn) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("c2s: write: %w", err)
	}
	return nil
}

// fail sends a stream error and closes the stream.
func (c *conn) fail(e stream.Error) {
	var b []byte
	if c.streamID == "" {
		b = stream.AppendHeader(nil, stream.Header{From: c.srv.opts.Domain, ID: c.streamID})
	}
	writeFinal(c.nc, append(b, streamError(e)...))
}

// run negotiates the stream and, once bound, hands the connection over to
// the session, which reads it on goroutines of its own (see link). Else it
// closes the connection.
func (c *conn) run() {
	log := c.srv.opts.Logger
	defer func() {
		if r := recover(); r != nil {
			log.Error("c2s: panic", "panic", r, "stack", string(debug.Stack()))
			c.fail(stream.InternalServerError)
			c.close()
		}
	}()
	sess, err := c.negotiate()
	if err != nil {
		var se stream.Error
		switch {
		case errors.As(err, &se) && !se.Remote:
			c.fail(se)
		case errors.Is(err, stream.ErrClosed):
			_ = c.write([]byte(stream.CloseTag))
		case isTimeout(err):
			c.fail(stream.ConnectionTimeout)
		}
		log.Debug("c2s: negotiation ended", "ip", c.ip, "err", err)
		c.close()
		return
	}
	sess.serve(c, c.gen)
}

// close closes the connection and forgets it.
func (c *conn) close() {
	c.nc.Close()
	c.srv.untrack(c.raw)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// negotiate runs streams until a session is bound or resumed.
func (c *conn) negotiate() (*Session, error) {
	if err := c.open(); err != nil {
		return nil, err
	}
	for {
		el, err := c.dec.Next()
		if err != nil {
			return nil, err
		}
		switch {
		case el.Is(stanza.NSTLS, "starttls"):
			if err := c.startTLS(); err != nil {
				return nil, err
			}
		case el.Name.Space == stanza.NSSASL:
			if err := c.sasl(el); err != nil {
				return nil, err
			}
			if c.saslDone {
				c.dec.Reset(c.nc)
				if err := c.open(); err != nil {
					return nil, err
				}
			}
		case el.Is(xmpp.NSSM, "resume"):
			if sess := c.resume(el); sess != nil {
				return sess, nil
			}
		case el.Is(xmpp.NSSM, "enable"):
			f := stanza.New(xmpp.NSSM, "failed").Add(stanza.New(stanza.NSStanzas, "unexpected-request"))
			if err := c.send(f); err != nil {
				return nil, err
			}
		case el.Name.Local == "iq" && el.Name.Space == stanza.NSClient:
			sess, err := c.negotiationIQ(el)
			if err != nil || sess != nil {
				return sess, err
			}
		case el.Name.Space == stanza.NSClient && (el.Name.Local == "message" || el.Name.Local == "presence"):
			if c.user == "" {
				return nil, stream.NotAuthorized.WithText("log in first")
			}
		default:
			return nil, stream.UnsupportedStanzaType.WithText(el.Name.Local)
		}
	}
}

// open reads a stream header and answers with ours and the features.
func (c *conn) open() error {
	h, err := c.dec.ReadHeader()
	if err != nil {
		return err
	}
	c.streamID = xmppID()
	hdr := stream.AppendHeader(nil, stream.Header{From: c.srv.opts.Domain, ID: c.streamID, Lang: "en"})
	if err := c.write(hdr); err != nil {
		return err
	}
	switch {
	case h.NS != stanza.NSClient:
		return stream.InvalidNamespace.WithText("this is a client port: use jabber:client")
	case h.To != "" && h.To != c.srv.opts.Domain:
		return stream.HostUnknown.WithText("this server is " + c.srv.opts.Domain)
	case h.Version != "" && h.Version[0] != '1':
		return stream.UnsupportedVersion
	}
	return c.send(c.features())
}

// features lists what the client can do next.
func (c *conn) features() *stanza.Element {
	f := stanza.New(stanza.NSStream, "features")
	opts := &c.srv.opts
	if c.user != "" && c.saslDone {
		f.Add(stanza.New(stanza.NSBind, "bind"))
		f.Add(stanza.New(stanza.NSSession, "session").Add(stanza.New(stanza.NSSession, "optional")))
		f.Add(stanza.New(xmpp.NSSM, "sm"))
		return f
	}
	tlsRequired := !c.secure && !c.local && !opts.AllowPlain
	if !c.secure && opts.TLS != nil {
		st := stanza.New(stanza.NSTLS, "starttls")
		if tlsRequired {
			st.Add(stanza.New(stanza.NSTLS, "required"))
		}
		f.Add(st)
	}
	if tlsRequired {
		return f // nothing else until the stream is encrypted
	}
	mechs := stanza.New(stanza.NSSASL, "mechanisms")
	if _, ok := c.channelBinding(); ok {
		mechs.AddText("mechanism", "SCRAM-SHA-256-PLUS")
		mechs.AddText("mechanism", "SCRAM-SHA-1-PLUS")
	}
	mechs.AddText("mechanism", "SCRAM-SHA-256")
	mechs.AddText("mechanism", "SCRAM-SHA-1")
	if c.canTakePassword() {
		mechs.AddText("mechanism", "PLAIN")
	}
	f.Add(mechs)
	if cb, ok := c.channelBinding(); ok {
		f.Add(stanza.New(stanza.NSSASLCB, "sasl-channel-binding").Add(stanza.New(stanza.NSSASLCB, "channel-binding", "type", string(cb.Type))))
	}
	f.Add(stanza.New(stanza.NSFeatureIQAuth, "auth"))
	if opts.Registration != RegisterClosed {
		f.Add(stanza.New(stanza.NSFeatureRegister, "register"))
	}
	return f
}

// canTakePassword reports whether a clear password may cross this
// connection.
func (c *conn) canTakePassword() bool { return c.secure || c.local }

func (c *conn) startTLS() error {
	if c.secure || c.srv.opts.TLS == nil {
		return stream.UnsupportedFeature.WithText("STARTTLS is not offered")
	}
	if err := c.send(stanza.New(stanza.NSTLS, "proceed")); err != nil {
		return err
	}
	tc := tls.Server(c.nc, c.srv.opts.TLS)
	_ = tc.SetDeadline(time.Now().Add(c.srv.opts.OpenTimeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("c2s: tls handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc = tc
	c.secure = true
	c.dec.Reset(tc)
	return c.open()
}

// negotiationIQ handles an iq before binding: login, registration, bind.
// It returns the session once bound.
func (c *conn) negotiationIQ(iq *stanza.Element) (*Session, error) {
	p := iq.First()
	typ := iq.AttrValue("type")
	switch {
	case typ != stanza.TypeGet && typ != stanza.TypeSet:
		return nil, nil // results and errors: nothing was asked
	case p == nil:
		return nil, c.send(stanza.ErrorReply(iq, stanza.BadRequest))
	case p.Is(xmpp.NSIQAuth, "query"):
		ok, err := c.iqAuth(iq, p)
		if err != nil || !ok {
			return nil, err
		}
		c.resource = p.ChildText(xmpp.NSIQAuth, "resource")
		return c.srv.bind(c, c.resource, stanza.Result(iq))
	case p.Is(xmpp.NSRegister, "query"):
		return nil, c.register(iq, p)
	case p.Is(stanza.NSBind, "bind") && typ == stanza.TypeSet:
		if c.user == "" || !c.saslDone {
			return nil, c.send(stanza.ErrorReply(iq, stanza.NotAuthorized))
		}
		res := p.ChildText(stanza.NSBind, "resource")
		if res == "" {
			res = "xpush-" + xmppID()[:8]
		}
		c.resource = res
		reply := stanza.Result(iq).Add(stanza.New(stanza.NSBind, "bind").AddText("jid", c.user+"@"+c.srv.opts.Domain+"/"+res))
		return c.srv.bind(c, res, reply)
	case p.Is(xmpp.NSPing, "ping"):
		return nil, c.send(stanza.Result(iq))
	}
	if c.user == "" {
		return nil, c.send(stanza.ErrorReply(iq, stanza.NotAuthorized))
	}
	return nil, c.send(stanza.ErrorReply(iq, stanza.ServiceUnavailable))
}
