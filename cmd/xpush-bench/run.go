package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdg-go/scram"

	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// writeTimeout bounds every write of the tool.
const writeTimeout = 10 * time.Second

// keys are an account's SCRAM client with its key derived beforehand.
type keys struct {
	mech   string
	client *scram.Client
}

// bench is one run.
type bench struct {
	o      options
	stderr io.Writer
	start  time.Time
	addr   string
	tls    *tls.Config
	pid    int
	runID  string
	res    *Result
	// users are the N account names; the sender, when one is needed,
	// is users[N].
	users    []string
	keys     []keys // by user index; zero where the login derives its key
	track    tracker
	api      *apiClient
	polls    atomic.Int64 // API status requests made by the latency phase
	pollTime atomic.Int64 // and the time they took, in ns

	mu       sync.Mutex
	sessions []*session // by user index; nil where the login failed
	online   []*session // logged-in recipients, in index order
	sender   *session
}

// runBench runs every phase and reports. It returns an error when a
// phase could not run or something did not arrive.
func runBench(ctx context.Context, o options, command []string, stdout, stderr io.Writer) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	b := &bench{o: o, stderr: stderr, start: start, runID: randomID()}
	b.res = &Result{
		Tool: "xpush-bench", Date: start.UTC().Truncate(time.Second), Command: command,
		GoVersion: runtime.Version(), Platform: platform(), CPUs: runtime.NumCPU(),
		LoadAvg:  [2]float64{loadAvg(), 0},
		Machine:  readMachine(),
		Sessions: o.Sessions,
		Server:   ServerInfo{Addr: o.Server, Domain: o.Domain, TLS: o.TLS, API: o.API},
	}
	for _, s := range o.Sources {
		b.res.Sources = append(b.res.Sources, s.String())
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	err := b.setup()
	if err == nil {
		err = b.phases(ctx)
	}
	b.closeAll()
	if err != nil {
		b.fail("%v", err)
	}
	b.res.Seconds = time.Since(start).Seconds()
	b.res.LoadAvg[1] = loadAvg()
	printResult(stdout, b.res)
	if o.Out != "" {
		if werr := writeResult(o.Out, b.res); werr != nil {
			return errors.Join(err, werr)
		} else {
			fmt.Fprintf(stdout, "result written to %s\n", o.Out)
		}
	}
	if err != nil {
		return err
	}
	if problems := b.problems(); len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "xpush-bench: %6.2fs "+format+"\n", append([]any{time.Since(b.start).Seconds()}, args...)...)
}

// fail records an error in the result.
func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Errors = append(b.res.Errors, msg)
	b.logf("%s", msg)
}

// setup checks the environment before any load: open files, addresses,
// TLS, the server process and the API token.
func (b *bench) setup() error {
	o := b.o
	want := uint64(o.Sessions) + 4096
	nf, err := raiseNoFile(want)
	b.res.NoFile = nf
	if err != nil {
		b.fail("raise RLIMIT_NOFILE: %v", err)
	}
	b.logf("open files: soft limit %d, hard limit %d (were %d/%d)", nf.Soft, nf.Hard, nf.SoftBefore, nf.HardBefore)
	if nf.Soft != 0 && nf.Soft < uint64(o.Sessions)+64 {
		return fmt.Errorf("the open file limit %d is too low for %d sessions; raise the hard limit (ulimit -Hn) or run as root", nf.Soft, o.Sessions)
	}
	a, err := loopbackTCP(o.Server)
	if err != nil {
		return err
	}
	b.addr = a.String()
	if o.TLS {
		b.tls = &tls.Config{ServerName: o.Domain, MinVersion: tls.VersionTLS12}
		if o.TLSCA != "" {
			pem, err := os.ReadFile(o.TLSCA)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate", o.TLSCA)
			}
			b.tls.RootCAs = pool
		}
	}
	b.pid = o.PID
	if b.pid == 0 {
		if b.pid, err = findListener(a.Port); err != nil {
			b.fail("server process not found, so no RSS or CPU figures: %v", err)
		}
	}
	if b.pid != 0 {
		if _, err := readProc(b.pid); err != nil {
			b.fail("cannot read /proc of pid %d, so no RSS or CPU figures: %v", b.pid, err)
			b.pid = 0
		}
	}
	b.res.Server.PID = b.pid
	if b.pid != 0 {
		b.res.Server.Cmdline = procCmdline(b.pid)
	}
	for i := range o.Sessions {
		b.users = append(b.users, o.Prefix+strconv.Itoa(i))
	}
	if o.API == "" && (o.LatencySamples > 0 || o.BroadcastRounds > 0) {
		b.users = append(b.users, o.Prefix+"-sender")
	}
	b.keys = make([]keys, len(b.users))
	b.sessions = make([]*session, len(b.users))
	if o.API != "" {
		b.api = newAPIClient(o.API, o.Token)
		if err := b.api.check(); err != nil {
			return err
		}
	}
	return nil
}

