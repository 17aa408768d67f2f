package main

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	// Burn 50ms of CPU (not of wall time: the machine may be busy) so
	// that utime+stime is several ticks.
	start, deadline := selfCPU(), time.Now().Add(5*time.Second)
	for selfCPU()-start < 50*time.Millisecond && time.Now().Before(deadline) {
		for range 100_000 {
		}
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB < 1024 || s.RSSKiB > 16<<20 {
		t.Errorf("VmRSS %d KiB is implausible for a Go test binary", s.RSSKiB)
	}
	if s.CPU < 40*time.Millisecond {
		t.Errorf("/proc says CPU %v after a 50ms busy loop", s.CPU)
	}
	if busy, err := machineCPU(); err != nil || busy < s.CPU {
		t.Errorf("machine busy %v < this process's %v (%v)", busy, s.CPU, err)
	}
	if own := selfCPU(); own < s.CPU-20*time.Millisecond {
		t.Errorf("getrusage says %v, /proc says %v", own, s.CPU)
	}
}

func TestParseProcText(t *testing.T) {
	status := []byte("Name:\txpushd\nVmPeak:\t  999 kB\nVmRSS:\t   51392 kB\nRssAnon:\t 40000 kB\n")
	if rss, err := parseStatusRSS(status); err != nil || rss != 51392 {
		t.Errorf("parseStatusRSS = %d, %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("no VmRSS line: no error")
	}
	// A command name with spaces and parentheses; utime 250, stime 50.
	stat := []byte("4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123 456 789\n")
	if cpu, err := parseStatCPU(stat); err != nil || cpu != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", cpu, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("short stat: no error")
	}
	machine := []byte("cpu  100 20 30 5000 40 1 2 3 0 0\ncpu0 50 10 15 2500 20 1 1 2 0 0\n")
	if busy, err := parseMachineBusy(machine); err != nil || busy != 1560*time.Millisecond {
		t.Errorf("parseMachineBusy = %v, %v; want 1.56s (156 ticks: idle and iowait left out)", busy, err)
	}
	if _, err := parseMachineBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Error("no cpu line: no error")
	}
	tcp := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3B6E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:3B6E 0200007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
`)
	if got := listenInodes(tcp, 0x3B6E); len(got) != 1 || got[0] != "1111" {
		t.Errorf("listenInodes(15214) = %v, want [1111] (the established socket is not listening)", got)
	}
	if got := listenInodes(tcp, 8080); len(got) != 1 || got[0] != "3333" {
		t.Errorf("listenInodes(8080) = %v", got)
	}
}

func TestFindListenerSelf(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, err := findListener(l.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() {
		t.Errorf("findListener = %d, want this process %d", pid, os.Getpid())
	}
	if cmd := procCmdline(pid); len(cmd) == 0 || !strings.HasSuffix(cmd[0], ".test") && !strings.Contains(cmd[0], "xpush-bench") {
		t.Logf("cmdline %q", cmd)
	}
}
