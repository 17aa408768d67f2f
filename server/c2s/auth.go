package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/scram"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// maxSASLSteps bounds a SASL exchange; SCRAM needs two.
const maxSASLSteps = 4

// xmppID returns a random id for streams, SM and resources.
func xmppID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// authBlocked reports whether the IP or the account has failed too often;
// it counts nothing.
func (c *conn) authBlocked(user string) bool {
	now := c.srv.opts.Now()
	return c.srv.limiter.blocked("ip:"+c.ip, now) || user != "" && c.srv.limiter.blocked("user:"+user, now)
}

// authFailed counts a failure against the IP and the account.
func (c *conn) authFailed(user string) {
	now := c.srv.opts.Now()
	c.srv.limiter.add("ip:"+c.ip, now)
	if user != "" {
		c.srv.limiter.add("user:"+user, now)
	}
	c.srv.opts.Logger.Info("c2s: authentication failed", "ip", c.ip, "user", user)
	if m := c.srv.opts.Metrics; m != nil {
		m.AuthFailure()
	}
}

// throttled counts an attempt refused unchecked by the limiter, so that a
// brute force stays visible in the metrics and the log.
func (c *conn) throttled(user string) {
	c.srv.opts.Logger.Debug("c2s: login refused while throttled", "ip", c.ip, "user", user)
	if m := c.srv.opts.Metrics; m != nil {
		m.AuthFailure()
	}
}

func (c *conn) authOK(user string) {
	c.srv.limiter.reset("user:" + user)
	c.user = user
}

// sasl runs one SASL exchange that starts with el (an <auth/>).
func (c *conn) sasl(el *stanza.Element) error {
	if !el.Is(stanza.NSSASL, "auth") {
		return stream.UnsupportedStanzaType.WithText("expected <auth/>")
	}
	if c.user != "" {
		return stream.PolicyViolation.WithText("already authenticated")
	}
	mech := el.AttrValue("mechanism")
	failure := func(cond, text string) error {
		f := stanza.New(stanza.NSSASL, "failure").Add(stanza.New(stanza.NSSASL, cond))
		if text != "" {
			t := stanza.New(stanza.NSSASL, "text")
			t.Text = text
			f.Add(t)
		}
		return c.send(f)
	}
	if c.authBlocked("") {
		c.throttled("")
		return failure("temporary-auth-failure", "too many failed logins; try again in a minute")
	}
	data, err := xmpp.DecodeSASL(el.Text)
	if err != nil {
		return failure("incorrect-encoding", "")
	}
	var user string
	var final []byte
	switch mech {
	case "PLAIN":
		if !c.canTakePassword() {
			return failure("encryption-required", "")
		}
		user, err = c.plain(data)
	case "SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS":
		user, final, err = c.scram(mech, data)
	default:
		return failure("invalid-mechanism", "")
	}
	var se stream.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, errAborted):
		return failure("aborted", "")
	case errors.Is(err, errBlocked):
		c.throttled(user)
		return failure("temporary-auth-failure", "too many failed logins; try again in a minute")
	case errors.Is(err, errUnknownUser):
		// No password was tried: the paper's clients log in first and
		// register on this 401, so it must not lock their address out.
		return failure("not-authorized", "")
	case errors.Is(err, errAuth):
		c.authFailed(user)
		return failure("not-authorized", "")
	case err != nil:
		// The connection failed mid-exchange (a client gone, a network
		// blip, a restart): no password was wrong, so nothing counts
		// against the address or the account.
		return err
	}
	c.authOK(user)
	success := stanza.New(stanza.NSSASL, "success")
	if final != nil {
		success.Text = xmpp.EncodeSASL(final)
	}
	if err := c.send(success); err != nil {
		return err
	}
	c.saslDone = true
	return nil
}

var (
	errAborted = errors.New("c2s: sasl aborted")
	errBlocked = errors.New("c2s: too many failures")
	errAuth    = errors.New("c2s: not authorized")
	// errUnknownUser is errAuth for a name with no account.
	errUnknownUser = fmt.Errorf("%w: no such account", errAuth)
)

// plain checks a PLAIN message: [authzid] NUL authcid NUL password.
func (c *conn) plain(data []byte) (string, error) {
	parts := bytes.Split(data, []byte{0})
	if len(parts) != 3 {
		return "", errAuth
	}
	name, err := account.Normalize(string(parts[1]))
	if err != nil {
		return "", errAuth
	}
	if authz := string(parts[0]); authz != "" && authz != name && authz != name+"@"+c.srv.opts.Domain {
		return name, errAuth
	}
	if c.authBlocked(name) {
		return name, errBlocked
	}
	u, err := c.srv.opts.Users.User(context.Background(), name)
	if errors.Is(err, store.ErrNotFound) {
		return name, errUnknownUser
	}
	if err != nil || !account.Verify(u, string(parts[2])) {
		return name, errAuth
	}
	return name, nil
}