// phases runs the phases in order; an error stops the run.
func (b *bench) phases(ctx context.Context) error {
	o := b.o
	if o.Register {
		phase(ctx, "accounts", b.accounts)
		if o.AccountsOnly {
			return nil
		}
	}
	if o.Prederive {
		phase(ctx, "prederive", b.prederive)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("out of time (--timeout %v) before the logins", o.Timeout)
	}
	before := b.meter()
	var goBefore *goMem
	if b.api != nil {
		goBefore = b.api.metrics(ctx)
	}
	phase(ctx, "logins", b.logins)
	if len(b.online) == 0 {
		return errors.New("no session logged in")
	}
	b.res.Online = len(b.online)
	stopKeepalive := b.keepalive(ctx)
	defer stopKeepalive()
	b.identify()
	if err := b.idle(ctx, before, goBefore); err != nil {
		return err
	}
	if len(b.users) > o.Sessions {
		s, _, err := b.login(ctx, o.Sessions)
		if err != nil {
			return fmt.Errorf("log the sender %s in: %w", b.users[o.Sessions], err)
		}
		b.mu.Lock()
		b.sender = s
		b.mu.Unlock()
	}
	if o.LatencySamples > 0 {
		phase(ctx, "latency", b.latency)
	}
	if o.BroadcastRounds > 0 {
		phase(ctx, "broadcast", b.broadcast)
	}
	return nil
}

// phase runs f with a pprof label naming the phase; goroutines started
// in it (the sessions' readers among them) keep the label.
func phase(ctx context.Context, name string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("phase", name), f)
}

// problems lists what did not work out, for the exit status.
func (b *bench) problems() []string {
	var p []string
	r := b.res
	if a := r.Accounts; a != nil && a.Failed > 0 {
		p = append(p, fmt.Sprintf("%d registrations failed", a.Failed))
	}
	if l := r.Logins; l != nil && l.Failed > 0 {
		p = append(p, fmt.Sprintf("%d logins failed", l.Failed))
	}
	if l := r.Latency; l != nil {
		if l.Lost > 0 {
			p = append(p, fmt.Sprintf("%d latency samples lost", l.Lost))
		}
		if l.Ack != nil && l.Ack.N < l.Samples-l.Lost {
			p = append(p, fmt.Sprintf("%d latency samples not acked in time", l.Samples-l.Lost-l.Ack.N))
		}
		if l.Samples < b.o.LatencySamples {
			p = append(p, fmt.Sprintf("only %d of %d latency samples ran", l.Samples, b.o.LatencySamples))
		}
	}
	if bc := r.Broadcast; bc != nil {
		for i, rd := range bc.Rounds {
			if rd.Delivered < rd.Recipients {
				p = append(p, fmt.Sprintf("broadcast round %d: %d of %d delivered", i+1, rd.Delivered, rd.Recipients))
			}
		}
		if len(bc.Rounds) < b.o.BroadcastRounds {
			p = append(p, fmt.Sprintf("only %d of %d broadcast rounds ran", len(bc.Rounds), b.o.BroadcastRounds))
		}
	}
	return p
}

