package xmpp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// DefaultPort is the c2s port used when there are no SRV records.
const DefaultPort = "5222"

// dial connects to the first reachable address for the domain.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	addrs := c.addrs(ctx)
	var firstErr error
	for _, addr := range addrs {
		conn, err := c.cfg.Dial(ctx, "tcp", addr)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if c.cfg.DirectTLS {
			tc := tls.Client(conn, c.tlsConfig())
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				if firstErr == nil {
					firstErr = fmt.Errorf("tls handshake: %w", err)
				}
				continue
			}
			return tc, nil
		}
		return conn, nil
	}
	return nil, fmt.Errorf("xmpp: connect to %s: %w", c.domain, firstErr)
}

// addrs returns the addresses to try, in order.
func (c *Client) addrs(ctx context.Context) []string {
	if c.cfg.Server != "" {
		return []string{c.cfg.Server}
	}
	service := "xmpp-client"
	if c.cfg.DirectTLS {
		service = "xmpps-client"
	}
	var addrs []string
	if _, srvs, err := c.cfg.Resolver.LookupSRV(ctx, service, "tcp", c.domain); err == nil {
		for _, s := range srvs {
			if s.Target == "." {
				continue // "service not available" (RFC 2782)
			}
			// Targets are absolute names ("host.example.org."); without
			// the dot, the fallback below is recognised as the same.
			host := strings.TrimSuffix(s.Target, ".")
			addrs = append(addrs, net.JoinHostPort(host, strconv.Itoa(int(s.Port))))
		}
	}
	if def := net.JoinHostPort(c.domain, DefaultPort); !slices.Contains(addrs, def) {
		addrs = append(addrs, def)
	}
	return addrs
}

// tlsConfig returns the TLS configuration for the domain.
func (c *Client) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if c.cfg.TLS != nil {
		cfg = c.cfg.TLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = c.domain
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if c.cfg.DirectTLS && len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368
	}
	return cfg
}

// isLocal reports whether conn's peer is on this machine: a loopback
// address, a Unix socket or an in-process pipe. Plain text never leaves the
// host on such a connection.
func isLocal(conn net.Conn) bool {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	switch addr := conn.RemoteAddr().(type) {
	case *net.TCPAddr:
		return addr.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return conn.RemoteAddr().Network() == "pipe"
}