// scram runs the SCRAM exchange from the client's first message and
// returns the user and the server's final message.
func (c *conn) scram(mech string, first []byte) (string, []byte, error) {
	hash, sha256 := scram.SHA1, false
	if strings.HasPrefix(mech, "SCRAM-SHA-256") {
		hash, sha256 = scram.SHA256, true
	}
	var lookupName string
	unknown := false // no such account
	srv, err := hash.NewServer(func(name string) (scram.StoredCredentials, error) {
		n, err := account.Normalize(name)
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		lookupName = n
		if c.authBlocked(n) {
			return scram.StoredCredentials{}, errBlocked
		}
		u, err := c.srv.opts.Users.User(context.Background(), n)
		if err != nil {
			unknown = errors.Is(err, store.ErrNotFound)
			return scram.StoredCredentials{}, err
		}
		if sha256 {
			return account.Lookup(u.SHA256), nil
		}
		return account.Lookup(u.SHA1), nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("c2s: scram: %w", err)
	}
	var conv *scram.ServerConversation
	cb, haveCB := c.channelBinding()
	switch {
	case strings.HasSuffix(mech, "-PLUS") && haveCB:
		conv = srv.NewConversationWithChannelBindingRequired(cb)
	case strings.HasSuffix(mech, "-PLUS"):
		return "", nil, errAuth
	case haveCB:
		// We offered -PLUS: a client that says "y" was downgraded.
		conv = srv.NewConversationWithChannelBinding(cb)
	default:
		conv = srv.NewConversation()
	}
	msg := first
	for step := 0; step < maxSASLSteps; step++ {
		out, err := conv.Step(string(msg))
		if err != nil {
			if errors.Is(err, errBlocked) || c.authBlocked(lookupName) && lookupName != "" {
				return lookupName, nil, errBlocked
			}
			if unknown {
				return lookupName, nil, errUnknownUser
			}
			return lookupName, nil, errAuth
		}
		if conv.Done() {
			if !conv.Valid() {
				return lookupName, nil, errAuth
			}
			return lookupName, []byte(out), nil
		}
		ch := stanza.New(stanza.NSSASL, "challenge")
		ch.Text = xmpp.EncodeSASL([]byte(out))
		if err := c.send(ch); err != nil {
			return lookupName, nil, err
		}
		el, err := c.dec.Next()
		if err != nil {
			return lookupName, nil, err
		}
		switch {
		case el.Is(stanza.NSSASL, "abort"):
			return lookupName, nil, errAborted
		case !el.Is(stanza.NSSASL, "response"):
			return lookupName, nil, stream.PolicyViolation.WithText("expected a SASL <response/>")
		}
		if msg, err = xmpp.DecodeSASL(el.Text); err != nil {
			return lookupName, nil, errAuth
		}
	}
	return lookupName, nil, errAuth
}

// channelBinding returns the binding of this TLS connection: tls-exporter
// on TLS 1.3, tls-server-end-point otherwise (both advertised through
// XEP-0440).
func (c *conn) channelBinding() (scram.ChannelBinding, bool) {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return scram.ChannelBinding{}, false
	}
	st := tc.ConnectionState()
	if st.Version >= tls.VersionTLS13 {
		cb, err := scram.NewTLSExporterBinding(&st)
		return cb, err == nil
	}
	cb, err := scram.NewTLSServerEndpointBinding(&st)
	return cb, err == nil
}