// meter is a point from which a phase's CPU is measured.
type meter struct {
	at        time.Time
	tool      time.Duration
	srv       procSample
	srvOK     bool
	machine   time.Duration
	machineOK bool
}

func (b *bench) meter() meter {
	m := meter{at: time.Now(), tool: selfCPU()}
	var err error
	m.machine, err = machineCPU()
	m.machineOK = err == nil
	if b.pid != 0 {
		s, err := readProc(b.pid)
		m.srv, m.srvOK = s, err == nil
	}
	return m
}

// cpu returns the CPU used since m.
func (b *bench) cpu(m meter) CPU {
	c := CPU{Wall: time.Since(m.at).Seconds(), Tool: (selfCPU() - m.tool).Seconds()}
	if m.srvOK {
		if s, err := readProc(b.pid); err == nil {
			c.Server = (s.CPU - m.srv.CPU).Seconds()
		}
	}
	if mc, err := machineCPU(); err == nil && m.machineOK {
		c.Other = (mc - m.machine).Seconds() - c.Tool
		if b.pid != os.Getpid() {
			c.Other -= c.Server
		}
		c.Other = max(c.Other, 0)
	}
	if c.Wall > 0 {
		cores := float64(runtime.NumCPU())
		c.ServerShare = c.Server / (c.Wall * cores)
		c.ToolShare = c.Tool / (c.Wall * cores)
		c.OtherShare = c.Other / (c.Wall * cores)
	}
	return c
}

