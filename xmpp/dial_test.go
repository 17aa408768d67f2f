package xmpp

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
)

// fakeResolver answers SRV queries from records (name without the final
// dot → targets), speaking DNS over TCP framing on a net.Pipe; any other
// name is NXDOMAIN.
func fakeResolver(t *testing.T, records map[string][]net.SRV) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, s := net.Pipe()
			go serveDNS(t, s, records)
			return c, nil
		},
	}
}

func serveDNS(t *testing.T, conn net.Conn, records map[string][]net.SRV) {
	defer conn.Close()
	for {
		var n uint16
		if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
			return
		}
		q := make([]byte, n)
		if _, err := io.ReadFull(conn, q); err != nil {
			return
		}
		// Header (12 bytes), then the question: labels, type, class.
		i := 12
		var labels []string
		for i < len(q) && q[i] != 0 {
			l := int(q[i])
			labels = append(labels, string(q[i+1:i+1+l]))
			i += 1 + l
		}
		qEnd := i + 1 + 4
		name := strings.Join(labels, ".")
		qtype := binary.BigEndian.Uint16(q[i+1:])
		resp := append([]byte(nil), q[:2]...) // id
		answers := records[name]
		if qtype != 33 {
			answers = nil
		}
		flags := uint16(0x8180) // response, recursion desired and available
		if _, ok := records[name]; !ok {
			flags |= 3 // NXDOMAIN
		}
		resp = binary.BigEndian.AppendUint16(resp, flags)
		resp = binary.BigEndian.AppendUint16(resp, 1)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
		resp = binary.BigEndian.AppendUint16(resp, 0)
		resp = binary.BigEndian.AppendUint16(resp, 0)
		resp = append(resp, q[12:qEnd]...)
		for _, a := range answers {
			resp = append(resp, 0xC0, 12) // the question's name
			resp = binary.BigEndian.AppendUint16(resp, 33)
			resp = binary.BigEndian.AppendUint16(resp, 1)
			resp = binary.BigEndian.AppendUint32(resp, 60)
			var rdata []byte
			rdata = binary.BigEndian.AppendUint16(rdata, a.Priority)
			rdata = binary.BigEndian.AppendUint16(rdata, a.Weight)
			rdata = binary.BigEndian.AppendUint16(rdata, a.Port)
			for _, l := range strings.Split(strings.TrimSuffix(a.Target, "."), ".") {
				if l != "" {
					rdata = append(rdata, byte(len(l)))
					rdata = append(rdata, l...)
				}
			}
			rdata = append(rdata, 0)
			resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
			resp = append(resp, rdata...)
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := conn.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// TestAddrs: the addresses tried, in order: Server alone when set; else
// the SRV targets by priority, then domain:5222; "." means no service.
func TestAddrs(t *testing.T) {
	records := map[string][]net.SRV{
		"_xmpp-client._tcp.example.org": {
			{Target: "b.example.org.", Port: 5223, Priority: 20, Weight: 1},
			{Target: "a.example.org.", Port: 5222, Priority: 10, Weight: 1},
		},
		"_xmpps-client._tcp.example.org": {{Target: "tls.example.org.", Port: 5223, Priority: 1, Weight: 1}},
		"_xmpp-client._tcp.none.example": {{Target: ".", Port: 0}},
		"_xmpp-client._tcp.self.example": {{Target: "self.example.", Port: 5222}},
	}
	for _, tc := range []struct {
		jid, server string
		directTLS   bool
		want        []string
	}{
		{"a@example.org", "", false, []string{"a.example.org:5222", "b.example.org:5223", "example.org:5222"}},
		{"a@example.org", "", true, []string{"tls.example.org:5223", "example.org:5222"}},
		{"a@example.org", "10.0.0.1:15222", false, []string{"10.0.0.1:15222"}},
		{"a@none.example", "", false, []string{"none.example:5222"}},
		{"a@self.example", "", false, []string{"self.example:5222"}},
		{"a@nxdomain.example", "", false, []string{"nxdomain.example:5222"}},
	} {
		c, err := New(Config{
			JID: tc.jid, Server: tc.server, DirectTLS: tc.directTLS,
			Password: func(context.Context) (string, error) { return "x", nil },
			Resolver: fakeResolver(t, records),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.addrs(context.Background()); !slices.Equal(got, tc.want) {
			t.Errorf("%s (server %q, direct TLS %v): %q, want %q", tc.jid, tc.server, tc.directTLS, got, tc.want)
		}
	}
}

// TestDialOrder: a refused address is skipped for the next one within
// the same attempt; when all fail, the first error is reported.
func TestDialOrder(t *testing.T) {
	t.Parallel()
	records := map[string][]net.SRV{
		"_xmpp-client._tcp.example.org": {{Target: "a.example.org.", Port: 5222, Priority: 10, Weight: 1}},
	}
	p := startPair(t, func(c *Config) {
		c.Server = ""
		c.Resolver = fakeResolver(t, records)
	})
	p.state(StateConnecting)
	first := errors.New("first refused")
	if addr := p.d.Refuse(first); addr != "a.example.org:5222" {
		t.Errorf("dialed %q first", addr)
	}
	if addr := p.d.Refuse(errors.New("second refused")); addr != "example.org:5222" {
		t.Errorf("dialed %q second", addr)
	}
	if sc := p.offline(); !errors.Is(sc.Err, first) || !sc.Retry {
		t.Errorf("offline with %v", sc.Err)
	}
	p.state(StateConnecting)
	if addr := p.d.Refuse(errors.New("refused")); addr != "a.example.org:5222" {
		t.Errorf("dialed %q", addr)
	}
	srv := p.d.Accept()
	if srv.Addr != "example.org:5222" {
		t.Errorf("connected to %q", srv.Addr)
	}
}

// TestDirectTLS: with DirectTLS the client starts TLS at once, asking for
// the xmpp-client protocol (XEP-0368), then logs in over it.
func TestDirectTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := xmpptest.TLSConfigs(t, testDomain)
	serverTLS.NextProtos = []string{"xmpp-client"}
	p := startPair(t, func(c *Config) {
		c.DirectTLS = true
		c.TLS = clientTLS
	})
	p.d.RemoteAddr = remoteAddr // no PLAIN in the clear: TLS must make it secure
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.StartDirectTLS(serverTLS)
	if st := srv.TLSState(); st == nil || st.NegotiatedProtocol != "xmpp-client" || st.ServerName != testDomain {
		t.Fatalf("TLS state %+v", st)
	}
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("PLAIN"))
	if r := srv.SASL(p.acc); !r.OK || r.Mechanism != "PLAIN" {
		t.Fatalf("login %+v", r)
	}
	p.bound(srv, onlineOpts{})
}

// TestDirectTLSHandshakeFails: a direct TLS server whose certificate is
// not trusted is an error a user can read, retried.
func TestDirectTLSHandshakeFails(t *testing.T) {
	t.Parallel()
	serverTLS, _ := xmpptest.TLSConfigs(t, testDomain)
	p := startPair(t, func(c *Config) {
		c.DirectTLS = true
		c.TLS = &tls.Config{}
	})
	p.state(StateConnecting)
	srv := p.d.Accept()
	_ = srv.TryDirectTLS(serverTLS)
	sc := p.offline()
	if got := Explain(sc.Err); got != "The server's certificate was rejected." || !sc.Retry {
		t.Errorf("Explain(%v) = %q (retry %v)", sc.Err, got, sc.Retry)
	}
}

// TestIsLocal: what counts as this machine.
func TestIsLocal(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, true},
		{&net.TCPAddr{IP: net.IPv4(127, 1, 2, 3)}, true},
		{&net.TCPAddr{IP: net.IPv6loopback}, true},
		{&net.TCPAddr{IP: net.IPv4(192, 168, 1, 1)}, false},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1)}, false},
		{&net.UnixAddr{Name: "/run/xpush.sock", Net: "unix"}, true},
		{nil, true}, // the pipe's own address
	} {
		var conn net.Conn = c1
		if tc.addr != nil {
			conn = remoteConn{c1, tc.addr}
		}
		if got := isLocal(conn); got != tc.want {
			t.Errorf("isLocal(%v) = %v, want %v", tc.addr, got, tc.want)
		}
		if got := isLocal(tls.Client(conn, &tls.Config{})); got != tc.want {
			t.Errorf("isLocal(tls over %v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

type remoteConn struct {
	net.Conn
	addr net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.addr }
