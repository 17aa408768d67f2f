package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/tlscert"
)

// Defaults of xpushd serve; the first five are part of the command-line
// contract in DESIGN.md.
const (
	DefaultC2S          = "127.0.0.1:5222" // loopback: nothing is exposed until asked
	DefaultHTTP         = "127.0.0.1:8080"
	DefaultDomain       = "localhost"
	DefaultRegistration = c2s.RegisterOpen // the paper's auto-registration
	// DefaultRegisterRate bounds in-band registrations per IP address per
	// minute: enough for a household behind one NAT, too few to fill the
	// database. Loopback is never limited.
	DefaultRegisterRate = 10
	// ShutdownGrace is how long a stop waits for streams to close and
	// requests and acknowledgements in flight to finish.
	ShutdownGrace = 10 * time.Second
)

const serveUsage = `serve [--data DIR] [--c2s ADDR] [--http ADDR] [--domain D]
           [--registration open|token|closed] [--tls-cert F --tls-key F | --no-tls]
           [--c2s-tls ADDR] [--allow-plain] [--legacy-digest] [--register-rate N]
           [--config FILE] [--log-level debug|info|warn|error] [--debug ADDR]

Every flag can also be set in the environment as XPUSHD_ and its name in
upper case with - as _ (XPUSHD_DATA, XPUSHD_TLS_CERT, ...), or in the TOML
file of --config with the flag names as keys (data = "/var/lib/xpushd").
A flag on the command line wins over the environment, which wins over the
file.`

// serveConfig is the configuration of xpushd serve: one field per flag.
type serveConfig struct {
	Data         string
	C2S          string
	HTTP         string
	Domain       string
	Registration string
	TLSCert      string
	TLSKey       string
	NoTLS        bool
	C2STLS       string
	AllowPlain   bool
	LegacyDigest bool
	RegisterRate int
	Config       string
	LogLevel     string
	Debug        string

	level slog.Level // parsed LogLevel
}

// flags binds cfg's fields to fs. This is the only place that names them:
// the environment and the config file reach them through fs.
func (cfg *serveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&cfg.Data, "data", DefaultData, "data `directory`: database, TLS certificate (created with mode 0700)")
	fs.StringVar(&cfg.C2S, "c2s", DefaultC2S, "`address` for XMPP client connections (STARTTLS); empty: none")
	fs.StringVar(&cfg.HTTP, "http", DefaultHTTP, "`address` for the HTTP API, web console, /metrics and /healthz")
	fs.StringVar(&cfg.Domain, "domain", DefaultDomain, "the XMPP `domain`: users are NAME@DOMAIN")
	fs.StringVar(&cfg.Registration, "registration", DefaultRegistration, "in-band registration `mode`: open, token (needs an invite from invite create) or closed")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate chain `file` (PEM); default: a self-signed one made in DATA/tls")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key `file` (PEM), with --tls-cert")
	fs.BoolVar(&cfg.NoTLS, "no-tls", false, "no TLS at all; c2s must then be on loopback unless --allow-plain")
	fs.StringVar(&cfg.C2STLS, "c2s-tls", "", "`address` for direct-TLS XMPP client connections (XEP-0368); empty: none")
	fs.BoolVar(&cfg.AllowPlain, "allow-plain", false, "let clients off this machine log in without TLS (passwords cross the network in clear)")
	fs.BoolVar(&cfg.LegacyDigest, "legacy-digest", false, "allow the paper's jabber:iq:auth digest login; keeps passwords in CLEAR in the database")
	fs.IntVar(&cfg.RegisterRate, "register-rate", DefaultRegisterRate, "`n` in-band registrations per IP address per minute (0: no limit)")
	fs.StringVar(&cfg.Config, "config", "", "TOML `file` with defaults for these flags, keyed by flag name")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log `level`: debug, info, warn or error (JSON logs on standard error)")
	fs.StringVar(&cfg.Debug, "debug", "", "loopback `address` for Go's profiler (/debug/pprof/); empty: off")
}

// parseServe reads the configuration: flags, then the environment, then
// the config file, then the defaults; and checks it.
func (c *cli) parseServe(fs *flag.FlagSet, args []string) (serveConfig, error) {
	var cfg serveConfig
	cfg.flags(fs)
	if err := parse(fs, args); err != nil {
		return cfg, err
	}
	var file map[string]string
	path := cfg.Config
	if path == "" {
		path, _ = c.lookupEnv(envName("config"))
	}
	if path != "" {
		var err error
		if file, err = readConfigFile(path, fs, "config"); err != nil {
			return cfg, usagef("%v", err)
		}
	}
	if err := layers(fs, c.lookupEnv, nil, file); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, cfg.check()
}

