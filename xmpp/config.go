package xmpp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/xpush/xpush/xmpp/stream"
)

// Defaults, with the reasons behind them.
const (
	// DefaultKeepalive is the paper's heartbeat: a single space written on
	// a stream that has been quiet this long keeps NAT bindings and the
	// server's idle timer alive.
	DefaultKeepalive = 60 * time.Second
	// DefaultPingInterval is how long the stream may be silent from the
	// server's side before an XEP-0199 ping checks that it still lives.
	DefaultPingInterval = 150 * time.Second
	// DefaultPingTimeout declares the link dead when a ping goes
	// unanswered this long.
	DefaultPingTimeout = 30 * time.Second
	// DefaultConnectTimeout bounds dialing plus stream negotiation.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds every write.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultBackoffMin and DefaultBackoffMax bound the reconnect delay.
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = 5 * time.Minute
	// DefaultStableAfter is how long a session must last before the
	// backoff starts again from its minimum.
	DefaultStableAfter = time.Minute
	// DefaultEventBuffer is the capacity of the events channel.
	DefaultEventBuffer = 64
	// DefaultDedupe is how many notification ids are remembered to drop
	// redeliveries.
	DefaultDedupe = 4096
	// DefaultResource names the agent's resource.
	DefaultResource = "xpush"
	// DefaultPriority is sent in the initial presence: non-negative, so
	// that the server routes messages to the bare JID to us.
	DefaultPriority = 1
)

// Config configures a Client. Only JID and Password are required.
type Config struct {
	// JID is the account, user@domain; a resource part, if any, is used
	// as Resource.
	JID string
	// Password returns the account's password. It is called before each
	// login, so a changed password is picked up on the next reconnect.
	Password func(ctx context.Context) (string, error)
	// Resource is the resource to bind; DefaultResource when empty.
	Resource string
	// Priority is the initial presence priority.
	Priority int

	// Server is host:port to connect to. When empty, the domain's
	// _xmpp-client._tcp SRV records are tried (_xmpps-client._tcp with
	// DirectTLS), then domain:5222.
	Server string
	// DirectTLS starts TLS at once (XEP-0368) instead of STARTTLS.
	DirectTLS bool
	// TLS is the TLS configuration; ServerName defaults to the domain.
	// Certificates are verified unless the caller sets
	// InsecureSkipVerify itself.
	TLS *tls.Config
	// InsecurePlain allows a connection without TLS to a server that is
	// not on a loopback address. On loopback, TLS is used only when the
	// caller gives a TLS config and the server offers it.
	InsecurePlain bool

	// Register, when the server says the account does not exist,
	// registers it in-band (XEP-0077) with the password, then logs in.
	Register bool
	// NoStreamManagement disables XEP-0198.
	NoStreamManagement bool
	// PushService, when set, is sent a directed presence after login so
	// that an xpushd component knows this resource is online.
	PushService string

	// AllowedSenders restricts who may notify: bare JIDs or domains.
	// Headlines and notification IQs from anyone are accepted when it is
	// empty; normal and chat messages are accepted only from the listed
	// senders, the account's own server and PushService.
	AllowedSenders []string
	// URISchemes are the schemes a notification's uri may have without
	// being flagged unsafe (notification.DefaultSchemes when nil).
	URISchemes []string

	Keepalive      time.Duration
	PingInterval   time.Duration
	PingTimeout    time.Duration
	ConnectTimeout time.Duration
	WriteTimeout   time.Duration
	BackoffMin     time.Duration
	BackoffMax     time.Duration
	StableAfter    time.Duration
	EventBuffer    int
	Dedupe         int
	Limits         stream.Limits

	// Dial, when set, replaces the network dialer (tests, proxies). It
	// gets the address chosen from Server or SRV.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver looks up SRV records; net.DefaultResolver when nil.
	Resolver *net.Resolver
	// Logger gets the client's diagnostics; nothing is logged when nil.
	// Passwords and SASL exchanges are never logged.
	Logger *slog.Logger
	// ID returns stanza ids; random when nil. Tests set it for
	// reproducible transcripts.
	ID func() string
	// Now returns the time; time.Now when nil.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.Keepalive, DefaultKeepalive)
	setDur(&c.PingInterval, DefaultPingInterval)
	setDur(&c.PingTimeout, DefaultPingTimeout)
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	setDur(&c.WriteTimeout, DefaultWriteTimeout)
	setDur(&c.BackoffMin, DefaultBackoffMin)
	setDur(&c.BackoffMax, DefaultBackoffMax)
	setDur(&c.StableAfter, DefaultStableAfter)
	if c.EventBuffer <= 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.Dedupe <= 0 {
		c.Dedupe = DefaultDedupe
	}
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	if c.ID == nil {
		c.ID = randomID
	}
	return c
}
