package account

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/xmpp"
)

// Flags are the account settings given on the command line.
type Flags struct {
	Server        string
	JID           string
	Register      bool
	PasswordStdin bool
	InsecurePlain bool
	DirectTLS     bool
	TLSCA         string
	PushService   string
	Resource      string
	Keepalive     time.Duration
}

// Bind adds the flags to fs.
func (f *Flags) Bind(fs *flag.FlagSet) {
	fs.StringVar(&f.Server, "server", "", "server `HOST:PORT` (default: DNS SRV lookup of the JID's domain)")
	fs.StringVar(&f.JID, "jid", "", "account `USER@DOMAIN`")
	fs.BoolVar(&f.Register, "register", false, "create the account if it does not exist (with a generated password unless one is stored or given)")
	fs.BoolVar(&f.PasswordStdin, "password-stdin", false, "read the password from the first line of stdin instead of the keyring")
	fs.BoolVar(&f.InsecurePlain, "insecure-plain", false, "allow a connection without TLS to a server that is not on loopback")
	fs.BoolVar(&f.DirectTLS, "direct-tls", false, "use direct TLS (XEP-0368) instead of STARTTLS")
	fs.StringVar(&f.TLSCA, "tls-ca", "", "trust the CA certificates in this PEM `FILE` in addition to the system's")
	fs.StringVar(&f.PushService, "push-service", "", "send presence to this push component `DOMAIN` after login")
	fs.StringVar(&f.Resource, "resource", "", "resource to bind (default \"xpush\")")
	fs.DurationVar(&f.Keepalive, "keepalive", xmpp.DefaultKeepalive, "whitespace keepalive interval")
}

// Config builds the client configuration. The password is read from stdin
// (once, now) with PasswordStdin, else from store on each login; with
// Register and no stored password, a strong one is generated and stored
// before the account is registered, so that a created account never has a
// password that was not saved.
func (f *Flags) Config(store secret.Store, stdin io.Reader) (xmpp.Config, error) {
	if f.JID == "" {
		return xmpp.Config{}, errors.New("--jid is required")
	}
	cfg := xmpp.Config{
		JID:           f.JID,
		Server:        f.Server,
		Register:      f.Register,
		InsecurePlain: f.InsecurePlain,
		DirectTLS:     f.DirectTLS,
		PushService:   f.PushService,
		Resource:      f.Resource,
		Keepalive:     f.Keepalive,
	}
	if f.TLSCA != "" {
		pem, err := os.ReadFile(f.TLSCA)
		if err != nil {
			return cfg, fmt.Errorf("read --tls-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.TLSCA)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	bare := bareJID(f.JID)
	if f.PasswordStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return cfg, errors.New("--password-stdin: stdin holds no password")
		}
		cfg.Password = func(context.Context) (string, error) { return pw, nil }
		return cfg, nil
	}
	if _, err := store.Get(bare); errors.Is(err, secret.ErrNotFound) {
		if !f.Register {
			return cfg, fmt.Errorf("no password for %s in the keyring: use --register to create the account, or --password-stdin", bare)
		}
		if err := store.Set(bare, secret.Generate()); err != nil {
			return cfg, fmt.Errorf("store the new password: %w", err)
		}
	} else if err != nil {
		return cfg, err
	}
	cfg.Password = func(context.Context) (string, error) { return store.Get(bare) }
	return cfg, nil
}

func bareJID(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}