// check validates the configuration before anything is opened.
func (cfg *serveConfig) check() error {
	if err := cfg.level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return usagef("--log-level must be debug, info, warn or error, not %q", cfg.LogLevel)
	}
	switch cfg.Registration {
	case c2s.RegisterOpen, c2s.RegisterToken, c2s.RegisterClosed:
	default:
		return usagef("--registration must be open, token or closed, not %q", cfg.Registration)
	}
	if cfg.Data == "" {
		return usagef("--data must not be empty")
	}
	if cfg.Domain == "" || strings.ContainsAny(cfg.Domain, "@/") {
		return usagef("--domain %q is not a domain name", cfg.Domain)
	}
	j, err := jid.New("", cfg.Domain, "")
	if err != nil {
		return usagef("--domain %q is not a domain name: %v", cfg.Domain, err)
	}
	cfg.Domain = j.Domainpart()
	if cfg.RegisterRate < 0 {
		return usagef("--register-rate must not be negative")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if cfg.NoTLS && cfg.TLSCert != "" {
		return usagef("--no-tls contradicts --tls-cert")
	}
	if cfg.NoTLS && cfg.C2STLS != "" {
		return usagef("--c2s-tls needs TLS; drop --no-tls")
	}
	if cfg.HTTP == "" {
		return usagef("--http must not be empty")
	}
	if cfg.C2S == "" && cfg.C2STLS == "" {
		return usagef("give --c2s or --c2s-tls: without either no client can connect")
	}
	for _, a := range []struct{ flag, addr string }{{"c2s", cfg.C2S}, {"c2s-tls", cfg.C2STLS}, {"http", cfg.HTTP}, {"debug", cfg.Debug}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return usagef("--%s %q is not HOST:PORT", a.flag, a.addr)
		}
	}
	if err := checkDebugAddr(cfg.Debug); err != nil {
		return err
	}
	if cfg.NoTLS && !cfg.AllowPlain && cfg.C2S != "" && !isLoopback(cfg.C2S) {
		return usagef("refusing to serve XMPP clients on %s without TLS: "+
			"passwords would cross the network in clear. "+
			"Drop --no-tls (a self-signed certificate is made in %s), "+
			"give --tls-cert and --tls-key, listen on loopback, or pass --allow-plain if you must",
			cfg.C2S, filepath.Join(cfg.Data, tlscert.Subdir))
	}
	return nil
}

// isLoopback reports whether the host of the listen address addr is
// this machine only: localhost or a loopback IP. An empty host (every
// interface) is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	host, _, _ = strings.Cut(host, "%") // zone
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serve is the composition root of the server: config → logger → store →
// TLS → listeners → server → Run, each step returning its error.
func (c *cli) serve(fs *flag.FlagSet, args []string) error {
	cfg, err := c.parseServe(fs, args)
	if err != nil {
		return err
	}

	logger := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: cfg.level}))
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills at once.
	context.AfterFunc(ctx, stop)

	st, err := openStore(c, cfg.Data, true)
	if err != nil {
		return err
	}
	defer st.Close()

	tlsConfig, err := c.loadTLS(cfg)
	if err != nil {
		return err
	}
	if cfg.LegacyDigest {
		fmt.Fprint(c.stderr, legacyWarning)
		logger.Warn("xpushd: legacy digest login enabled: new and changed passwords are stored in clear")
	}
	if _, err := st.AdminHash(ctx); errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(c.stderr, "xpushd: no console admin password; set one with: xpushd admin passwd --data %s\n", cfg.Data)
	} else if err != nil {
		return fmt.Errorf("cannot read the database: %w", err)
	}
	if !isLoopback(cfg.HTTP) {
		logger.Warn("xpushd: the HTTP API and console are served without TLS on a non-loopback address; put a TLS proxy in front", "http", cfg.HTTP)
	}

	ls, err := listen(cfg)
	if err != nil {
		return err
	}
	srv, err := build(cfg, st, tlsConfig, logger)
	if err != nil {
		closeListeners(ls)
		return err
	}
	dl, err := listenDebug(cfg.Debug)
	if err != nil {
		closeListeners(ls)
		return err
	}
	if dl != nil {
		dctx, stopDebug := context.WithCancel(ctx)
		debugDone := make(chan struct{})
		go func() {
			defer close(debugDone)
			serveDebug(dctx, dl, logger)
		}()
		defer func() { stopDebug(); <-debugDone }()
		fmt.Fprintf(c.stdout, "xpushd: profiler on http://%s/debug/pprof/\n", dl.Addr())
	}

	logger.Info("xpushd: serving", "version", version, "data", cfg.Data, "domain", cfg.Domain,
		"c2s", addrOf(ls.C2S), "c2s_tls", addrOf(ls.C2STLS), "http", addrOf(ls.HTTP),
		"registration", cfg.Registration, "tls", tlsConfig != nil, "allow_plain", cfg.AllowPlain)
	// The ready line is what scripts and tests wait for: keep its form.
	c2sAddr := addrOf(ls.C2S)
	if ls.C2STLS != nil {
		fmt.Fprintf(c.stdout, "xpushd: direct-TLS c2s on %s\n", addrOf(ls.C2STLS))
		if ls.C2S == nil {
			c2sAddr = addrOf(ls.C2STLS)
		}
	}
	fmt.Fprintf(c.stdout, "xpushd: serving c2s on %s, http on http://%s (domain %s)\n", c2sAddr, addrOf(ls.HTTP), cfg.Domain)

	err = srv.Run(ctx, ls, ShutdownGrace)
	logger.Info("xpushd: stopped")
	if err != nil {
		return fmt.Errorf("the server stopped: %w", err)
	}
	return nil
}

