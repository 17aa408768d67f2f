package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/server/tlscert"
)

var fingerprintRE = regexp.MustCompile(`SHA-256 fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})`)

func TestServe(t *testing.T) {
	s := serve(t)
	if code, body := get(t, s.url("/healthz")); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	// The web console at / (a login page for a visitor) and the metrics.
	if code, body := get(t, s.url("/")); code != http.StatusOK || !strings.Contains(strings.ToLower(body), "password") {
		t.Errorf("/ = %d\n%.300s", code, body)
	}
	must(t, "", "user", "add", "--data", s.data, "--name", "alice")
	if code, body := get(t, s.url("/metrics")); code != http.StatusOK || !strings.Contains(body, "\nxpushd_users 1\n") || !strings.Contains(body, "\nxpushd_sessions 0\n") {
		t.Errorf("/metrics = %d\n%s", code, body)
	}
	out, errs := s.stdout.String(), s.stderr.String()
	m := fingerprintRE.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("no fingerprint printed:\n%s", out)
	} else {
		_, fp, err := tlscert.Load(filepath.Join(s.data, "tls", "cert.pem"), filepath.Join(s.data, "tls", "key.pem"))
		if err != nil || fp != m[1] {
			t.Errorf("printed fingerprint %s; the certificate's is %s (%v)", m[1], fp, err)
		}
	}
	if !strings.Contains(errs, "xpushd: no console admin password; set one with: xpushd admin passwd --data "+s.data+"\n") {
		t.Errorf("no admin password hint:\n%s", errs)
	}
	if strings.Contains(errs, "WARNING") {
		t.Errorf("warning without --legacy-digest:\n%s", errs)
	}
	// The logs are JSON lines.
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if strings.HasPrefix(line, "{") && !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
	if !strings.Contains(errs, `"msg":"xpushd: serving"`) {
		t.Errorf("no JSON start-up log:\n%s", errs)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(s.data)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("data directory: %v, %v; want mode 0700", st.Mode(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.data, dbName)); err != nil {
		t.Errorf("database: %v", err)
	}

	start := time.Now()
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after cancel\n%s", code, s.stderr)
	}
	if d := time.Since(start); d > ShutdownGrace {
		t.Errorf("stopping took %v, more than the %v grace", d, ShutdownGrace)
	}
	if !strings.Contains(s.stderr.String(), `"msg":"xpushd: stopped"`) {
		t.Errorf("no stop log:\n%s", s.stderr)
	}
	if _, err := http.Get(s.url("/healthz")); err == nil {
		t.Error("HTTP still answers after stop")
	}
}

func TestServeLegacyDigestWarns(t *testing.T) {
	s := serve(t, "--legacy-digest", "--no-tls")
	if !strings.Contains(s.stderr.String(), "WARNING: --legacy-digest is on") {
		t.Errorf("no warning:\n%s", s.stderr)
	}
	if fingerprintRE.MatchString(s.stdout.String()) {
		t.Errorf("fingerprint printed with --no-tls:\n%s", s.stdout)
	}
}

