package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable with the DSN of the server for
// tests.
const EnvDSN = "XPUSH_POSTGRES_DSN"

// Main starts a server unless EnvDSN names one, runs the tests with
// EnvDSN set to it, stops it and returns m.Run's exit code (1 if the
// server did not start). Without PostgreSQL installed it just runs the
// tests, whose New calls then skip.
func Main(m *testing.M) int {
	if os.Getenv(EnvDSN) != "" || !installed() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "xpush-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// As root, the server runs as the postgres OS user, which must get
	// through this directory.
	if err := os.Chmod(dir, 0o711); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	script := filepath.Join(scriptsDir(), "postgres.sh")
	data := filepath.Join(dir, "pg")
	port, err := freePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	out, err := run(script, "start", data, strconv.Itoa(port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %s start: %v\n%s", script, err, out)
		run(script, "kill", data)
		return 1
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	os.Setenv(EnvDSN, lines[len(lines)-1])
	defer func() {
		if out, err := run(script, "stop", data); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %s stop: %v\n%s", script, err, out)
		}
	}()
	return m.Run()
}

func run(script string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// installed reports whether Debian's PostgreSQL server is.
func installed() bool {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	return len(bins) > 0
}

// New creates a schema for t on the test server, dropped when t ends,
// and returns a DSN that uses it. It skips t when there is no server,
// unless XPUSH_INTEROP=1.
func New(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		if os.Getenv("XPUSH_INTEROP") == "1" {
			t.Fatalf("pgtest: XPUSH_INTEROP=1 but no PostgreSQL: install Debian's postgresql (scripts/install-deps.sh test) and call pgtest.Main from TestMain, or set %s", EnvDSN)
		}
		t.Skipf("pgtest: no PostgreSQL: set %s, or install Debian's postgresql; XPUSH_INTEROP=1 makes this a failure", EnvDSN)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema: %v", err)
		}
	})
	dsn, err := WithSearchPath(admin, schema)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil // key=value pairs
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL", EnvDSN) // without the password
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// scriptsDir finds the repository's scripts directory.
func scriptsDir() string {
	if d := os.Getenv("XPUSH_SCRIPTS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "scripts")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