// forEach calls f for 0..n-1 with at most k calls in flight, and stops
// handing out work when ctx ends.
func forEach(ctx context.Context, n, k int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(k, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// progress prints done/total every few seconds until stopped.
func (b *bench) progress(label string, done *atomic.Int64, total int) (stop func()) {
	quit, ended := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(ended)
		t := time.NewTicker(3 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				n := done.Load()
				b.logf("%s: %d/%d (%.0f/s)", label, n, total, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(quit); <-ended }
}

// dialStream connects user i's connection from its source address and
// opens the stream, with STARTTLS when asked; it returns the features
// that SASL or registration start from.
func (b *bench) dialStream(ctx context.Context, i int) (*conn, *stanza.Element, error) {
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: b.o.Sources[i%len(b.o.Sources)]},
		Timeout:   b.o.StepTimeout,
		Control:   bindNoPort,
	}
	nc, err := d.DialContext(ctx, "tcp4", b.addr)
	if err != nil {
		return nil, nil, err
	}
	c := newConn(nc, time.Now().Add(b.o.StepTimeout), writeTimeout)
	feats, err := c.open(b.o.Domain)
	if err == nil && b.tls != nil {
		if feats.Child(nsTLS, "starttls") == nil {
			err = errors.New("the server offers no STARTTLS")
		} else {
			feats, err = c.startTLS(b.o.Domain, b.tls)
		}
	}
	if err != nil {
		c.nc.Close()
		return nil, nil, err
	}
	return c, feats, nil
}

// accounts registers every account.
func (b *bench) accounts(ctx context.Context) {
	n := len(b.users)
	b.logf("accounts: registering %d accounts, %d in flight", n, b.o.RegConcurrency)
	var registered, existed, failed, done atomic.Int64
	var errs errorCounts
	m := b.meter()
	stop := b.progress("accounts", &done, n)
	forEach(ctx, n, b.o.RegConcurrency, func(i int) {
		defer done.Add(1)
		c, _, err := b.dialStream(ctx, i)
		if err == nil {
			err = c.register(b.o.Domain, b.users[i], b.o.Password)
			c.closeStream()
		}
		switch {
		case err == nil:
			registered.Add(1)
		case errors.Is(err, errExists):
			existed.Add(1)
		default:
			failed.Add(1)
			errs.add(err)
		}
	})
	stop()
	cpu := b.cpu(m)
	a := &Accounts{
		Registered: int(registered.Load()), Existed: int(existed.Load()), Failed: int(failed.Load()),
		Concurrency: b.o.RegConcurrency, Seconds: cpu.Wall, CPU: cpu, Errors: errs.snapshot(),
	}
	a.Failed += n - int(done.Load()) // never tried: out of time
	a.PerSec = perSecond(a.Registered, time.Duration(cpu.Wall*float64(time.Second)))
	b.res.Accounts = a
	if a.Errors != nil {
		b.logf("accounts: errors: %s", summary(a.Errors))
	}
}

// prederive learns each account's salt with an aborted SCRAM exchange
// and derives its client key, so that the timed logins cost the tool a
// few HMACs instead of a PBKDF2 each.
func (b *bench) prederive(ctx context.Context) {
	n := len(b.users)
	b.logf("prederive: probing %d SCRAM salts", n)
	kfs := make([]scram.KeyFactors, n)
	mechs := make([]string, n)
	var failed, done atomic.Int64
	var errs errorCounts
	start := time.Now()
	stop := b.progress("prederive", &done, n)
	forEach(ctx, n, b.o.Concurrency, func(i int) {
		defer done.Add(1)
		c, feats, err := b.dialStream(ctx, i)
		if err == nil {
			var mech string
			if mech, _, err = pickMechanism(feats); err == nil {
				mechs[i] = mech
				kfs[i], err = c.probeSalt(mech, b.users[i])
			}
			c.closeStream()
		}
		if err != nil {
			failed.Add(1)
			errs.add(err)
		}
	})
	stop()
	probe := time.Since(start)
	start = time.Now()
	forEach(ctx, n, runtime.GOMAXPROCS(0), func(i int) {
		if kfs[i].Iters == 0 {
			return
		}
		_, h, _ := mechanismNamed(mechs[i])
		cl, err := h.NewClient(b.users[i], b.o.Password, "")
		if err == nil {
			_, err = cl.WithMinIterations(1).GetStoredCredentialsWithError(kfs[i])
		}
		if err != nil {
			failed.Add(1)
			errs.add(err)
			return
		}
		b.keys[i] = keys{mech: mechs[i], client: cl}
	})
	b.res.Prederive = &Prederive{
		Probed: n - int(failed.Load()), Failed: int(failed.Load()),
		ProbeSeconds: probe.Seconds(), DeriveSeconds: time.Since(start).Seconds(), Errors: errs.snapshot(),
	}
	if errs.n > 0 {
		b.logf("prederive: errors (those logins derive their keys themselves): %s", summary(errs.snapshot()))
	}
}

func mechanismNamed(name string) (string, scram.HashGeneratorFcn, bool) {
	for _, m := range mechanisms {
		if m.name == name {
			return m.name, m.hash, true
		}
	}
	return "", nil, false
}

// login logs user i in and starts its session's reader. It returns the
// mechanism used.
func (b *bench) login(ctx context.Context, i int) (*session, string, error) {
	c, feats, err := b.dialStream(ctx, i)
	if err != nil {
		return nil, "", err
	}
	ok := false
	defer func() {
		if !ok {
			c.nc.Close()
		}
	}()
	mech, h, err := pickMechanism(feats)
	if err != nil {
		return nil, "", err
	}
	cl := b.keys[i].client
	if cl == nil || b.keys[i].mech != mech {
		if cl, err = h.NewClient(b.users[i], b.o.Password, ""); err != nil {
			return nil, mech, fmt.Errorf("sasl: %w", err)
		}
		cl.WithMinIterations(1)
	}
	if err := c.auth(mech, cl); err != nil {
		return nil, mech, err
	}
	c.dec.Reset(c.nc)
	if feats, err = c.open(b.o.Domain); err != nil {
		return nil, mech, err
	}
	jid, err := c.bind(feats, b.o.Resource)
	if err != nil {
		return nil, mech, err
	}
	if err := c.send(stanza.New(stanza.NSClient, "presence")); err != nil {
		return nil, mech, err
	}
	// From now on reads wait as long as the run may last.
	dl, _ := ctx.Deadline()
	c.deadline = dl.Add(30 * time.Second)
	s := &session{conn: c, idx: i, user: b.users[i], jid: jid}
	s.serve(&b.track)
	ok = true
	b.sessions[i] = s
	return s, mech, nil
}

// logins logs the N sessions in.
func (b *bench) logins(ctx context.Context) {
	n := b.o.Sessions
	b.logf("logins: %d sessions, %d in flight", n, b.o.Concurrency)
	each := make([]time.Duration, n)
	var failed, done atomic.Int64
	var errs errorCounts
	var mech atomic.Value
	m := b.meter()
	stop := b.progress("logins", &done, n)
	forEach(ctx, n, b.o.Concurrency, func(i int) {
		defer done.Add(1)
		t := time.Now()
		_, mc, err := b.login(ctx, i)
		if mc != "" {
			mech.Store(mc)
		}
		if err != nil {
			failed.Add(1)
			errs.add(err)
			return
		}
		each[i] = time.Since(t)
	})
	stop()
	cpu := b.cpu(m)
	var ok []time.Duration
	for i, s := range b.sessions[:n] {
		if s != nil {
			b.online = append(b.online, s)
			ok = append(ok, each[i])
		}
	}
	l := &Logins{
		OK: len(b.online), Failed: n - len(b.online), Concurrency: b.o.Concurrency,
		Prederived: b.o.Prederive, Seconds: cpu.Wall, Each: distOf(ok), CPU: cpu, Errors: errs.snapshot(),
	}
	l.Mechanism, _ = mech.Load().(string)
	l.PerSec = perSecond(l.OK, time.Duration(cpu.Wall*float64(time.Second)))
	b.res.Logins = l
	b.logf("logins: %d ok, %d failed in %.2fs: %.0f/s", l.OK, l.Failed, l.Seconds, l.PerSec)
	if l.Errors != nil {
		b.logf("logins: errors: %s", summary(l.Errors))
	}
}

// keepalive writes a space to every session now and then, so that no
// server takes them for dead while they idle through long phases.
func (b *bench) keepalive(ctx context.Context) (stop func()) {
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(b.o.Keepalive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-quit:
				return
			case <-t.C:
				for _, s := range b.all() {
					_ = s.write([]byte{' '})
				}
			}
		}
	}()
	return func() { close(quit); <-ended }
}

