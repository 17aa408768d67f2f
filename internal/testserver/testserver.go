package testserver

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Kinds of server.
const (
	Prosody  = "prosody"
	Ejabberd = "ejabberd"
)

// Server is a running XMPP server for one test.
type Server struct {
	Kind string
	Addr string // 127.0.0.1:PORT
	Dir  string
	// CA is the PEM file of the server's self-signed certificate.
	CA     string
	t      testing.TB
	script string
	port   int
}

// Required reports whether the environment demands real servers.
func Required() bool { return os.Getenv("XPUSH_INTEROP") == "1" }

// Start starts a server of the given kind, stopped when the test ends.
func Start(t testing.TB, kind string) *Server {
	t.Helper()
	bin := map[string]string{Prosody: "prosody", Ejabberd: "erl"}[kind]
	if _, err := exec.LookPath(bin); err != nil {
		if Required() {
			t.Fatalf("testserver: %s is not installed (run scripts/install-deps.sh test)", kind)
		}
		t.Skipf("testserver: %s is not installed; set XPUSH_INTEROP=1 to require it", kind)
	}
	s := &Server{
		Kind:   kind,
		Dir:    t.TempDir(),
		t:      t,
		script: filepath.Join(scriptsDir(t), kind+".sh"),
		port:   freePort(t),
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.CA = filepath.Join(s.Dir, "certs", "localhost.crt")
	s.run("start")
	t.Cleanup(func() { s.run("stop") })
	return s
}

// Restart stops the server cleanly and starts it again with its data.
func (s *Server) Restart() {
	s.t.Helper()
	s.run("stop")
	s.run("start")
}

// Stop stops the server cleanly.
func (s *Server) Stop() { s.t.Helper(); s.run("stop") }

// StartAgain starts a stopped server with its data.
func (s *Server) StartAgain() { s.t.Helper(); s.run("start") }

func (s *Server) run(verb string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{s.script, verb, s.Dir}
	if verb == "start" {
		args = append(args, strconv.Itoa(s.port))
	}
	out, err := exec.CommandContext(ctx, "bash", args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("testserver: %s %s: %v\n%s", s.Kind, verb, err, out)
	}
	s.t.Logf("testserver: %s", out)
}

// scriptsDir finds the repository's scripts directory.
func scriptsDir(t testing.TB) string {
	if d := os.Getenv("XPUSH_SCRIPTS"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testserver: cannot find the scripts directory; set XPUSH_SCRIPTS")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
