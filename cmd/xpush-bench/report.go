package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const reportUsage = `usage: xpush-bench report [--md FILE] [--charts DIR] [--command CMD] RESULT.json...

Writes the results of several runs (one per server and size, as
scripts/bench-compare.sh makes them) side by side: a Markdown page with
the table, what each column measures for each server, the issue's
targets, the machine and the command, and PNG bar charts with the
servers side by side per size. Without --md the page goes to stdout.

`

// reportOptions are the flags of xpush-bench report.
type reportOptions struct {
	md      string
	charts  string
	command string
	files   []string
}

func parseReport(args []string, stderr io.Writer) (reportOptions, error) {
	var o reportOptions
	fs := flag.NewFlagSet("xpush-bench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, reportUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.md, "md", "", "Markdown `file` to write; empty: stdout")
	fs.StringVar(&o.charts, "charts", "", "`directory` for the PNG charts; empty: no charts")
	fs.StringVar(&o.command, "command", "", "the `command` that produced the results, quoted in the page")
	// Flags may come before or after the files. Each pass takes one
	// file, so len(args) bounds the loop.
	for range len(args) + 1 {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		o.files = append(o.files, args[0])
		args = args[1:]
	}
	if len(o.files) == 0 {
		return o, fmt.Errorf("%w: report needs at least one result file", errUsage)
	}
	if o.md == "" && o.charts != "" {
		return o, fmt.Errorf("%w: --charts goes with --md (the page links the charts)", errUsage)
	}
	return o, nil
}

func reportCmd(args []string, stdout, stderr io.Writer) error {
	o, err := parseReport(args, stderr)
	if err != nil {
		return err
	}
	// Links from the page are relative to its directory.
	pageDir := ""
	if o.md != "" {
		if pageDir, err = filepath.Abs(filepath.Dir(o.md)); err != nil {
			return err
		}
	}
	relLink := func(path string) (string, error) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		rel, err := filepath.Rel(pageDir, abs)
		return filepath.ToSlash(rel), err
	}
	rs := make([]*Result, 0, len(o.files))
	for _, f := range o.files {
		r, err := readResult(f)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	rep := newReport(rs, o.command)
	var charts []chartFile
	if o.charts != "" {
		if err := os.MkdirAll(o.charts, 0o755); err != nil {
			return err
		}
		if charts, err = writeCharts(o.charts, rep); err != nil {
			return fmt.Errorf("charts: %w", err)
		}
		for i := range charts {
			if charts[i].link, err = relLink(filepath.Join(o.charts, charts[i].name)); err != nil {
				return err
			}
		}
	}
	if o.md != "" {
		for _, f := range o.files {
			l, err := relLink(f)
			if err != nil {
				return err
			}
			rep.resultLinks = append(rep.resultLinks, l)
		}
	}
	var b strings.Builder
	rep.markdown(&b, charts)
	if o.md == "" {
		_, err = io.WriteString(stdout, b.String())
		return err
	}
	if err := os.WriteFile(o.md, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s", o.md)
	if len(charts) > 0 {
		fmt.Fprintf(stdout, " and %d charts in %s", len(charts), o.charts)
	}
	fmt.Fprintln(stdout)
	return nil
}

// report is the results of one comparison, sorted by size and server.
type report struct {
	runs        []*Result
	command     string
	sizes       []int    // ascending
	kinds       []string // in serverOrder
	resultLinks []string // the result files, relative to the page
}

// serverOrder is the order of servers in the table and the charts.
var serverOrder = []string{"xpushd", "prosody", "ejabberd"}

func kindRank(kind string) int {
	if i := slices.Index(serverOrder, kind); i >= 0 {
		return i
	}
	return len(serverOrder)
}

func newReport(rs []*Result, command string) *report {
	rep := &report{runs: slices.Clone(rs), command: command}
	slices.SortStableFunc(rep.runs, func(a, b *Result) int {
		if a.Sessions != b.Sessions {
			return a.Sessions - b.Sessions
		}
		if d := kindRank(a.Server.Kind) - kindRank(b.Server.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.Server.Kind, b.Server.Kind)
	})
	for _, r := range rep.runs {
		if !slices.Contains(rep.sizes, r.Sessions) {
			rep.sizes = append(rep.sizes, r.Sessions)
		}
		if !slices.Contains(rep.kinds, r.Server.Kind) {
			rep.kinds = append(rep.kinds, r.Server.Kind)
		}
	}
	slices.SortStableFunc(rep.kinds, func(a, b string) int {
		if d := kindRank(a) - kindRank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return rep
}

// find returns the run of kind at n sessions, nil when there is none.
func (rep *report) find(kind string, n int) *Result {
	for _, r := range rep.runs {
		if r.Server.Kind == kind && r.Sessions == n {
			return r
		}
	}
	return nil
}

// serverName is how the page names a kind of server.
func serverName(kind string) string {
	switch kind {
	case "prosody":
		return "Prosody"
	case "":
		return "unknown"
	}
	return kind
}

// The figures of the table and the charts. Each returns ok=false when
// the run has no such number.

// rssPerSession has no figure when the RSS did not grow: the server
// then gave back more memory than the sessions took (see notes).
func rssPerSession(r *Result) (float64, bool) {
	if i := r.Idle; i != nil && i.RSSAfterKiB > 0 && r.Online > 0 && i.RSSPerSessionKiB > 0 {
		return i.RSSPerSessionKiB, true
	}
	return 0, false
}

func loginRate(r *Result) (float64, bool) {
	if l := r.Logins; l != nil && l.OK > 0 {
		return l.PerSec, true
	}
	return 0, false
}

func pushP50(r *Result) (float64, bool) {
	if l := r.Latency; l != nil && l.Push.N > 0 {
		return l.Push.P50, true
	}
	return 0, false
}

func pushP99(r *Result) (float64, bool) {
	if l := r.Latency; l != nil && l.Push.N > 0 {
		return l.Push.P99, true
	}
	return 0, false
}

func broadcastRate(r *Result) (float64, bool) {
	if b := r.Broadcast; b != nil && b.DeliveriesPerSec > 0 {
		return b.DeliveriesPerSec, true
	}
	return 0, false
}

// failed says why a run has no figures at all, "" when it has some.
func failed(r *Result) string {
	switch {
	case r.Skipped != "":
		return "skipped: " + r.Skipped
	case r.Logins == nil || r.Logins.OK == 0:
		msg := "no session logged in"
		if len(r.Errors) > 0 {
			msg = r.Errors[0]
		}
		if l := r.Logins; l != nil && len(l.Errors) > 0 {
			msg += " (" + summary(l.Errors) + ")"
		}
		return "failed: " + msg
	}
	return ""
}

// notes lists what a reader must know about a run's figures: what went
// wrong and where other processes took much of the machine.
func notes(r *Result) []string {
	var n []string
	if f := failed(r); f != "" {
		return []string{oneLine(f)}
	}
	if i := r.Idle; i != nil && i.RSSAfterKiB > 0 && i.RSSAfterKiB <= i.RSSBeforeKiB {
		n = append(n, fmt.Sprintf("the server's RSS fell from %s to %s KiB while the sessions logged in: "+
			"it gave back memory it held before, so there is no per-session figure", thousands(float64(i.RSSBeforeKiB)), thousands(float64(i.RSSAfterKiB))))
	}
	if a := r.Accounts; a != nil && a.Failed > 0 {
		n = append(n, fmt.Sprintf("%d registrations failed", a.Failed))
	}
	if l := r.Logins; l.Failed > 0 {
		n = append(n, fmt.Sprintf("%d of %s logins failed", l.Failed, thousands(float64(r.Sessions))))
	}
	if l := r.Latency; l != nil {
		if l.Lost > 0 {
			n = append(n, fmt.Sprintf("%d of %d latency samples lost", l.Lost, l.Samples))
		}
		if l.Ack != nil && l.Ack.N < l.Samples-l.Lost {
			n = append(n, fmt.Sprintf("%d samples not acked in time", l.Samples-l.Lost-l.Ack.N))
		}
	}
	if b := r.Broadcast; b != nil {
		for i, rd := range b.Rounds {
			if rd.Delivered < rd.Recipients {
				n = append(n, fmt.Sprintf("broadcast round %d: %d of %d delivered", i+1, rd.Delivered, rd.Recipients))
			}
		}
	}
	busy := busyPhases(r)
	if len(busy) > 0 {
		n = append(n, "other processes' share of the CPU: "+strings.Join(busy, ", "))
	}
	if len(r.Errors) > 0 && len(n) == 0 {
		n = append(n, oneLine(r.Errors[0]))
	}
	return n
}

// busyPhases lists the phases of r where other processes used a noisy
// share of the CPU, as "logins 40%"; nil when there were none.
func busyPhases(r *Result) []string {
	type phaseCPU struct {
		name string
		cpu  CPU
	}
	var phases []phaseCPU
	if l := r.Logins; l != nil {
		phases = append(phases, phaseCPU{"logins", l.CPU})
	}
	if l := r.Latency; l != nil {
		phases = append(phases, phaseCPU{"latency", l.CPU})
	}
	if b := r.Broadcast; b != nil {
		phases = append(phases, phaseCPU{"broadcast", b.CPU})
	}
	var busy []string
	for _, p := range phases {
		if p.cpu.OtherShare >= noisy {
			busy = append(busy, fmt.Sprintf("%s %.0f%%", p.name, 100*p.cpu.OtherShare))
		}
	}
	return busy
}

// oneLine makes s fit a table cell: one line, no pipes, at most 200
// characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}

// thousands formats v rounded to a whole number with thousands
// separators: 12,345.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// millis formats a latency: three significant digits down to 0.01 ms.
func millis(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

const na = "n/a"

// row is one line of the table.
func row(r *Result) []string {
	name := serverName(r.Server.Kind)
	if f := failed(r); f != "" {
		return []string{name, thousands(float64(r.Sessions)), "—", "—", "—", "—", "—", loadText(r), strings.Join(notes(r), "; ")}
	}
	cells := []string{name, sessionsText(r)}
	if v, ok := rssPerSession(r); ok {
		cells = append(cells, strconv.FormatFloat(v, 'f', 1, 64)+" KiB")
	} else {
		cells = append(cells, na)
	}
	l := r.Logins
	cells = append(cells, fmt.Sprintf("%s (%s)", thousands(l.PerSec), l.Mechanism))
	if lat := r.Latency; lat != nil && lat.Push.N > 0 {
		cells = append(cells, fmt.Sprintf("%s / %s ms", millis(lat.Push.P50), millis(lat.Push.P99)))
		if lat.Ack != nil && lat.Ack.N > 0 {
			cells = append(cells, fmt.Sprintf("%s / %s ms", millis(lat.Ack.P50), millis(lat.Ack.P99)))
		} else {
			cells = append(cells, na)
		}
	} else {
		cells = append(cells, na, na)
	}
	if v, ok := broadcastRate(r); ok {
		cells = append(cells, thousands(v))
	} else {
		cells = append(cells, na)
	}
	return append(cells, loadText(r), strings.Join(notes(r), "; "))
}

func sessionsText(r *Result) string {
	if r.Online == r.Sessions {
		return thousands(float64(r.Sessions))
	}
	return fmt.Sprintf("%s (%s online)", thousands(float64(r.Sessions)), thousands(float64(r.Online)))
}

func loadText(r *Result) string {
	if r.Skipped != "" {
		return "—"
	}
	if r.LoadAvg == [2]float64{} {
		return "?"
	}
	return fmt.Sprintf("%.1f → %.1f", r.LoadAvg[0], r.LoadAvg[1])
}

// chartFile is a chart written by writeCharts.
type chartFile struct {
	name  string // file name in the charts directory
	title string
	link  string // relative to the page
}

// markdown writes the page.
func (rep *report) markdown(w *strings.Builder, charts []chartFile) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("# Benchmarks: xpushd, Prosody and ejabberd side by side")
	p("")
	p("<!-- Written by xpush-bench report from the results listed at the end; edits are lost. -->")
	p("")
	p("The load tool (`cmd/xpush-bench`) against each server in turn, on the same machine, "+
		"all traffic on loopback (127.0.0.0/8), %s, accounts registered in-band, SCRAM logins, "+
		"the tool sharing the CPU cores with the server. Each server ran alone with a fresh data directory, "+
		"the same open-file limit and logging at warn.", rep.transport())
	p("")
	if rep.command != "" {
		p("Made with:")
		p("")
		p("```sh")
		p("%s", rep.command)
		p("```")
		p("")
	}
	p("| server | sessions | RSS per idle session | logins/s (SASL) | push p50 / p99 ¹ | push-to-ack p50 / p99 ² | broadcast deliveries/s ³ | load avg (start → end) | notes |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rep.runs {
		p("| %s |", strings.Join(row(r), " | "))
	}
	p("")
	if len(charts) > 0 {
		for _, c := range charts {
			if c.name == summaryChart {
				p("![%s](%s)", c.title, c.link)
				p("")
			}
		}
	}
	rep.measures(p)
	rep.targets(p)
	rep.machine(p)
	if len(charts) > 0 {
		p("## Charts")
		p("")
		for _, c := range charts {
			if c.name != summaryChart {
				p("![%s](%s)", c.title, c.link)
				p("")
			}
		}
	}
	if len(rep.resultLinks) > 0 {
		p("## Results")
		p("")
		p("Every figure above comes from these files, the JSON that `xpush-bench run` wrote " +
			"(with the phases' CPU split between server, tool and other processes); the tool's own table of each " +
			"run is beside it as .txt. `xpush-bench compare OLD.json NEW.json` prints the ratio per figure between two runs.")
		p("")
		for _, l := range rep.resultLinks {
			p("- [%s](%s)", filepath.Base(l), l)
		}
		p("")
	}
}

// transport says how the sessions connected: plain TCP or STARTTLS.
func (rep *report) transport() string {
	var plain, tls int
	for _, r := range rep.runs {
		switch {
		case r.Tool != "xpush-bench":
		case r.Server.TLS:
			tls++
		default:
			plain++
		}
	}
	switch {
	case tls == 0:
		return "plain TCP"
	case plain == 0:
		return "STARTTLS (TLS 1.2 or later) on every session"
	}
	return fmt.Sprintf("STARTTLS in %d runs and plain TCP in %d (see each result's server.tls)", tls, plain)
}

// measures explains each column, server by server where they differ.
func (rep *report) measures(p func(string, ...any)) {
	p("## What each column measures")
	p("")
	p("- **RSS per idle session**: (the server's VmRSS with every session logged in and idle for the run's idle time − its VmRSS before the logins) / sessions, " +
		"from /proc. scripts/bench-compare.sh registers the accounts, restarts the server on the same data and waits until its RSS holds still, " +
		"so \"before\" is a fresh server that holds the accounts (and has answered one SCRAM salt probe per account). " +
		"The Erlang VM and Lua hold freed memory differently from Go's runtime; all three are read the same way.")
	p("- **logins/s**: sessions / wall time of the login phase, 64 logins in flight; one login is TCP connect, stream, SASL (the strongest SCRAM the server offers), " +
		"stream restart, resource bind and initial presence. The tool derives each account's SCRAM key before the timed phase, " +
		"so the time is the server's side of SCRAM, not the tool's PBKDF2. Prosody 0.12 offers SCRAM-SHA-1 only; xpushd and ejabberd SCRAM-SHA-256.")
	p("- **¹ push p50 / p99**, one sample at a time, each to the next session, clock of the tool for both ends:")
	p("  - *xpushd*: `POST /api/v1/notifications` for one user → that user's session has the notification IQ. " +
		"It includes the HTTP request and xpushd storing the notification durably (SQLite) before it sends it.")
	p("  - *Prosody, ejabberd*: a `<message type=\"headline\">` with an XEP-0066 URL, written by a second logged-in session (the sender) " +
		"to the recipient's full JID → the recipient's session has it. The server routes it in memory; nothing is stored, " +
		"because the recipient is online. These servers have no HTTP push API.")
	p("- **² push-to-ack p50 / p99** (xpushd only): the same POST → `GET /api/v1/notifications/{id}` says acked, " +
		"that is the client's IQ result came back and xpushd recorded it (polled every 0.5 ms). " +
		"Prosody and ejabberd keep no delivery state to ask, hence n/a.")
	p("- **³ broadcast deliveries/s**: sessions / (send → the last session has it), the median of the rounds:")
	p("  - *xpushd*: one `POST {\"all\": true}`; xpushd stores a row per recipient and sends each online session the IQ.")
	p("  - *Prosody, ejabberd*: the sender writes one headline per session, as fast as the server reads them; " +
		"no server-side fan-out facility is used, so the server parses and routes N stanzas.")
	p("- **load avg**: the machine's 1-minute load average when the run started and ended; the tool and the server "+
		"add up to about 1–2 of it on their own. **notes** name failures, and any phase where other processes used "+
		"%.0f%% or more of the CPU (those figures are noisy).", 100*noisy)
	p("")
}

// targets checks xpushd against the targets, size by size.
func (rep *report) targets(p func(string, ...any)) {
	type target struct {
		name   string
		get    func(*Result) (float64, bool)
		higher bool
		factor float64 // xpushd must be better than best×factor
		unit   string
		word   string
	}
	ts := []target{
		{"RSS per idle session", rssPerSession, false, 0.5, "KiB", "at most half of the best other"},
		{"logins/s", loginRate, true, 1, "/s", "higher than both"},
		{"push p99", pushP99, false, 1, "ms", "lower than both"},
		{"broadcast deliveries/s", broadcastRate, true, 1, "/s", "higher than both"},
	}
	var lines, busy []string
	for _, n := range rep.sizes {
		x := rep.find("xpushd", n)
		if x == nil || failed(x) != "" {
			continue
		}
		for _, t := range ts {
			xv, ok := t.get(x)
			if !ok {
				continue
			}
			best, bestKind := 0.0, ""
			for _, k := range rep.kinds {
				r := rep.find(k, n)
				if k == "xpushd" || r == nil || failed(r) != "" {
					continue
				}
				v, ok := t.get(r)
				if !ok {
					continue
				}
				if bestKind == "" || t.higher && v > best || !t.higher && v < best {
					best, bestKind = v, k
				}
			}
			if bestKind == "" {
				continue
			}
			goal := best * t.factor
			met := xv <= goal
			if t.higher {
				met = xv > goal
			}
			verdict := "missed"
			if met {
				verdict = "met"
			}
			format := figureText
			if t.unit == "KiB" {
				format = func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %s %s | %s %s (%s) | %s | %s |",
				thousands(float64(n)), t.name, format(xv), t.unit, format(best), t.unit, serverName(bestKind), t.word, verdict))
		}
		for _, k := range rep.kinds {
			if r := rep.find(k, n); r != nil && failed(r) == "" && busyPhases(r) != nil {
				busy = append(busy, serverName(k)+" at "+thousands(float64(n)))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	p("## xpushd against the targets of issue 6")
	p("")
	p("On this machine, against the best of the other servers at the same size. The push latencies " +
		"are not the same path (see ¹): xpushd's includes an HTTP request and a durable write.")
	p("")
	if len(busy) > 0 {
		p("Other processes used %.0f%% or more of the CPU during some phases of %s (see the notes in the table). "+
			"Such a run favours whichever server ran while the machine was quieter: these verdicts hold for this run only; "+
			"run the same command on a quiet machine before relying on them.", 100*noisy, strings.Join(busy, ", "))
		p("")
	}
	p("| sessions | figure | xpushd | best other | target | verdict |")
	p("| ---: | --- | ---: | ---: | --- | --- |")
	for _, l := range lines {
		p("%s", l)
	}
	p("")
}

func figureText(v float64) string {
	if v >= 100 {
		return thousands(v)
	}
	return millis(v)
}

// machine describes where the runs were made.
func (rep *report) machine(p func(string, ...any)) {
	p("## Machine")
	p("")
	var first, last time.Time
	var cpus []int
	var gos, plats, models, kernels, mems []string
	loadMin, loadMax := math.Inf(1), math.Inf(-1)
	for _, r := range rep.runs {
		if r.Tool != "xpush-bench" {
			continue // a note written in place of a run
		}
		if first.IsZero() || r.Date.Before(first) {
			first = r.Date
		}
		if end := r.Date.Add(time.Duration(r.Seconds * float64(time.Second))); end.After(last) {
			last = end
		}
		cpus = appendNew(cpus, r.CPUs)
		gos = appendNew(gos, r.GoVersion)
		plats = appendNew(plats, r.Platform)
		if m := r.Machine; m != nil {
			models = appendNew(models, m.CPUModel)
			kernels = appendNew(kernels, m.Kernel)
			if m.MemTotalKiB > 0 {
				mems = appendNew(mems, fmt.Sprintf("%.1f GiB", float64(m.MemTotalKiB)/(1<<20)))
			}
		}
		for _, v := range r.LoadAvg {
			loadMin, loadMax = min(loadMin, v), max(loadMax, v)
		}
	}
	if first.IsZero() {
		p("No run was made.")
		p("")
		return
	}
	cpuText := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(cpus)), ", "), "[]")
	p("- CPUs: %s (%s), memory %s, %s, kernel %s",
		cpuText, orUnknown(models), orUnknown(mems), orUnknown(plats), orUnknown(kernels))
	p("- Go: %s (the tool and xpushd)", orUnknown(gos))
	var vers []string
	for _, k := range rep.kinds {
		v := ""
		for _, r := range rep.runs {
			if r.Server.Kind == k && r.Server.Version != "" {
				v = r.Server.Version
				break
			}
		}
		if v == "" {
			v = "version unknown"
		}
		vers = append(vers, fmt.Sprintf("%s %s", serverName(k), v))
	}
	p("- Servers: %s", strings.Join(vers, "; "))
	p("- Runs: %s to %s UTC, one after the other; 1-minute load average between %.1f and %.1f",
		first.UTC().Format("2006-01-02 15:04"), last.UTC().Format("15:04"), loadMin, loadMax)
	var nf []string
	for _, r := range rep.runs {
		if r.Tool == "xpush-bench" {
			nf = appendNew(nf, fmt.Sprintf("%d", r.NoFile.Soft))
		}
	}
	p("- Open-file limit of the servers and the tool: %s", orUnknown(nf))
	p("")
}

func appendNew[T comparable](s []T, v T) []T {
	var zero T
	if v == zero || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func orUnknown(s []string) string {
	if len(s) == 0 {
		return "unknown"
	}
	return strings.Join(s, " / ")
}

// errNoFigures is returned by writeCharts when no run has a figure.
var errNoFigures = errors.New("no run has figures to chart")