// all returns every online session, the sender included.
func (b *bench) all() []*session {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.online)
	if b.sender != nil {
		out = append(out, b.sender)
	}
	return out
}

// identify asks the server what it is (XEP-0092, then the disco
// identity).
func (b *bench) identify() {
	s := b.online[0]
	srv := &b.res.Server
	if el, err := s.request(stanza.IQ(stanza.TypeGet, nextID(), b.o.Domain, stanza.New(nsVersion, "query")), 3*time.Second); err == nil {
		q := el.Child(nsVersion, "query")
		srv.Name, srv.Version = q.ChildText(nsVersion, "name"), q.ChildText(nsVersion, "version")
	}
	if srv.Name == "" {
		if el, err := s.request(stanza.IQ(stanza.TypeGet, nextID(), b.o.Domain, stanza.New(nsDiscoInfo, "query")), 3*time.Second); err == nil {
			for _, c := range el.Child(nsDiscoInfo, "query").Children {
				if c.Name.Local == "identity" && c.AttrValue("category") == "server" && c.AttrValue("name") != "" {
					srv.Name = c.AttrValue("name")
					break
				}
			}
		}
	}
	low := strings.ToLower(srv.Name)
	switch {
	case strings.Contains(low, "xpushd") || srv.Name == "" && b.api != nil:
		srv.Kind = "xpushd"
	case strings.Contains(low, "prosody"):
		srv.Kind = "prosody"
	case strings.Contains(low, "ejabberd"):
		srv.Kind = "ejabberd"
	case srv.Name != "":
		srv.Kind = srv.Name
	default:
		srv.Kind = "unknown"
	}
	if srv.Version == "" {
		srv.Version = b.o.ServerVersion
	}
	if srv.Kind == "xpushd" && srv.Version == "" && b.pid != 0 {
		// xpushd answers no XEP-0092: read the build information of its
		// binary (read, never run).
		srv.Version = binaryVersion(fmt.Sprintf("/proc/%d/exe", b.pid))
	}
	b.logf("server: %s %s", srv.Kind, srv.Version)
}

