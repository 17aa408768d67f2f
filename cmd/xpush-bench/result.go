package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Result is the JSON that run writes and compare reads. Durations are in
// seconds (_s) or milliseconds (_ms), memory in KiB.
type Result struct {
	Tool      string    `json:"tool"`
	Date      time.Time `json:"date"`
	Command   []string  `json:"command"`
	GoVersion string    `json:"go_version"`
	Platform  string    `json:"platform"`
	CPUs      int       `json:"cpus"`
	// LoadAvg is the 1-minute load average at the start and the end.
	LoadAvg   [2]float64 `json:"loadavg"`
	Machine   *Machine   `json:"machine,omitempty"`
	Server    ServerInfo `json:"server"`
	Sessions  int        `json:"sessions"` // asked for
	Online    int        `json:"online"`   // logged in when the idle phase began
	Sources   []string   `json:"sources"`
	NoFile    NoFile     `json:"nofile"`
	Accounts  *Accounts  `json:"accounts,omitempty"`
	Prederive *Prederive `json:"prederive,omitempty"`
	Logins    *Logins    `json:"logins,omitempty"`
	Idle      *Idle      `json:"idle,omitempty"`
	Latency   *Latency   `json:"latency,omitempty"`
	Broadcast *Broadcast `json:"broadcast,omitempty"`
	Seconds   float64    `json:"seconds"`
	Errors    []string   `json:"errors,omitempty"`
	// Skipped says why this run was not made (a result that
	// scripts/bench-compare.sh writes in its place).
	Skipped string `json:"skipped,omitempty"`
}

// Machine describes where a run was made, beyond CPUs and Platform.
type Machine struct {
	CPUModel    string `json:"cpu_model,omitempty"`
	MemTotalKiB int64  `json:"mem_total_kib,omitempty"`
	Kernel      string `json:"kernel,omitempty"`
}

// ServerInfo says what was measured.
type ServerInfo struct {
	Addr   string `json:"addr"`
	Domain string `json:"domain"`
	// Kind is xpushd, prosody, ejabberd, or the software's own name.
	Kind    string   `json:"kind"`
	Name    string   `json:"name,omitempty"` // as the server reports it (XEP-0092 or disco identity)
	Version string   `json:"version,omitempty"`
	PID     int      `json:"pid,omitempty"`
	Cmdline []string `json:"cmdline,omitempty"`
	TLS     bool     `json:"tls"`
	API     string   `json:"api,omitempty"`
}

// NoFile is RLIMIT_NOFILE before and after the tool raised it.
type NoFile struct {
	Soft       uint64 `json:"soft"`
	Hard       uint64 `json:"hard"`
	SoftBefore uint64 `json:"soft_before"`
	HardBefore uint64 `json:"hard_before"`
}

// CPU is the CPU time the server, the tool and everything else on the
// machine used during a phase. A share is the fraction of all the
// machine's cores over the wall time: 1.0 means every core was busy.
// Other is what neither the server nor the tool used: on a shared
// machine, a large OtherShare means the figures of that phase are noisy.
type CPU struct {
	Wall        float64 `json:"wall_s"`
	Server      float64 `json:"server_cpu_s"`
	Tool        float64 `json:"tool_cpu_s"`
	Other       float64 `json:"other_cpu_s"`
	ServerShare float64 `json:"server_share"`
	ToolShare   float64 `json:"tool_share"`
	OtherShare  float64 `json:"other_share"`
}

// Accounts is the registration phase.
type Accounts struct {
	Registered  int            `json:"registered"`
	Existed     int            `json:"existed"`
	Failed      int            `json:"failed"`
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	PerSec      float64        `json:"per_s"`
	CPU         CPU            `json:"cpu"`
	Errors      map[string]int `json:"errors,omitempty"`
}

// Prederive is the optional phase that learns each account's SCRAM salt
// and derives the client keys before the logins are timed.
type Prederive struct {
	Probed        int            `json:"probed"`
	Failed        int            `json:"failed"`
	ProbeSeconds  float64        `json:"probe_s"`
	DeriveSeconds float64        `json:"derive_s"`
	Errors        map[string]int `json:"errors,omitempty"`
}

// Logins is the login phase.
type Logins struct {
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	Concurrency int            `json:"concurrency"`
	Mechanism   string         `json:"mechanism"`
	Prederived  bool           `json:"prederived"`
	Seconds     float64        `json:"seconds"`
	PerSec      float64        `json:"per_s"`
	Each        Dist           `json:"each"` // one login, dial to bound
	CPU         CPU            `json:"cpu"`
	Errors      map[string]int `json:"errors,omitempty"`
}

