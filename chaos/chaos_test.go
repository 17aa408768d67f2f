package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/faultproxy"
	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
)

// noteTTL outlives any run: nothing may expire.
const noteTTL = "6h"

// Bounds of the phases around the window.
const (
	raceGoroutineBudget = 1000 // clients with -race; the detector allows 8,128 goroutines
	registerWorkers     = 8
	statusWorkers       = 8
	pollEvery           = 250 * time.Millisecond
)

// harness is one run: the server, the proxy, the clients and what they
// sent and got.
type harness struct {
	t      *testing.T
	p      plan
	srv    *xpushd
	proxy  *faultproxy.Proxy
	api    *apiClient
	ledger *ledger
	boxes  map[string]*inbox

	clients     []*client
	stopClients func() // ends the clients and waits for them
	listeners   []*listener

	phaseStart time.Time
	faults     faultCounts

	mu       sync.Mutex
	kinds    map[string]int // notifications accepted, by kind
	tries    int            // POSTs made, retries included
	bulkRuns int
}

// summary is the run's figures, logged and written with -chaos.report.
type summary struct {
	Mode          string         `json:"mode"`
	Seed          uint64         `json:"seed"`
	Race          bool           `json:"race"`
	Clients       int            `json:"clients"`
	Listeners     int            `json:"listeners"`
	Notifications map[string]int `json:"notifications"`
	Posts         int            `json:"posts"` // retries included
	Deliveries    int            `json:"deliveries_expected"`
	Delivered     int            `json:"delivered"`
	Lost          int            `json:"lost"`
	Duplicated    int            `json:"duplicated"`
	Unknown       int            `json:"unknown"`
	OutOfOrder    int            `json:"out_of_order"`
	NotAcked      int            `json:"not_acked"`
	WirePushes    int            `json:"wire_pushes"` // in-process clients, redeliveries included
	Redelivered   int            `json:"redelivered"` // wire pushes the clients dropped as seen
	Sessions      int            `json:"sessions"`    // sessions started by all clients
	Resumed       int            `json:"resumed"`     // of those, XEP-0198 resumptions
	Disconnects   int            `json:"disconnects"` // offline reports with an error, failed reconnects included
	Errors        map[string]int `json:"errors"`      // the most frequent of their errors
	Faults        *faultCounts   `json:"faults"`
	Window        string         `json:"window"`
	Settle        string         `json:"settle"`
	Duration      string         `json:"duration"`
	Command       string         `json:"command"`
}

func TestNoLoss(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIGKILL, SIGSTOP and addresses across 127.0.0.0/8: Linux only")
	}
	p := choosePlan()
	race := raceEnabled()
	if race && p.clients > raceGoroutineBudget {
		t.Fatalf("%d clients need more goroutines than the race detector allows: run the %s mode without -race", p.clients, p.name)
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos: %s mode, %d clients + %d xpush listen, seed %d (replay with -chaos.seed %d), race %v",
		p.name, p.clients, p.listeners, seed, seed, race)
	began := time.Now()
	deadline := began.Add(p.deadline)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	h := &harness{t: t, p: p, kinds: map[string]int{}}
	dir := t.TempDir()
	h.build(ctx, dir)
	h.setup(ctx, dir, r)

	// The window: senders and faults at once.
	evs := p.schedule(r)
	h.phaseStart = time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, p.senders+1)
	for i := range p.senders {
		sr := rand.New(rand.NewPCG(seed+uint64(i)+1, uint64(i)))
		wg.Go(func() { errc <- h.sender(ctx, i, sr) })
	}
	wg.Go(func() { errc <- h.inject(ctx, evs, r) })
	monCtx, stopMonitor := context.WithCancel(ctx)
	var monWG sync.WaitGroup
	monWG.Go(func() { h.monitor(monCtx) })
	defer monWG.Wait()
	defer stopMonitor()
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("during the window: %v", err)
		}
	}
	window := time.Since(h.phaseStart)
	if t.Failed() {
		h.teardown()
		t.Logf("faults:\n  %s", strings.Join(h.faults.Timeline, "\n  "))
		t.Fatalf("xpushd log, end:\n%s", h.srv.logTail(8<<10))
	}

	// The settling: everything delivered, then everything acked.
	settleStart := time.Now()
	settleBy := settleStart.Add(p.settle)
	if deadline.Before(settleBy) {
		settleBy = deadline
	}
	missingLeft := h.settle(ctx, settleBy)
	notAcked, wrongRecipients := h.serverStates(ctx, settleBy)
	settle := time.Since(settleStart)
	stopMonitor()
	monWG.Wait()
	h.checkStops()

	h.teardown()
	if probs, err := h.srv.logProblems(); err != nil {
		t.Errorf("reading the server log: %v", err)
	} else if probs != "" {
		t.Errorf("the server's log shows a race or a panic:\n%s", probs)
	}

	v := check(h.ledger, h.boxes)
	s := h.summarize(v, len(notAcked), seed, race, window, settle, time.Since(began))
	b, _ := json.MarshalIndent(s, "", "  ")
	t.Logf("chaos: summary:\n%s", b)
	if *reportFlag != "" {
		if err := os.WriteFile(*reportFlag, append(b, '\n'), 0o600); err != nil {
			t.Errorf("write the report: %v", err)
		}
	}
	if !v.ok() {
		t.Errorf("deliveries:\n%s", v.failures(50))
	}
	if missingLeft > 0 && v.ok() {
		t.Errorf("%d deliveries missing at the end of the settling, none lost in the verdict: a client got them late", missingLeft)
	}
	for _, w := range wrongRecipients {
		t.Errorf("server state: %s", w)
	}
	if len(notAcked) > 0 {
		t.Errorf("server states not acked (user:id=state): %d\n  %s", len(notAcked), strings.Join(notAcked[:min(50, len(notAcked))], "\n  "))
	}
	if t.Failed() {
		t.Logf("xpushd log, end:\n%s", h.srv.logTail(16<<10))
	}
}