// idle waits with every session online, then reads the server's memory.
func (b *bench) idle(ctx context.Context, before meter, goBefore *goMem) error {
	n := len(b.online)
	b.logf("idle: %d sessions online, waiting %v", n, b.o.Idle)
	m := b.meter()
	select {
	case <-time.After(b.o.Idle):
	case <-ctx.Done():
		return fmt.Errorf("out of time (--timeout %v) in the idle phase", b.o.Timeout)
	}
	idle := &Idle{Seconds: time.Since(m.at).Seconds()}
	if self, err := readProc(os.Getpid()); err == nil {
		idle.ToolRSSKiB = self.RSSKiB
	}
	if before.srvOK {
		now, err := readProc(b.pid)
		if err != nil {
			return fmt.Errorf("read the server's /proc: %w", err)
		}
		idle.RSSBeforeKiB, idle.RSSAfterKiB = before.srv.RSSKiB, now.RSSKiB
		idle.RSSPerSessionKiB = float64(now.RSSKiB-before.srv.RSSKiB) / float64(n)
		idle.ServerCPU = (now.CPU - m.srv.CPU).Seconds()
		idle.ServerCPUTotal = now.CPU.Seconds()
	}
	if b.api != nil && goBefore != nil {
		idle.GoBefore, idle.GoAfter = goBefore, b.api.metrics(ctx)
	}
	b.res.Idle = idle
	b.logf("idle: server RSS %d → %d KiB: %.2f KiB per session", idle.RSSBeforeKiB, idle.RSSAfterKiB, idle.RSSPerSessionKiB)
	return nil
}

// notificationFor returns the headline message the sender sends in
// message mode: XEP-0066 url, and the id in the androidpn element that
// xpush agents dedupe on.
func notificationFor(id, stanzaID, to string) *stanza.Element {
	n := notification.Notification{ID: id, Title: "xpush-bench", Message: "benchmark " + id, URI: "https://example.invalid/bench/" + id}
	return n.AsMessage(stanza.TypeHeadline, stanzaID, "", to)
}

// latency sends one-to-one notifications one after the other.
func (b *bench) latency(ctx context.Context) {
	o := b.o
	l := &Latency{Mode: "message", Warmup: o.LatencyWarmup}
	if b.api != nil {
		l.Mode = "api"
	}
	b.logf("latency: %d samples (+%d warm-up), %s mode", o.LatencySamples, o.LatencyWarmup, l.Mode)
	var push, ack, post []time.Duration
	var errs errorCounts
	m := b.meter()
	for i := range o.LatencyWarmup + o.LatencySamples {
		if ctx.Err() != nil {
			errs.add(fmt.Errorf("out of time (--timeout %v)", o.Timeout))
			break
		}
		counted := i >= o.LatencyWarmup
		s := b.online[i%len(b.online)]
		id := b.runID + "-lat-" + strconv.Itoa(i)
		dPush, dAck, dPost, err := b.sample(ctx, s, id)
		if !counted {
			continue
		}
		l.Samples++
		switch {
		case errors.Is(err, errNotAcked):
			push, post = append(push, dPush), append(post, dPost)
			errs.add(err)
		case err != nil:
			l.Lost++
			errs.add(err)
		default:
			push = append(push, dPush)
			if b.api != nil {
				ack, post = append(ack, dAck), append(post, dPost)
			}
		}
	}
	b.track.cur.Store(nil)
	l.CPU = b.cpu(m)
	l.Push = distOf(push)
	if b.api != nil {
		a, p := distOf(ack), distOf(post)
		l.Ack, l.Post = &a, &p
		if n := o.LatencyWarmup + l.Samples; n > 0 {
			l.AckPolls = float64(b.polls.Load()) / float64(n)
		}
		if p := b.polls.Load(); p > 0 {
			l.AckPollMs = ms(time.Duration(b.pollTime.Load() / p))
		}
	}
	l.Errors = errs.snapshot()
	b.res.Latency = l
	b.logf("latency: push %s", distText(l.Push))
	if l.Ack != nil {
		b.logf("latency: push-to-ack %s", distText(*l.Ack))
	}
	if l.Errors != nil {
		b.logf("latency: errors: %s", summary(l.Errors))
	}
}

