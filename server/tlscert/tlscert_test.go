package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func leafOf(t *testing.T, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	if cfg == nil || len(cfg.Certificates) != 1 || cfg.Certificates[0].Leaf == nil {
		t.Fatalf("config without one parsed certificate: %+v", cfg)
	}
	return cfg.Certificates[0].Leaf
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	cfg, fp, err := LoadOrCreate(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %#x, want TLS 1.2", cfg.MinVersion)
	}
	leaf := leafOf(t, cfg)
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("public key %T, want ECDSA", leaf.PublicKey)
	}
	if k := leaf.PublicKey.(*ecdsa.PublicKey); k.Curve != elliptic.P256() {
		t.Errorf("curve %v, want P-256", k.Curve.Params().Name)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("VerifyHostname(%q): %v", h, err)
		}
	}
	if d := time.Until(leaf.NotAfter); d < Validity-time.Hour || d > Validity+time.Minute {
		t.Errorf("valid for %v more, want about %v", d, Validity)
	}
	sum := sha256.Sum256(leaf.Raw)
	if got, want := strings.ReplaceAll(fp, ":", ""), strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
		t.Errorf("fingerprint %s, want %s", fp, want)
	}
	if len(fp) != 32*3-1 {
		t.Errorf("fingerprint %q: want 32 colon-separated pairs", fp)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o644} {
			st, err := os.Stat(filepath.Join(dir, Subdir, name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), want)
			}
		}
		st, err := os.Stat(filepath.Join(dir, Subdir))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("tls dir mode %v, want 0700", st.Mode().Perm())
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, Subdir))
	if len(ents) != 2 {
		t.Errorf("tls dir has %d entries, want 2 (no temporary files left)", len(ents))
	}
	testHandshake(t, cfg, "localhost")
}

func TestCreateDomain(t *testing.T) {
	cfg, _, err := LoadOrCreate(t.TempDir(), "push.example.org")
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, cfg)
	if err := leaf.VerifyHostname("push.example.org"); err != nil {
		t.Error(err)
	}
	if leaf.VerifyHostname("localhost") == nil || len(leaf.IPAddresses) != 0 {
		t.Errorf("certificate for push.example.org also covers localhost: %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
}

// testHandshake checks that a client pinning the certificate can talk TLS
// to a server using cfg.
func testHandshake(t *testing.T, cfg *tls.Config, name string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(leafOf(t, cfg))
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	errc := make(chan error, 1)
	go func() {
		srv := tls.Server(s, cfg)
		errc <- srv.Handshake()
	}()
	cl := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	_, fp1, err := LoadOrCreate(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, Subdir, KeyFile))
	cfg, fp2, err := LoadOrCreate(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, Subdir, KeyFile))
	if fp1 != fp2 || string(before) != string(after) {
		t.Errorf("second call made a new certificate: %s then %s", fp1, fp2)
	}
	// Load reads the same files.
	_, fp3, err := Load(filepath.Join(dir, Subdir, CertFile), filepath.Join(dir, Subdir, KeyFile))
	if err != nil || fp3 != fp1 {
		t.Errorf("Load = %s, %v; want %s", fp3, err, fp1)
	}
	testHandshake(t, cfg, "127.0.0.1")
}

func TestRenew(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		created time.Time
		domain  string
		renew   bool
	}{
		{"expired", now.Add(-2 * Validity), "localhost", true},
		{"expires in 3 days", now.Add(-Validity + 3*24*time.Hour), "localhost", true},
		{"expires in 8 days", now.Add(-Validity + 8*24*time.Hour), "localhost", false},
		{"other domain", now, "push.example.org", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := create(filepath.Join(dir, Subdir), "localhost", tc.created); err != nil {
				t.Fatal(err)
			}
			_, old, _, err := load(filepath.Join(dir, Subdir, CertFile), filepath.Join(dir, Subdir, KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			cfg, fp, err := LoadOrCreate(dir, tc.domain)
			if err != nil {
				t.Fatal(err)
			}
			if renewed := fp != old; renewed != tc.renew {
				t.Fatalf("renewed = %v, want %v", renewed, tc.renew)
			}
			leaf := leafOf(t, cfg)
			if tc.renew && leaf.NotAfter.Before(now.Add(Validity-time.Hour)) {
				t.Errorf("renewed certificate expires %v", leaf.NotAfter)
			}
			if err := leaf.VerifyHostname(tc.domain); err != nil {
				t.Error(err)
			}
		})
	}
}