// Idle is the memory of the server with every session online and idle.
type Idle struct {
	Seconds          float64 `json:"seconds"`
	RSSBeforeKiB     int64   `json:"rss_before_kib"` // before the logins
	RSSAfterKiB      int64   `json:"rss_after_kib"`  // after Seconds idle
	RSSPerSessionKiB float64 `json:"rss_per_session_kib"`
	ServerCPU        float64 `json:"server_cpu_s"`       // during the idle window
	ServerCPUTotal   float64 `json:"server_cpu_total_s"` // since the server started
	ToolRSSKiB       int64   `json:"tool_rss_kib"`
	// GoBefore and GoAfter are xpushd's Go runtime gauges from /metrics
	// (api mode) before the logins and after the idle wait: they split
	// the RSS into goroutine stacks and heap.
	GoBefore *goMem `json:"go_before,omitempty"`
	GoAfter  *goMem `json:"go_after,omitempty"`
}

// Latency is the one-to-one phase.
type Latency struct {
	// Mode is api (xpushd's HTTP API, the paper's IQ) or message (a
	// headline from a second session).
	Mode    string `json:"mode"`
	Samples int    `json:"samples"`
	Warmup  int    `json:"warmup"`
	Lost    int    `json:"lost"`
	Push    Dist   `json:"push"`           // sent → the client has it
	Ack     *Dist  `json:"ack,omitempty"`  // sent → the API says acked
	Post    *Dist  `json:"post,omitempty"` // the POST's own round trip
	// AckPolls is how many GET /api/v1/notifications/{id} a sample took
	// on average until it saw acked (one every --ack-poll): load the
	// measurement itself puts on the server.
	AckPolls float64 `json:"ack_polls_per_sample,omitempty"`
	// AckPollMs is the mean time of one such GET. A push-to-ack time is
	// taken when the first GET that says acked returns, so it can be
	// late by up to one poll interval plus one GET.
	AckPollMs float64        `json:"ack_poll_ms,omitempty"`
	CPU       CPU            `json:"cpu"`
	Errors    map[string]int `json:"errors,omitempty"`
}

// Broadcast is the fan-out phase.
type Broadcast struct {
	Mode   string  `json:"mode"`
	Rounds []Round `json:"rounds"`
	// DeliveriesPerSec is the median of the rounds'.
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	CPU              CPU     `json:"cpu"`
}

// Round is one broadcast.
type Round struct {
	Recipients int     `json:"recipients"`
	Delivered  int     `json:"delivered"`
	FirstMs    float64 `json:"first_ms"`
	Seconds    float64 `json:"seconds"` // sent → last delivery
	PerSec     float64 `json:"deliveries_per_s"`
	// AckedSeconds is sent → the API says every recipient acked (api
	// mode); 0 when it did not within the round's time.
	AckedSeconds float64 `json:"acked_s,omitempty"`
	Acked        int     `json:"acked,omitempty"`
	// CPU covers the delivery window alone: sent → last delivery.
	CPU   CPU    `json:"cpu"`
	Error string `json:"error,omitempty"`
}

func readResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func writeResult(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printResult writes the human table.
func printResult(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	s := r.Server
	name := s.Kind
	if s.Version != "" {
		name += " " + s.Version
	}
	row("server", "%s at %s (domain %s, tls %v, pid %d)", name, s.Addr, s.Domain, s.TLS, s.PID)
	row("sessions", "%d asked, %d online; sources %s", r.Sessions, r.Online, strings.Join(r.Sources, ","))
	row("open files", "soft %d hard %d (were %d/%d)", r.NoFile.Soft, r.NoFile.Hard, r.NoFile.SoftBefore, r.NoFile.HardBefore)
	if a := r.Accounts; a != nil {
		row("accounts", "%d registered, %d existed, %d failed in %.2fs: %.0f/s %s", a.Registered, a.Existed, a.Failed, a.Seconds, a.PerSec, cpuText(a.CPU))
	}
	if p := r.Prederive; p != nil {
		row("prederive", "%d salts probed in %.2fs, keys derived in %.2fs (%d failed); not part of the login time", p.Probed, p.ProbeSeconds, p.DeriveSeconds, p.Failed)
	}
	if l := r.Logins; l != nil {
		row("logins", "%d ok, %d failed in %.2fs: %.0f/s (%s, %d in flight, client keys %s) %s", l.OK, l.Failed, l.Seconds, l.PerSec,
			l.Mechanism, l.Concurrency, map[bool]string{true: "prederived", false: "derived in the timed window"}[l.Prederived], cpuText(l.CPU))
		row("  one login", "%s", distText(l.Each))
	}
	if i := r.Idle; i != nil {
		row("idle RSS", "%d KiB before logins, %d KiB after %.0fs idle: %.2f KiB per session", i.RSSBeforeKiB, i.RSSAfterKiB, i.Seconds, i.RSSPerSessionKiB)
		row("idle CPU", "server %.2fs during the idle window, %.2fs since it started; tool RSS %d KiB", i.ServerCPU, i.ServerCPUTotal, i.ToolRSSKiB)
		if g0, g1 := i.GoBefore, i.GoAfter; g0 != nil && g1 != nil && r.Online > 0 {
			n := float64(r.Online)
			row("  Go runtime", "per session: %.2f goroutines, %.2f KiB stack in use, %.2f KiB heap in use (%.2f KiB allocated); next GC at %.0f KiB",
				(g1.Goroutines-g0.Goroutines)/n, (g1.StackInuseKiB-g0.StackInuseKiB)/n, (g1.HeapInuseKiB-g0.HeapInuseKiB)/n,
				(g1.HeapAllocKiB-g0.HeapAllocKiB)/n, g1.NextGCKiB)
		}
	}
	if l := r.Latency; l != nil {
		row("latency", "%s mode, %d samples (+%d warm-up), %d lost %s", l.Mode, l.Samples, l.Warmup, l.Lost, cpuText(l.CPU))
		row("  push", "%s", distText(l.Push))
		if l.Ack != nil {
			row("  push-to-ack", "%s; %.1f API polls per sample, %.3fms each", distText(*l.Ack), l.AckPolls, l.AckPollMs)
		}
		if l.Post != nil {
			row("  POST", "%s", distText(*l.Post))
		}
	}
	if b := r.Broadcast; b != nil {
		row("broadcast", "%s mode: %.0f deliveries/s (median of %d rounds) %s", b.Mode, b.DeliveriesPerSec, len(b.Rounds), cpuText(b.CPU))
		for i, rd := range b.Rounds {
			extra := ""
			if rd.AckedSeconds > 0 {
				extra = fmt.Sprintf(", all acked after %.3fs", rd.AckedSeconds)
			} else if rd.Acked > 0 {
				extra = fmt.Sprintf(", %d acked", rd.Acked)
			}
			if rd.Error != "" {
				extra += "; " + rd.Error
			}
			row(fmt.Sprintf("  round %d", i+1), "%d/%d delivered, first %.1fms, last %.3fs: %.0f/s%s %s", rd.Delivered, rd.Recipients, rd.FirstMs, rd.Seconds, rd.PerSec, extra, cpuText(rd.CPU))
		}
	}
	row("run", "%.1fs, %s, %s, %d CPUs, load average %.1f at the start, %.1f at the end", r.Seconds, r.GoVersion, r.Platform, r.CPUs, r.LoadAvg[0], r.LoadAvg[1])
	for _, e := range r.Errors {
		row("error", "%s", e)
	}
	tw.Flush()
}

func cpuText(c CPU) string {
	if c.Wall == 0 {
		return ""
	}
	return fmt.Sprintf("[cpu of all cores: server %.0f%%, tool %.0f%%, other %.0f%%]", 100*c.ServerShare, 100*c.ToolShare, 100*c.OtherShare)
}

func distText(d Dist) string {
	if d.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms  (mean %.3fms, n %d)", d.P50, d.P90, d.P99, d.Max, d.Mean, d.N)
}

// errorCounts keeps the first few distinct error texts with their
// counts. It is safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int
	n  int
}

const maxErrorKinds = 8

func (e *errorCounts) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	e.n++
	msg := err.Error()
	if _, ok := e.m[msg]; ok || len(e.m) < maxErrorKinds {
		e.m[msg]++
		return
	}
	e.m["(other errors)"]++
}

// snapshot returns the counts, nil when there were none.
func (e *errorCounts) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.m) == 0 {
		return nil
	}
	return maps.Clone(e.m)
}

// summary returns the counts as one line.
func summary(m map[string]int) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d× %s", m[k], k)
	}
	return b.String()
}
