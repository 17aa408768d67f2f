package c2s_test

import (
	"encoding/base64"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// saslStream opens a stream to addr and authenticates as user/password
// with SASL PLAIN, up to the restarted stream's features.
func saslStream(addr string) (*client, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, dec: stream.NewDecoder(conn, stream.Limits{})}
	_ = conn.SetDeadline(time.Now().Add(patience))
	open := func() error {
		if _, err := conn.Write([]byte(streamHeader)); err != nil {
			return err
		}
		if _, err := c.dec.ReadHeader(); err != nil {
			return err
		}
		_, err := c.dec.Next() // features
		return err
	}
	if err := open(); err != nil {
		conn.Close()
		return nil, err
	}
	auth := `<auth xmlns="` + stanza.NSSASL + `" mechanism="PLAIN">` + base64.StdEncoding.EncodeToString([]byte("\x00user\x00password")) + `</auth>`
	if _, err := conn.Write([]byte(auth)); err != nil {
		conn.Close()
		return nil, err
	}
	if el, err := c.dec.Next(); err != nil || el.Name.Local != "success" {
		conn.Close()
		return nil, fmt.Errorf("sasl: %v, %v", el, err)
	}
	c.dec.Reset(conn)
	if err := open(); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// next returns the next element, failing the test on an error.
func (c *client) next(t *testing.T) *stanza.Element {
	t.Helper()
	el, err := c.dec.Next()
	if err != nil {
		t.Fatal(err)
	}
	return el
}

// waitDetached waits until the user's only session has lost its
// connection (and is kept for resumption), or until it is gone when gone
// is set.
func waitDetached(t *testing.T, srv *c2s.Server, gone bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		ss := srv.SessionsOf("user")
		switch {
		case gone && len(ss) == 0 && srv.Sessions() == 0:
			return
		case !gone && len(ss) == 1 && !ss[0].Online():
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions %d (online: %v), want gone %v", len(ss), len(ss) == 1 && ss[0].Online(), gone)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResume: a session whose connection dropped is resumed on a new one
// (and reads on it), and a resumption with an h that acknowledges
// stanzas never sent ends it rather than leave it bound and detached for
// good.
func TestResume(t *testing.T) {
	srv, addr := bareServer(t, 1, nil)
	c, err := saslStream(addr)
	if err != nil {
		t.Fatal(err)
	}
	bind := `<iq type="set" id="b"><bind xmlns="` + stanza.NSBind + `"><resource>r</resource></bind></iq>`
	if err := c.call(bind, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write([]byte(`<enable xmlns="` + xmpp.NSSM + `" resume="true"/>`)); err != nil {
		t.Fatal(err)
	}
	enabled := c.next(t)
	id := enabled.AttrValue("id")
	if enabled.Name.Local != "enabled" || id == "" {
		t.Fatalf("enable: %s", enabled.AppendXML(nil, stanza.NSClient))
	}
	c.conn.Close()
	waitDetached(t, srv, false)

	c, err = saslStream(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write([]byte(`<resume xmlns="` + xmpp.NSSM + `" previd="` + id + `" h="0"/>`)); err != nil {
		t.Fatal(err)
	}
	if el := c.next(t); el.Name.Local != "resumed" {
		t.Fatalf("resume: %s", el.AppendXML(nil, stanza.NSClient))
	}
	if err := c.call(`<iq type="get" id="p"><ping xmlns="urn:xmpp:ping"/></iq>`, "p"); err != nil {
		t.Fatalf("ping after the resumption: %v", err)
	}
	c.conn.Close()
	waitDetached(t, srv, false)

	c, err = saslStream(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	if _, err := c.conn.Write([]byte(`<resume xmlns="` + xmpp.NSSM + `" previd="` + id + `" h="99"/>`)); err != nil {
		t.Fatal(err)
	}
	if el := c.next(t); el.Name.Local != "failed" || el.Child(stanza.NSStanzas, "bad-request") == nil {
		t.Fatalf("resume with a bad h: %s", el.AppendXML(nil, stanza.NSClient))
	}
	waitDetached(t, srv, true)
}