// writeForeign writes a certificate signed by another key, as an operator
// might put there, valid until notAfter.
func writeForeign(t *testing.T, dir string, notAfter time.Time) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: notAfter.Add(-2 * Validity), NotAfter: notAfter.Add(Validity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: notAfter.Add(-Validity), NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	os.MkdirAll(filepath.Join(dir, Subdir), 0o700)
	os.WriteFile(filepath.Join(dir, Subdir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, Subdir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

func TestForeignCertificateKept(t *testing.T) {
	dir := t.TempDir()
	writeForeign(t, dir, time.Now().Add(2*24*time.Hour)) // near expiry: still not ours to replace
	before, _ := os.ReadFile(filepath.Join(dir, Subdir, CertFile))
	if _, _, err := LoadOrCreate(dir, "localhost"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, Subdir, CertFile))
	if string(before) != string(after) {
		t.Error("LoadOrCreate replaced a certificate it did not make")
	}

	dir = t.TempDir()
	writeForeign(t, dir, time.Now().Add(-time.Hour))
	_, _, err := LoadOrCreate(dir, "localhost")
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired foreign certificate: err = %v, want expired", err)
	}
	_, _, err = Load(filepath.Join(dir, Subdir, CertFile), filepath.Join(dir, Subdir, KeyFile))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Load of expired certificate: err = %v, want expired", err)
	}
}

func TestBadFiles(t *testing.T) {
	good := t.TempDir()
	if _, _, err := LoadOrCreate(good, "localhost"); err != nil {
		t.Fatal(err)
	}
	goodCert, _ := os.ReadFile(filepath.Join(good, Subdir, CertFile))
	goodKey, _ := os.ReadFile(filepath.Join(good, Subdir, KeyFile))
	other := t.TempDir()
	if _, _, err := LoadOrCreate(other, "localhost"); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := os.ReadFile(filepath.Join(other, Subdir, KeyFile))

	for _, tc := range []struct {
		name       string
		cert, key  []byte // nil: file absent
		wantSubstr []string
	}{
		{"garbage cert", []byte("not a certificate\n"), goodKey, []string{CertFile, "no PEM CERTIFICATE"}},
		{"garbage key", goodCert, []byte("hello\n"), []string{KeyFile, "no PEM PRIVATE KEY"}},
		{"broken DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), goodKey, []string{CertFile, "x509"}},
		{"key of another certificate", goodCert, otherKey, []string{KeyFile, "does not match"}},
		{"key missing", goodCert, nil, []string{KeyFile}},
		{"cert missing", nil, goodKey, []string{CertFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			td := filepath.Join(dir, Subdir)
			os.MkdirAll(td, 0o700)
			if tc.cert != nil {
				os.WriteFile(filepath.Join(td, CertFile), tc.cert, 0o644)
			}
			if tc.key != nil {
				os.WriteFile(filepath.Join(td, KeyFile), tc.key, 0o600)
			}
			_, _, err := LoadOrCreate(dir, "localhost")
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, s := range append(tc.wantSubstr, "tlscert: ") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			// The files are left alone for the operator to look at.
			if tc.cert != nil {
				if b, _ := os.ReadFile(filepath.Join(td, CertFile)); string(b) != string(tc.cert) {
					t.Error("certificate file changed")
				}
			}
			if tc.cert != nil && tc.key != nil {
				_, _, err := Load(filepath.Join(td, CertFile), filepath.Join(td, KeyFile))
				if err == nil {
					t.Error("Load: no error")
				}
			}
		})
	}
	if _, _, err := Load(filepath.Join(good, "nope.pem"), filepath.Join(good, Subdir, KeyFile)); err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Errorf("Load of a missing file: %v", err)
	}
	if _, _, err := LoadOrCreate(t.TempDir(), ""); err == nil {
		t.Error("empty domain: no error")
	}
}

func TestFingerprint(t *testing.T) {
	// echo -n abc | sha256sum
	got := Fingerprint([]byte("abc"))
	want := "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
	if got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}
