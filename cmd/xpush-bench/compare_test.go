package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func sampleResult(loginsPerSec, rss, p99, bcast float64) *Result {
	return &Result{
		Server:    ServerInfo{Kind: "xpushd", Version: "dev"},
		Online:    1000,
		Logins:    &Logins{OK: 1000, PerSec: loginsPerSec, Each: Dist{N: 1000, P99: 40}},
		Idle:      &Idle{RSSAfterKiB: 50000, RSSPerSessionKiB: rss},
		Latency:   &Latency{Push: Dist{N: 100, P50: 1, P90: 2, P99: p99, Max: 9}, Ack: &Dist{N: 100, P50: 25, P99: 30, Max: 35}},
		Broadcast: &Broadcast{DeliveriesPerSec: bcast},
	}
}

func TestCompareRatios(t *testing.T) {
	dir := t.TempDir()
	oldPath, newPath := filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json")
	if err := writeResult(oldPath, sampleResult(1000, 20, 4, 10000)); err != nil {
		t.Fatal(err)
	}
	nr := sampleResult(2500, 10, 5, 10000)
	nr.Logins.CPU.OtherShare = 0.3 // someone else's build ran during the logins
	if err := writeResult(newPath, nr); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(t.Context(), []string{"compare", oldPath, newPath}, &out, &out); code != exitOK {
		t.Fatalf("compare exited %d: %s", code, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{
		`logins/s \(1/s\)\s+higher\s+1000\s+2500\s+2\.500\s+better\s+noisy: other processes used 30%`,
		`RSS per idle session \(KiB\)\s+lower\s+20\s+10\s+0\.500\s+better *\n`,
		`push p99 \(ms\)\s+lower\s+4\s+5\s+1\.250\s+worse`,
		`broadcast deliveries/s \(1/s\)\s+higher\s+1e\+04\s+1e\+04\s+1\.000\s+same`,
		`push-to-ack p99 \(ms\)\s+lower\s+30\s+30\s+1\.000\s+same`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("compare output lacks %q", want)
		}
	}
	// A figure only one side has is left out.
	old := sampleResult(1000, 20, 4, 10000)
	old.Broadcast = nil
	out.Reset()
	compare(&out, old, sampleResult(1000, 20, 4, 10000))
	if strings.Contains(out.String(), "broadcast") {
		t.Errorf("a figure missing from OLD was compared:\n%s", out.String())
	}
	if code := run(t.Context(), []string{"compare", oldPath}, &out, &out); code != exitUsage {
		t.Errorf("compare with one file exited %d, want %d", code, exitUsage)
	}
}
