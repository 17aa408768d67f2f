package xmpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// session is one connection's life: negotiation, then serving. It is
// owned by Run's goroutine and closes its connection when it ends.
type session struct {
	c      *Client
	t      *transport
	hdr    stream.Header
	feats  *stanza.Element
	secure bool // TLS is on
	local  bool // the peer is on this machine
	// legacy is set when the session logged in with jabber:iq:auth.
	legacy bool
	full   string // bound full JID
}

// session runs one connection from dial to its end and returns why it
// ended.
func (c *Client) session(ctx context.Context) error {
	nctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	conn, err := c.dial(nctx)
	if err != nil {
		return err
	}
	s := &session{
		c:      c,
		t:      newTransport(conn, c.cfg.Limits, c.cfg.WriteTimeout, c.cfg.ConnectTimeout, c.cfg.Now),
		local:  isLocal(conn),
		secure: c.cfg.DirectTLS,
	}
	defer func() { s.t.conn.Close() }()
	// The negotiation reads with deadlines; ending ctx interrupts it too.
	stop := context.AfterFunc(nctx, s.t.expire)
	resumed, err := s.negotiate(nctx)
	if !stop() || err != nil {
		if err == nil {
			err = nctx.Err()
		}
		if ctx.Err() == nil && nctx.Err() != nil {
			err = fmt.Errorf("xmpp: connecting took longer than %v: %w", c.cfg.ConnectTimeout, err)
		}
		return err
	}
	_ = s.t.conn.SetDeadline(time.Time{})
	return s.serve(ctx, resumed)
}

// negotiate opens the stream and goes through TLS, authentication,
// resumption or binding. It returns true when an XEP-0198 session was
// resumed.
func (s *session) negotiate(ctx context.Context) (bool, error) {
	if err := s.open(); err != nil {
		return false, err
	}
	if err := s.startTLS(); err != nil {
		return false, err
	}
	if err := s.authenticate(ctx); err != nil {
		return false, err
	}
	if !s.legacy {
		// RFC 6120 §6.4.6: the stream restarts after SASL success.
		s.t.reset(s.t.conn)
		if err := s.open(); err != nil {
			return false, err
		}
		if ok, err := s.resume(); ok || err != nil {
			return ok, err
		}
		if err := s.bind(); err != nil {
			return false, err
		}
		s.enableSM()
	} else {
		// No stream management on a legacy session: forget an earlier
		// session's, or its counting would go on here.
		s.c.sm = smState{}
	}
	return false, s.sendPresence()
}

// open opens (or reopens) the stream and reads the features.
func (s *session) open() error {
	h, feats, err := s.t.open(s.c.domain)
	if err != nil {
		return err
	}
	s.hdr, s.feats = h, feats
	return nil
}

// startTLS upgrades the connection when the server offers STARTTLS, and
// refuses to go on in the clear to a remote server unless allowed.
func (s *session) startTLS() error {
	if s.secure {
		return nil
	}
	offered := s.feats.Child(stanza.NSTLS, "starttls")
	// Plain text never leaves the machine on a local connection, and a
	// local test server's certificate is rarely trusted: use TLS there
	// only when the caller configured it.
	want := offered != nil && (!s.local || s.c.cfg.TLS != nil)
	if !want {
		if offered == nil && !s.local && !s.c.cfg.InsecurePlain {
			return ErrTLSRequired
		}
		if offered != nil && offered.Child(stanza.NSTLS, "required") != nil {
			want = true
		} else {
			return nil
		}
	}
	if err := s.t.send(stanza.New(stanza.NSTLS, "starttls")); err != nil {
		return err
	}
	el, err := s.t.next()
	if err != nil {
		return fmt.Errorf("xmpp: starttls: %w", err)
	}
	if !el.Is(stanza.NSTLS, "proceed") {
		return fmt.Errorf("xmpp: starttls: server answered <%s/>", el.Name.Local)
	}
	s.t.mu.Lock()
	_ = s.t.conn.SetDeadline(s.t.deadline(s.c.cfg.ConnectTimeout))
	s.t.mu.Unlock()
	tc := tls.Client(s.t.conn, s.c.tlsConfig())
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("xmpp: tls handshake: %w", err)
	}
	s.secure = true
	cs := tc.ConnectionState()
	s.c.cfg.Logger.Debug("xmpp: tls", "version", tls.VersionName(cs.Version), "cipher", tls.CipherSuiteName(cs.CipherSuite))
	s.t.reset(tc)
	return s.open()
}

// canSendPassword reports whether a password may cross this connection.
func (s *session) canSendPassword() bool { return s.secure || s.local }

// authenticate logs in with SASL, or with jabber:iq:auth when the server
// offers nothing else, registering the account first when the server
// says it does not exist and registration is on.
func (s *session) authenticate(ctx context.Context) error {
	password, err := s.c.cfg.Password(ctx)
	if err != nil {
		return fmt.Errorf("xmpp: get password: %w", err)
	}
	if password == "" {
		return fmt.Errorf("%w: no password", ErrAuth)
	}
	login := func() error {
		if mechs := s.feats.Child(stanza.NSSASL, "mechanisms"); mechs != nil {
			err := s.sasl(mechs, password)
			if !errors.Is(err, ErrNoMechanism) || s.feats.Child(stanza.NSFeatureIQAuth, "auth") == nil {
				return err
			}
		}
		s.legacy = true
		return s.iqAuth(password)
	}
	err = login()
	if !errors.Is(err, ErrAuth) || !s.c.cfg.Register || s.c.wasRegistered() {
		return err
	}
	// The paper's flow: 401 for an unknown user, register, log in again.
	if rerr := s.register(password); rerr != nil {
		var re *RegistrationError
		if errors.As(rerr, &re) && re.Condition == "conflict" {
			return err // the account exists: the password is wrong
		}
		return rerr
	}
	s.c.setRegistered()
	s.c.emit(ctx, &Registered{JID: s.c.jid.String()})
	return login()
}

// sendPresence announces the session with a priority so that messages to
// the bare JID reach it, and tells the push service we are here.
func (s *session) sendPresence() error {
	p := stanza.New(stanza.NSClient, "presence")
	p.AddText("priority", strconv.Itoa(s.c.cfg.Priority))
	if err := s.sendCounted(p); err != nil {
		return err
	}
	if s.c.cfg.PushService != "" {
		return s.sendCounted(stanza.New(stanza.NSClient, "presence", "to", s.c.cfg.PushService))
	}
	return nil
}

// remoteAddr is for logs.
func (s *session) remoteAddr() net.Addr { return s.t.conn.RemoteAddr() }