// build wires the server: server.New adds the web console and metrics.
func build(cfg serveConfig, st store.Store, tlsConfig *tls.Config, logger *slog.Logger) (*server.Server, error) {
	return server.New(server.Options{
		Domain:       cfg.Domain,
		Store:        st,
		TLS:          tlsConfig,
		AllowPlain:   cfg.AllowPlain,
		Registration: cfg.Registration,
		RegisterRate: cfg.RegisterRate,
		LegacyDigest: cfg.LegacyDigest,
		// The session cookie is Secure unless the console is on
		// loopback, where browsers allow plain HTTP; elsewhere a TLS
		// proxy must be in front (see the warning at start-up).
		ConsoleSecure: !isLoopback(cfg.HTTP),
		Logger:        logger,
	})
}

const legacyWarning = `
xpushd: WARNING: --legacy-digest is on.
xpushd: WARNING: every password registered or changed from now on is kept
xpushd: WARNING: IN CLEAR TEXT in the database, for the paper's
xpushd: WARNING: jabber:iq:auth <digest/> login. Anyone who reads the
xpushd: WARNING: database or a backup of it has those passwords. Use it
xpushd: WARNING: only for old clients that cannot do SCRAM.

`

// loadTLS returns the TLS configuration: the operator's files, or the
// self-signed certificate in the data directory, or nil with --no-tls.
func (c *cli) loadTLS(cfg serveConfig) (*tls.Config, error) {
	if cfg.NoTLS {
		return nil, nil
	}
	var (
		tc  *tls.Config
		fp  string
		err error
	)
	if cfg.TLSCert != "" {
		tc, fp, err = tlscert.Load(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("cannot load the TLS certificate: %w", err)
		}
		fmt.Fprintf(c.stdout, "xpushd: TLS certificate %s, SHA-256 fingerprint %s\n", cfg.TLSCert, fp)
		return tc, nil
	}
	tc, fp, err = tlscert.LoadOrCreate(cfg.Data, cfg.Domain)
	if err != nil {
		return nil, fmt.Errorf("cannot set up the self-signed TLS certificate: %w", err)
	}
	fmt.Fprintf(c.stdout, "xpushd: self-signed TLS certificate for %s, SHA-256 fingerprint %s\n", cfg.Domain, fp)
	return tc, nil
}

// listen opens the listeners; on error it closes those already open.
func listen(cfg serveConfig) (server.Listeners, error) {
	var ls server.Listeners
	for _, l := range []struct {
		what, addr string
		dst        *net.Listener
	}{
		{"XMPP clients", cfg.C2S, &ls.C2S},
		{"direct-TLS XMPP clients", cfg.C2STLS, &ls.C2STLS},
		{"HTTP", cfg.HTTP, &ls.HTTP},
	} {
		if l.addr == "" {
			continue
		}
		nl, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeListeners(ls)
			return server.Listeners{}, fmt.Errorf("cannot listen for %s on %s: %w", l.what, l.addr, err)
		}
		*l.dst = nl
	}
	return ls, nil
}

func closeListeners(ls server.Listeners) {
	for _, l := range []net.Listener{ls.C2S, ls.C2STLS, ls.HTTP} {
		if l != nil {
			l.Close()
		}
	}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}