// build compiles xpushd (with -race when this test has it) and the tray
// binary for xpush listen.
func (h *harness) build(ctx context.Context, dir string) {
	t := h.t
	root := repoRoot(t)
	var extra []string
	if raceEnabled() {
		extra = append(extra, "-race")
	}
	t0 := time.Now()
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := goBuild(bctx, root, filepath.Join(dir, "xpushd"), "./cmd/xpushd", extra...); err != nil {
		t.Fatal(err)
	}
	if h.p.listeners > 0 {
		// The tray binary, as users get it (cgo, Fyne): slow only when
		// the build cache is cold.
		if err := goBuild(bctx, root, filepath.Join(dir, "xpush"), "."); err != nil {
			if os.Getenv("XPUSH_INTEROP") == "1" {
				t.Fatal(err)
			}
			t.Logf("chaos: no xpush listen processes: the tray binary does not build here (XPUSH_INTEROP=1 makes this fatal): %v", err)
			h.p.listeners = 0
		}
	}
	t.Logf("chaos: built the binaries in %v", time.Since(t0).Round(time.Millisecond))
}

// setup starts the server, makes the accounts, and brings every client
// online.
func (h *harness) setup(ctx context.Context, dir string, r *rand.Rand) {
	t := h.t
	srv, err := newXpushd(filepath.Join(dir, "xpushd"), dir, r)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	t.Cleanup(srv.close)
	token, err := srv.admin(ctx, "token", "create", "--name", "chaos")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos: xpushd on c2s %s, http %s", srv.c2s, srv.http)
	h.api = newAPIClient(srv.http, token, h.p.senders+statusWorkers)

	var clientUsers, listenUsers []string
	for i := range h.p.clients {
		clientUsers = append(clientUsers, fmt.Sprintf("c%04d", i))
	}
	for i := range h.p.listeners {
		listenUsers = append(listenUsers, fmt.Sprintf("l%d", i))
	}
	accounts := slices.Concat(clientUsers, listenUsers)
	t0 := time.Now()
	if err := register(ctx, srv.c2s, accounts, registerWorkers); err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos: registered %d accounts in %v", len(accounts), time.Since(t0).Round(time.Millisecond))
	h.ledger = newLedger(accounts)
	h.boxes = make(map[string]*inbox, len(accounts))
	for _, u := range accounts {
		h.boxes[u] = newInbox(u)
	}

	// Each client dials from an address of its own, which the proxy
	// keeps: the server's per-address login limits see clients, as on a
	// real network, not one proxy.
	h.proxy, err = faultproxy.NewWith(srv.c2s, faultproxy.Options{KeepClientIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.proxy.Close() })

	clientCtx, cancelClients := context.WithCancel(context.Background())
	h.stopClients = func() {
		cancelClients()
		for _, c := range h.clients {
			<-c.done
		}
	}
	t.Cleanup(h.stopClients)
	t0 = time.Now()
	for i, u := range clientUsers {
		box := h.boxes[u]
		from := net.IPv4(127, 2, byte(i/250), byte(2+i%250))
		c, err := startClient(clientCtx, xmpp.Config{
			JID: u + "@" + domain, Server: h.proxy.Addr(), Password: passwordFunc(u),
			PingInterval: h.p.pingInterval, PingTimeout: h.p.pingTimeout,
			ConnectTimeout: h.p.connectTimeout,
			BackoffMin:     100 * time.Millisecond, BackoffMax: h.p.backoffMax,
			Dial: countingDial(box, from),
		}, box)
		if err != nil {
			t.Fatal(err)
		}
		h.clients = append(h.clients, c)
	}
	t.Cleanup(func() {
		for _, l := range h.listeners {
			l.kill()
		}
	})
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, u := range listenUsers {
		l, err := startListener(filepath.Join(dir, "xpush"), srv.c2s, home, h.boxes[u])
		if err != nil {
			t.Fatal(err)
		}
		h.listeners = append(h.listeners, l)
	}
	if err := h.waitOnline(ctx, accounts, time.Now().Add(time.Minute+time.Duration(len(accounts))*20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos: %d clients online in %v", len(accounts), time.Since(t0).Round(time.Millisecond))
}

// waitOnline waits until every account's client has been online once.
func (h *harness) waitOnline(ctx context.Context, users []string, by time.Time) error {
	for {
		var offline []string
		for _, u := range users {
			b := h.boxes[u]
			b.mu.Lock()
			if b.onlines == 0 {
				offline = append(offline, u)
			}
			b.mu.Unlock()
		}
		if len(offline) == 0 {
			return nil
		}
		if time.Now().After(by) {
			return fmt.Errorf("chaos: %d clients never came online, such as %v", len(offline), offline[:min(10, len(offline))])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// sender sends its share of notifications, one at a time and in order,
// spread over the window.
func (h *harness) sender(ctx context.Context, i int, r *rand.Rand) error {
	name := fmt.Sprintf("s%d", i)
	gap := h.p.window / time.Duration(h.p.perSender)
	for seq := 1; seq <= h.p.perSender; seq++ {
		n, req := h.compose(r, name, seq)
		if err := h.post(ctx, req, n); err != nil {
			return err
		}
		// On schedule, with jitter; late after a restart, it catches up.
		next := h.phaseStart.Add(time.Duration(seq)*gap + time.Duration(r.Int64N(int64(gap))) - gap/2)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(next)):
		}
	}
	return nil
}

// post sends req until the API accepted it and records n in the ledger.
func (h *harness) post(ctx context.Context, req api.Request, n *note) error {
	tries, err := h.api.send(ctx, req)
	h.mu.Lock()
	h.tries += tries
	if err == nil {
		h.kinds[n.kind]++
	}
	h.mu.Unlock()
	if err != nil {
		return err
	}
	h.ledger.add(n)
	return nil
}

// compose picks the next notification of a sender: to one account, to a
// list, or to everyone.
func (h *harness) compose(r *rand.Rand, sender string, seq int) (*note, api.Request) {
	n := &note{id: fmt.Sprintf("%s-%d", sender, seq), sender: sender, seq: seq}
	accounts := h.ledger.accounts
	pick := func() string {
		// The listeners get a larger share than their number.
		if len(h.listeners) > 0 && r.Float64() < 0.15 {
			return h.listeners[r.IntN(len(h.listeners))].user
		}
		return accounts[r.IntN(len(accounts))]
	}
	switch x := r.Float64(); {
	case x < h.p.allShare:
		n.kind = kindAll
	case x < h.p.allShare+h.p.singleShare:
		n.kind = kindSingle
		n.to = []string{pick()}
	default:
		n.kind = kindList
		size := 2 + r.IntN(max(1, min(h.p.listMax, len(accounts))-1))
		seen := map[string]bool{}
		for len(n.to) < size && len(seen) < len(accounts) {
			if u := pick(); !seen[u] {
				seen[u] = true
				n.to = append(n.to, u)
			}
		}
	}
	req := api.Request{
		ID: n.id, To: n.to, All: n.to == nil, TTL: noteTTL,
		Title:   fmt.Sprintf("chaos %s #%d", sender, seq),
		Message: fmt.Sprintf("%s notification %d of sender %s", n.kind, seq, sender),
	}
	if r.IntN(2) == 0 {
		req.URI = "https://example.org/chaos/" + n.id
	}
	return n, req
}

// monitor adds a line to the timeline now and then: clients online,
// connections through the proxy, deliveries missing so far.
func (h *harness) monitor(ctx context.Context) {
	every := max(5*time.Second, h.p.window/40)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		online := 0
		for _, c := range h.clients {
			if st, _ := c.c.State(); st == xmpp.StateOnline {
				online++
			}
		}
		n, some := missing(h.ledger.expected(), h.boxes, 3)
		h.faults.log(h.phaseStart, "monitor: %d/%d in-process clients online, %d proxied connections, %d deliveries missing %v",
			online, len(h.clients), h.proxy.Count(), n, some)
	}
}

// settle waits until every client has every notification addressed to
// it, or until by. It returns how many deliveries are still missing.
func (h *harness) settle(ctx context.Context, by time.Time) int {
	want := h.ledger.expected()
	lastLog := time.Now()
	for {
		n, some := missing(want, h.boxes, 10)
		if n == 0 {
			return 0
		}
		if time.Now().After(by) || ctx.Err() != nil {
			h.t.Logf("chaos: %d deliveries still missing after the settling, such as %s", n, h.describe(ctx, some))
			h.logClients(some)
			return n
		}
		if time.Since(lastLog) > 10*time.Second {
			h.t.Logf("chaos: settling: %d deliveries missing, such as %s", n, h.describe(ctx, some))
			h.logClients(some)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

// logClients logs how the clients of ds fared: sessions, errors.
func (h *harness) logClients(ds []delivery) {
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.user] {
			continue
		}
		seen[d.user] = true
		b := h.boxes[d.user]
		b.mu.Lock()
		h.t.Logf("chaos: %s: %d sessions (%d resumed), %d errors, last offline %s, last online %s; errors %v",
			d.user, b.onlines, b.resumed, b.offline, b.lastOffline.Format("15:04:05.000"), b.lastOnline.Format("15:04:05.000"), b.errs)
		b.mu.Unlock()
		for _, l := range h.listeners {
			if l.user == d.user {
				h.t.Logf("chaos: %s stderr:\n%s", l.user, l.stderr)
			}
		}
	}
}

// describe returns the deliveries with the server's state of each.
func (h *harness) describe(ctx context.Context, ds []delivery) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []string
	for _, d := range ds {
		state := "?"
		if st, err := h.api.status(ctx, d.id); err != nil {
			state = err.Error()
		} else {
			for _, rc := range st.Recipients {
				if rc.User == d.user {
					state = rc.State + " since " + rc.Updated.Format("15:04:05.000")
				}
			}
		}
		out = append(out, fmt.Sprintf("%s (%s)", d, state))
	}
	return strings.Join(out, ", ")
}

// serverStates asks the API about every notification until every
// recipient's state is acked, or until by. It returns the deliveries not
// acked (user:id=state) and the notifications whose recipients differ
// from those sent to.
func (h *harness) serverStates(ctx context.Context, by time.Time) (notAcked, wrong []string) {
	pending := h.ledger.all()
	for round := 0; len(pending) > 0; round++ {
		var (
			mu   sync.Mutex
			next []*note
			wg   sync.WaitGroup
		)
		notAcked = nil
		jobs := make(chan *note)
		for range statusWorkers {
			wg.Go(func() {
				for n := range jobs {
					st, err := h.api.status(ctx, n.id)
					mu.Lock()
					switch {
					case err != nil:
						wrong = append(wrong, err.Error())
					default:
						bad, diff := h.compareStatus(n, st)
						if diff != "" {
							wrong = append(wrong, diff)
						} else if len(bad) > 0 {
							notAcked = append(notAcked, bad...)
							next = append(next, n)
						}
					}
					mu.Unlock()
				}
			})
		}
		for _, n := range pending {
			jobs <- n
		}
		close(jobs)
		wg.Wait()
		pending = next
		if len(pending) == 0 || len(wrong) > 0 || time.Now().After(by) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	slices.Sort(notAcked)
	slices.Sort(wrong)
	return notAcked, wrong
}

// compareStatus checks the API's recipients of n against the ledger's and
// returns those not acked (user:id=state), or a description of a
// mismatch.
func (h *harness) compareStatus(n *note, st api.Status) (notAcked []string, diff string) {
	want := h.ledger.recipients(n)
	got := make([]string, 0, len(st.Recipients))
	for _, rc := range st.Recipients {
		got = append(got, rc.User)
		if rc.State != store.StateAcked {
			notAcked = append(notAcked, fmt.Sprintf("%s:%s=%s", rc.User, n.id, rc.State))
		}
	}
	w := slices.Clone(want)
	slices.Sort(w)
	slices.Sort(got)
	if !slices.Equal(w, got) || st.All != (n.to == nil) {
		return nil, fmt.Sprintf("%s: the API lists %d recipients (all=%v), %d were sent to (all=%v)", n.id, len(got), st.All, len(w), n.to == nil)
	}
	return notAcked, ""
}

// checkStops wants each SIGSTOPped listener to have noticed the dead
// connection after SIGCONT and come online again.
func (h *harness) checkStops() {
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	for i := range h.faults.Stops {
		rec := &h.faults.Stops[i]
		var l *listener
		for _, x := range h.listeners {
			if x.user == rec.User {
				l = x
			}
		}
		offline, online := l.after(rec.Cont)
		switch {
		case !rec.Online && online != nil:
			// Offline (between a kill and a restart) when stopped:
			// nothing to notice, only to come back.
			rec.Noticed = "offline when stopped"
			rec.Reonline = online.at.Sub(rec.Cont)
		case !rec.Online:
			h.t.Errorf("%s, offline when stopped, never came online after SIGCONT at %s\n%s", rec.User, rec.Cont.Format("15:04:05.000"), l.stderr)
		case offline == nil && online != nil:
			h.t.Errorf("%s after SIGCONT at %s: online again without having noticed the dead connection: %q",
				rec.User, rec.Cont.Format("15:04:05.000"), online.line)
		case offline == nil:
			h.t.Errorf("%s never noticed after SIGCONT at %s that the server had given its connection up\n%s",
				rec.User, rec.Cont.Format("15:04:05.000"), l.stderr)
		case online == nil:
			h.t.Errorf("%s noticed the dead connection (%q) but never came online again\n%s", rec.User, offline.line, l.stderr)
		default:
			rec.Noticed = strings.TrimPrefix(offline.line, "xpush listen: ")
			rec.Reonline = online.at.Sub(rec.Cont)
		}
	}
}

// teardown stops the clients, the listeners, the proxy and the server,
// in that order; errors fail the test.
func (h *harness) teardown() {
	t := h.t
	h.stopClients()
	var wg sync.WaitGroup
	for _, l := range h.listeners {
		wg.Go(func() {
			if err := l.stop(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// The proxy closes with its cleanup.
	if err := h.srv.stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Error(err)
	}
}

// summarize gathers the figures of the run.
func (h *harness) summarize(v verdict, notAcked int, seed uint64, race bool, window, settle, total time.Duration) summary {
	s := summary{
		Mode: h.p.name, Seed: seed, Race: race, Clients: h.p.clients, Listeners: h.p.listeners,
		Notifications: h.kinds, Posts: h.tries,
		Deliveries: v.expected, Delivered: v.delivered, Lost: len(v.lost), Duplicated: len(v.dups),
		Unknown: len(v.unknown), OutOfOrder: len(v.disorder), NotAcked: notAcked,
		Faults: &h.faults,
		Window: window.Round(time.Second).String(), Settle: settle.Round(time.Second).String(),
		Duration: total.Round(time.Second).String(),
		Command:  strings.Join(os.Args, " "),
	}
	inProcess := 0
	for _, c := range h.clients {
		b := c.box
		b.mu.Lock()
		s.WirePushes += b.wire
		inProcess += len(b.first)
		b.mu.Unlock()
	}
	s.Redelivered = s.WirePushes - inProcess
	errs := map[string]int{}
	for _, b := range h.boxes {
		b.mu.Lock()
		s.Sessions += b.onlines
		s.Resumed += b.resumed
		s.Disconnects += b.offline
		for e, n := range b.errs {
			errs[e] += n
		}
		b.mu.Unlock()
	}
	kinds := sortedKeys(errs)
	slices.SortStableFunc(kinds, func(a, b string) int { return errs[b] - errs[a] })
	s.Errors = map[string]int{}
	for _, e := range kinds[:min(len(kinds), 15)] {
		s.Errors[e] = errs[e]
	}
	return s
}