var errNotAcked = errors.New("received, but the API did not show it acked in time")

// sample sends one notification to s and returns how long until s had
// it and, through the API, until the API showed it acked, and how long
// the POST took.
func (b *bench) sample(ctx context.Context, s *session, id string) (push, ack, post time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.SampleTimeout)
	defer cancel()
	t := newTarget(id, 1, len(b.users), time.Now())
	b.track.cur.Store(t)
	t0 := time.Now()
	if b.api != nil {
		err = b.api.post(ctx, apiRequest{
			To: []string{s.user}, Title: "xpush-bench", Message: "latency " + id,
			URI: "https://example.invalid/bench/" + id, TTL: "10m", ID: id,
		})
		post = time.Since(t0)
	} else {
		err = b.sender.send(notificationFor(id, id, s.jid))
	}
	if err != nil {
		return 0, 0, post, err
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return 0, 0, post, fmt.Errorf("not received within %v", b.o.SampleTimeout)
	}
	if e := t.firstErr(); e != nil {
		return 0, 0, post, fmt.Errorf("refused: %w", e)
	}
	push = t.lastAt().Sub(t0)
	if b.api == nil {
		return push, 0, 0, nil
	}
	for {
		b.polls.Add(1)
		ps := time.Now()
		st, err := b.api.status(ctx, id)
		b.pollTime.Add(int64(time.Since(ps)))
		if err != nil {
			if ctx.Err() != nil {
				return push, 0, post, errNotAcked
			}
			return push, 0, post, err
		}
		if st.state(s.user) == "acked" {
			return push, time.Since(t0), post, nil
		}
		select {
		case <-ctx.Done():
			return push, 0, post, errNotAcked
		case <-time.After(b.o.AckPoll):
		}
	}
}

// broadcast sends rounds of one notification to every online session.
func (b *bench) broadcast(ctx context.Context) {
	o := b.o
	bc := &Broadcast{Mode: "message"}
	if b.api != nil {
		bc.Mode = "api"
	}
	b.logf("broadcast: %d rounds to %d sessions, %s mode", o.BroadcastRounds, len(b.online), bc.Mode)
	m := b.meter()
	for r := range o.BroadcastRounds {
		if ctx.Err() != nil {
			break
		}
		rd := b.round(ctx, b.runID+"-bc-"+strconv.Itoa(r))
		b.logf("broadcast: round %d: %d/%d in %.3fs: %.0f deliveries/s", r+1, rd.Delivered, rd.Recipients, rd.Seconds, rd.PerSec)
		bc.Rounds = append(bc.Rounds, rd)
	}
	b.track.cur.Store(nil)
	bc.CPU = b.cpu(m)
	rates := make([]float64, 0, len(bc.Rounds))
	for _, rd := range bc.Rounds {
		rates = append(rates, rd.PerSec)
	}
	if len(rates) > 0 {
		slices.Sort(rates)
		bc.DeliveriesPerSec = rates[(len(rates)-1)/2]
	}
	b.res.Broadcast = bc
}

