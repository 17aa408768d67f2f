package main

import (
	"bytes"
	"errors"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report/*.golden")

// reportFixtures are results as scripts/bench-compare.sh leaves them:
// three servers at 1,000 sessions; at 10,000 one run that failed, one
// whose server did not start; at 50,000 sizes skipped for the open-file
// limit.
// They are copied to dir/bench, where the script keeps them beside the
// page.
func reportFixtures(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "report", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dir, "bench", filepath.Base(f))
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, to)
	}
	return out
}

func TestReportMarkdown(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "benchmarks.md")
	args := append([]string{"report", "--md", md, "--command", "scripts/bench-compare.sh --sizes 1000,10000,50000"}, reportFixtures(t, dir)...)
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	got, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report", "benchmarks.md.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReportMarkdown -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the page differs from %s (go test -run TestReportMarkdown -update rewrites it):\n%s", golden, got)
	}
	page := string(got)
	for _, want := range []string{
		// One row per run, in order of size and server.
		"| xpushd | 1,000 | 12.3 KiB | 2,500 (SCRAM-SHA-256) | 1.50 / 5.20 ms | 3.80 / 13.6 ms | 11,150 |",
		"| Prosody | 1,000 | 45.6 KiB | 1,200 (SCRAM-SHA-1) | 0.40 / 2.10 ms | n/a | 20,000 |",
		"| ejabberd | 1,000 (990 online) | 30.0 KiB | 900 (SCRAM-SHA-256) |",
		"10 of 1,000 logins failed",
		"other processes' share of the CPU: logins 40%",
		"| Prosody | 10,000 | — | — | — | — | — |",
		"the server did not start: 127.0.0.1:23222 is already in use",
		"| ejabberd | 10,000 | — |",
		"skipped: the open-file hard limit here is 20000",
		// What each column means, per server.
		"*Prosody, ejabberd*: a `<message type=\"headline\">`",
		"*xpushd*: `POST /api/v1/notifications`",
		// The targets, against the best other server.
		"| 1,000 | RSS per idle session | 12.3 KiB | 30.0 KiB (ejabberd) | at most half of the best other | met |",
		"| 1,000 | push p99 | 5.20 ms | 2.10 ms (Prosody) | lower than both | missed |",
		// The machine and the command.
		"scripts/bench-compare.sh --sizes 1000,10000,50000",
		"- CPUs: 2 (Test CPU @ 2.00GHz), memory 23.5 GiB, linux/amd64, kernel 6.1.0-test",
		"- Servers: xpushd git 1234abc; Prosody 0.12.3-1+deb12u1; ejabberd 23.01-1 (Erlang/OTP 25)",
		"[xpushd-1000.json](bench/xpushd-1000.json)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, ".png") {
		t.Error("the page links charts that were not asked for")
	}
}

func TestReportCharts(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "benchmarks.md")
	charts := filepath.Join(dir, "bench")
	// Flags after the files, as the script passes them.
	args := append(append([]string{"report"}, reportFixtures(t, dir)...), "--md", md, "--charts", charts)
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	page, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{summaryChart}
	for _, s := range chartSpecs {
		names = append(names, s.name)
	}
	for _, name := range names {
		path := filepath.Join(charts, name)
		f, err := os.Open(path)
		if err != nil {
			t.Errorf("chart %s: %v", name, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("chart %s is not a PNG: %v", name, err)
			continue
		}
		if fi, _ := os.Stat(path); fi.Size() < 1000 || cfg.Width < 200 || cfg.Height < 100 {
			t.Errorf("chart %s: %d bytes, %d×%d", name, fi.Size(), cfg.Width, cfg.Height)
		}
		if !bytes.Contains(page, []byte("](bench/"+name+")")) {
			t.Errorf("the page does not show %s", name)
		}
	}
	// The summary comes right after the table.
	if i, j := bytes.Index(page, []byte("](bench/summary.png)")), bytes.Index(page, []byte("## What each column")); i < 0 || i > j {
		t.Errorf("summary chart at %d, explanations at %d", i, j)
	}
}

// Runs that all failed have nothing to chart: the page is still written
// and says why, and the charts step says there is nothing.
func TestReportNothingToChart(t *testing.T) {
	dir := t.TempDir()
	files := slices.DeleteFunc(reportFixtures(t, dir), func(f string) bool {
		return strings.HasSuffix(f, "-1000.json") || strings.HasSuffix(f, "xpushd-10000.json")
	})
	md := filepath.Join(dir, "benchmarks.md")
	var stdout, stderr bytes.Buffer
	err := reportCmd(append([]string{"--md", md, "--charts", dir}, files...), &stdout, &stderr)
	if !errors.Is(err, errNoFigures) {
		t.Errorf("err %v, want %v", err, errNoFigures)
	}
	if err := reportCmd(append([]string{"--md", md}, files...), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(md)
	if !bytes.Contains(page, []byte("the server did not start")) || bytes.Contains(page, []byte("against the targets")) {
		t.Errorf("page:\n%s", page)
	}
}

func TestReportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"report"},
		{"report", "--charts", "x", "a.json"},
	} {
		var out bytes.Buffer
		if code := run(t.Context(), args, &out, &out); code != exitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, code, exitUsage, out.String())
		}
	}
	var out bytes.Buffer
	if code := run(t.Context(), []string{"report", "--md", filepath.Join(t.TempDir(), "x.md"), "no-such.json"}, &out, &out); code != exitFail {
		t.Errorf("a missing file: exit %d, want %d", code, exitFail)
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{0, "0"}, {999.4, "999"}, {1000, "1,000"}, {11150.2, "11,150"}, {1234567, "1,234,567"}, {-2500, "-2,500"}} {
		if got := thousands(c.v); got != c.want {
			t.Errorf("thousands(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		v    float64
		want string
	}{{0.331, "0.33"}, {5.2, "5.20"}, {13.64, "13.6"}, {250.4, "250"}} {
		if got := millis(c.v); got != c.want {
			t.Errorf("millis(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	if got := oneLine("a |\n b"); got != "a / b" {
		t.Errorf("oneLine: %q", got)
	}
}