func TestServeWithAdminPasswordAndOwnCertificate(t *testing.T) {
	certDir := t.TempDir()
	_, fp, err := tlscert.LoadOrCreate(certDir, "push.example.org")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	must(t, "a long admin password\n", "admin", "passwd", "--data", data, "--password-stdin")
	s := serve(t, "--data", data, "--domain", "push.example.org",
		"--tls-cert", filepath.Join(certDir, "tls", "cert.pem"), "--tls-key", filepath.Join(certDir, "tls", "key.pem"),
		"--c2s-tls", "127.0.0.1:0")
	if m := fingerprintRE.FindStringSubmatch(s.stdout.String()); m == nil || m[1] != fp {
		t.Errorf("fingerprint: want %s in\n%s", fp, s.stdout)
	}
	if strings.Contains(s.stderr.String(), "no console admin password") {
		t.Errorf("hint printed although the password is set:\n%s", s.stderr)
	}
	// That password logs in to the console.
	login := func(pw string) int {
		cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.PostForm(s.url("/login"), url.Values{"password": {pw}, "next": {"/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther && len(resp.Cookies()) == 0 {
			t.Error("login redirected without a session cookie")
		}
		return resp.StatusCode
	}
	if code := login("a long admin password"); code != http.StatusSeeOther {
		t.Errorf("console login with the admin password = %d, want 303", code)
	}
	if code := login("a wrong admin password"); code == http.StatusSeeOther {
		t.Error("console login with a wrong password succeeded")
	}
	if !strings.Contains(s.stdout.String(), "xpushd: direct-TLS c2s on 127.0.0.1:") || !strings.Contains(s.stdout.String(), "(domain push.example.org)") {
		t.Errorf("ready line:\n%s", s.stdout)
	}
	if _, err := os.Stat(filepath.Join(data, "tls")); err == nil {
		t.Error("a self-signed certificate was made although --tls-cert was given")
	}
}

func TestServeFailures(t *testing.T) {
	// A port in use: a runtime failure, one sentence.
	s := serve(t)
	r := xpushd("serve", "--data", filepath.Join(t.TempDir(), "d"), "--c2s", "127.0.0.1:0", "--http", s.http)
	if r.code != exitFail || !strings.Contains(r.stderr, "cannot listen for HTTP on "+s.http) {
		t.Errorf("port in use: %v", r)
	}
	// A bad certificate file.
	bad := writeFile(t, "cert.pem", "nonsense")
	r = xpushd("serve", "--data", filepath.Join(t.TempDir(), "d"), "--c2s", "127.0.0.1:0", "--http", "127.0.0.1:0", "--tls-cert", bad, "--tls-key", bad)
	if r.code != exitFail || !strings.Contains(r.stderr, "cannot load the TLS certificate") {
		t.Errorf("bad certificate: %v", r)
	}
}

func TestTokenAgainstServer(t *testing.T) {
	s := serve(t)
	must(t, "", "user", "add", "--data", s.data, "--name", "alice")
	tok := strings.TrimSpace(must(t, "", "token", "create", "--data", s.data, "--name", "ci").stdout)
	if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q: want 32 bytes as unpadded base64url", tok)
	}
	post := func(token string) int {
		body := `{"to":["alice"],"title":"hello","message":"from the test"}`
		req, _ := http.NewRequest(http.MethodPost, s.url("/api/v1/notifications"), bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(tok); code != http.StatusAccepted {
		t.Errorf("POST with the new token = %d, want 202", code)
	}
	if code := post(tok + "x"); code != http.StatusUnauthorized {
		t.Errorf("POST with a wrong token = %d, want 401", code)
	}
	if r := must(t, "", "token", "list", "--data", s.data); !regexp.MustCompile(`(?m)^ci\s+\d{4}-`).MatchString(r.stdout) || strings.Contains(r.stdout, tok) {
		t.Errorf("token list:\n%s", r.stdout)
	}
	if r := xpushd("token", "create", "--data", s.data, "--name", "ci"); r.code != exitFail || !strings.Contains(r.stderr, `named "ci" exists already`) {
		t.Errorf("duplicate name: %v", r)
	}
	must(t, "", "token", "revoke", "--data", s.data, "--name", "ci")
	if code := post(tok); code != http.StatusUnauthorized {
		t.Errorf("POST with the revoked token = %d, want 401", code)
	}
	if r := xpushd("token", "revoke", "--data", s.data, "--name", "ci"); r.code != exitFail || !strings.Contains(r.stderr, `no API token named "ci"`) {
		t.Errorf("revoke twice: %v", r)
	}
	// An expired token is refused.
	tok2 := strings.TrimSpace(must(t, "", "token", "create", "--data", s.data, "--ttl", "1ns").stdout)
	time.Sleep(time.Millisecond)
	if code := post(tok2); code != http.StatusUnauthorized {
		t.Errorf("POST with an expired token = %d, want 401", code)
	}
}

func TestServeDebugProfiler(t *testing.T) {
	s := serve(t, "--debug", "127.0.0.1:0")
	m := regexp.MustCompile(`profiler on (http://127\.0\.0\.1:\d+/debug/pprof/)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no profiler line:\n%s", s.stdout)
	}
	if code, body := get(t, m[1]+"goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("goroutine profile = %d\n%.200s", code, body)
	}
	// Off this machine it is refused before anything starts.
	r := xpushd("serve", "--data", filepath.Join(t.TempDir(), "d"), "--c2s", "127.0.0.1:0", "--http", "127.0.0.1:0", "--debug", "0.0.0.0:6060")
	if r.code != exitUsage || !strings.Contains(r.stderr, "must be a loopback address") {
		t.Errorf("--debug 0.0.0.0:6060: %v", r)
	}
}