// round is one broadcast.
func (b *bench) round(ctx context.Context, id string) Round {
	ctx, cancel := context.WithTimeout(ctx, b.o.RoundTimeout)
	defer cancel()
	n := len(b.online)
	rd := Round{Recipients: n}
	var acks0 float64
	if b.api != nil {
		if m := b.api.metrics(ctx); m != nil {
			acks0 = m.AcksTotal
		}
	}
	t := newTarget(id, n, len(b.users), time.Now())
	b.track.cur.Store(t)
	m := b.meter()
	t0 := m.at
	var err error
	if b.api != nil {
		err = b.api.post(ctx, apiRequest{
			All: true, Title: "xpush-bench", Message: "broadcast " + id,
			URI: "https://example.invalid/bench/" + id, TTL: "10m", ID: id,
		})
	} else {
		err = b.pipeline(id)
	}
	if err != nil {
		rd.Error = err.Error()
		return rd
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		rd.Error = fmt.Sprintf("not all delivered within %v", b.o.RoundTimeout)
	}
	rd.CPU = b.cpu(m)
	rd.Delivered = int(t.got.Load())
	if rd.Delivered > 0 {
		rd.FirstMs = ms(t.firstAt().Sub(t0))
		last := t.lastAt().Sub(t0)
		rd.Seconds = last.Seconds()
		rd.PerSec = perSecond(rd.Delivered, last)
	}
	if e := t.firstErr(); e != nil {
		rd.Error = fmt.Sprintf("%d refused: %v", t.refused.Load(), e)
	}
	if b.api != nil && rd.Delivered > 0 {
		b.waitAllAcked(ctx, id, t0, acks0, &rd)
	}
	return rd
}

// pipeline writes one headline per online session from the sender, in
// batches, as fast as the server reads them.
func (b *bench) pipeline(id string) error {
	const batch = 256
	var buf []byte
	for i, s := range b.online {
		buf = notificationFor(id, id+"-"+strconv.Itoa(i), s.jid).AppendXML(buf, stanza.NSClient)
		if (i+1)%batch == 0 || i == len(b.online)-1 {
			if err := b.sender.write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// waitAllAcked waits until every recipient that got the broadcast acked
// it, or the round's time is up. It watches xpushd_acks_total on
// /metrics, which costs the server little, and asks for the
// notification's state (which lists every account) only to confirm.
func (b *bench) waitAllAcked(ctx context.Context, id string, t0 time.Time, acks0 float64, rd *Round) {
	ours := make(map[string]bool, len(b.online))
	for _, s := range b.online {
		ours[s.user] = true
	}
	confirm := func() bool {
		st, err := b.api.status(ctx, id)
		if err != nil {
			return false
		}
		acked := 0
		for _, r := range st.Recipients {
			if ours[r.User] && r.State == "acked" {
				acked++
			}
		}
		rd.Acked = acked
		return acked >= rd.Delivered
	}
	for {
		m := b.api.metrics(ctx)
		if m == nil || m.AcksTotal-acks0 >= float64(rd.Delivered) {
			// No metrics: poll the state itself, less often.
			at := time.Now()
			if confirm() {
				rd.AckedSeconds = at.Sub(t0).Seconds()
				return
			}
		}
		wait := 25 * time.Millisecond
		if m == nil {
			wait = 250 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			confirm()
			return
		case <-time.After(wait):
		}
	}
}

// closeAll ends every session: a closing tag to each, a bounded wait for
// the readers, then the connections are cut.
func (b *bench) closeAll() {
	all := b.all()
	if len(all) == 0 {
		return
	}
	b.logf("closing %d sessions", len(all))
	closeTag := []byte(stream.CloseTag)
	for _, s := range all {
		_ = s.write(closeTag)
	}
	deadline := time.After(10 * time.Second)
	for _, s := range all {
		select {
		case <-s.done:
		case <-deadline:
			for _, s := range all {
				_ = s.nc.SetReadDeadline(time.Unix(1, 0))
			}
			for _, s := range all {
				<-s.done
			}
			return
		}
	}
}