// iqAuth handles jabber:iq:auth (XEP-0078). It reports whether the client
// is now logged in; the caller answers the successful set.
func (c *conn) iqAuth(iq, q *stanza.Element) (bool, error) {
	opts := &c.srv.opts
	if c.user != "" {
		return false, c.send(stanza.ErrorReply(iq, stanza.NotAllowed))
	}
	if iq.AttrValue("type") == stanza.TypeGet {
		fields := stanza.New(xmpp.NSIQAuth, "query").
			AddText("username", q.ChildText(xmpp.NSIQAuth, "username"))
		fields.Add(stanza.New(xmpp.NSIQAuth, "resource"))
		if c.canTakePassword() {
			fields.Add(stanza.New(xmpp.NSIQAuth, "password"))
		}
		if opts.LegacyDigest {
			fields.Add(stanza.New(xmpp.NSIQAuth, "digest"))
		}
		return false, c.send(stanza.Result(iq).Add(fields))
	}
	name, err := account.Normalize(q.ChildText(xmpp.NSIQAuth, "username"))
	resource := q.ChildText(xmpp.NSIQAuth, "resource")
	if err != nil || resource == "" {
		return false, c.send(stanza.ErrorReply(iq, stanza.NotAcceptable.WithText("username and resource are required")))
	}
	if c.authBlocked(name) {
		c.throttled(name)
		return false, c.send(stanza.ErrorReply(iq, stanza.ResourceConstraint.WithText("too many failed logins; try again in a minute")))
	}
	u, uerr := opts.Users.User(context.Background(), name)
	ok := false
	switch password, digest := q.Child(xmpp.NSIQAuth, "password"), q.Child(xmpp.NSIQAuth, "digest"); {
	case digest != nil && opts.LegacyDigest:
		ok = uerr == nil && u.Legacy != "" &&
			subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(digest.Text))), []byte(xmpp.Digest(c.streamID, u.Legacy))) == 1
	case password != nil && c.canTakePassword():
		ok = uerr == nil && account.Verify(u, password.Text)
	case password != nil:
		return false, c.send(stanza.ErrorReply(iq, stanza.NotAcceptable.WithText("encrypt the stream before sending a password")))
	default:
		return false, c.send(stanza.ErrorReply(iq, stanza.NotAcceptable.WithText("send a password or a digest")))
	}
	if !ok {
		c.authFailed(name)
		// The paper's answer: error code 401 with not-authorized.
		return false, c.send(stanza.ErrorReply(iq, stanza.NotAuthorized))
	}
	c.authOK(name)
	c.legacy = true
	return true, nil
}

// register handles jabber:iq:register (XEP-0077) before login.
func (c *conn) register(iq, q *stanza.Element) error {
	opts := &c.srv.opts
	if opts.Registration == RegisterClosed {
		return c.send(stanza.ErrorReply(iq, stanza.NotAllowed.WithText("registration is closed")))
	}
	if c.user != "" {
		// Changing the password or removing the account in-band is not
		// offered: the console does that.
		return c.send(stanza.ErrorReply(iq, stanza.NotAllowed))
	}
	if !c.canTakePassword() {
		return c.send(stanza.ErrorReply(iq, stanza.NotAuthorized.WithText("encrypt the stream before registering")))
	}
	if iq.AttrValue("type") == stanza.TypeGet {
		form := stanza.New(xmpp.NSRegister, "query").
			AddText("instructions", "Choose a user name and password.")
		form.Add(stanza.New(xmpp.NSRegister, "username"), stanza.New(xmpp.NSRegister, "password"))
		if opts.Registration == RegisterToken {
			form.Add(stanza.New(xmpp.NSRegister, "key"))
		}
		return c.send(stanza.Result(iq).Add(form))
	}
	now := opts.Now()
	if !c.local && opts.RegisterRate > 0 {
		if c.srv.regLimit.add("reg:"+c.ip, now) > opts.RegisterRate {
			return c.send(stanza.ErrorReply(iq, stanza.ResourceConstraint.WithText("too many registrations; try again later")))
		}
	}
	name, err := account.Normalize(q.ChildText(xmpp.NSRegister, "username"))
	if err != nil {
		return c.send(stanza.ErrorReply(iq, stanza.NotAcceptable.WithText("invalid user name")))
	}
	password := ""
	if p := q.Child(xmpp.NSRegister, "password"); p != nil {
		password = p.Text
	}
	if err := account.CheckPassword(password); err != nil {
		return c.send(stanza.ErrorReply(iq, stanza.NotAcceptable.WithText(strings.TrimPrefix(err.Error(), "account: "))))
	}
	if opts.Registration == RegisterToken {
		key := q.ChildText(xmpp.NSRegister, "key")
		sum := sha256.Sum256([]byte(key))
		if key == "" || opts.Users.UseInvite(context.Background(), sum[:], now) != nil {
			return c.send(stanza.ErrorReply(iq, stanza.NotAuthorized.WithText("a valid invitation token is required")))
		}
	}
	sha1c, sha256c, err := account.Keys(name, password, opts.Iters)
	if err != nil {
		return c.send(stanza.ErrorReply(iq, stanza.InternalServerError))
	}
	u := store.User{Name: name, SHA1: sha1c, SHA256: sha256c, Created: now}
	if opts.LegacyDigest {
		u.Legacy = password
	}
	switch err := opts.Users.CreateUser(context.Background(), u); {
	case errors.Is(err, store.ErrExists):
		return c.send(stanza.ErrorReply(iq, stanza.Conflict))
	case err != nil:
		opts.Logger.Error("c2s: create user", "user", name, "err", err)
		return c.send(stanza.ErrorReply(iq, stanza.InternalServerError))
	}
	opts.Logger.Info("c2s: registered", "user", name, "ip", c.ip)
	return c.send(stanza.Result(iq))
}
