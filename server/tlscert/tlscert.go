package tlscert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Lifetimes of the self-signed certificate.
const (
	// Validity is how long a new self-signed certificate is valid: a
	// year, so that a forgotten server renews it on a restart long before
	// clients that pinned it have to be told about a new one.
	Validity = 365 * 24 * time.Hour
	// RenewBefore is how long before its expiry LoadOrCreate replaces the
	// self-signed certificate.
	RenewBefore = 7 * 24 * time.Hour
	// backdate covers clocks of clients that run a little behind.
	backdate = time.Hour
)

// File names under DIR/tls.
const (
	Subdir   = "tls"
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// organization marks the certificates this package made.
const organization = "xpushd self-signed"

// LoadOrCreate returns a TLS configuration with the certificate in
// dir/tls, creating or renewing a self-signed one for domain as needed
// (see the package documentation), and the certificate's SHA-256
// fingerprint.
func LoadOrCreate(dir, domain string) (*tls.Config, string, error) {
	return loadOrCreate(dir, domain, time.Now())
}

func loadOrCreate(dir, domain string, now time.Time) (*tls.Config, string, error) {
	if domain == "" {
		return nil, "", errors.New("tlscert: empty domain")
	}
	tdir := filepath.Join(dir, Subdir)
	certPath, keyPath := filepath.Join(tdir, CertFile), filepath.Join(tdir, KeyFile)
	_, cerr := os.Stat(certPath)
	_, kerr := os.Stat(keyPath)
	switch {
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
		// First start: make one below.
	case cerr != nil:
		return nil, "", fmt.Errorf("tlscert: %w", cerr)
	case kerr != nil:
		return nil, "", fmt.Errorf("tlscert: %s exists but %w", certPath, kerr)
	default:
		cfg, fp, leaf, err := load(certPath, keyPath)
		if err != nil {
			return nil, "", fmt.Errorf("%w (delete %s to have a new self-signed certificate made)", err, tdir)
		}
		if !selfSigned(leaf) {
			if now.After(leaf.NotAfter) {
				return nil, "", fmt.Errorf("tlscert: %s expired on %s; replace it", certPath, leaf.NotAfter.UTC().Format(time.DateOnly))
			}
			return cfg, fp, nil
		}
		if now.Add(RenewBefore).Before(leaf.NotAfter) && leaf.VerifyHostname(domain) == nil {
			return cfg, fp, nil
		}
		// Expired, about to, or made for another domain: renew.
	}
	if err := create(tdir, domain, now); err != nil {
		return nil, "", err
	}
	cfg, fp, _, err := load(certPath, keyPath)
	return cfg, fp, err
}

// Load returns a TLS configuration with the certificate chain in certFile
// and its private key in keyFile (both PEM), and the SHA-256 fingerprint
// of the leaf certificate. An expired certificate is an error.
func Load(certFile, keyFile string) (*tls.Config, string, error) {
	cfg, fp, leaf, err := load(certFile, keyFile)
	if err != nil {
		return nil, "", err
	}
	if time.Now().After(leaf.NotAfter) {
		return nil, "", fmt.Errorf("tlscert: %s expired on %s", certFile, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	return cfg, fp, nil
}

func load(certFile, keyFile string) (*tls.Config, string, *x509.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, "", nil, fmt.Errorf("tlscert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, "", nil, fmt.Errorf("tlscert: %w", err)
	}
	block, rest := pem.Decode(certPEM)
	for block != nil && block.Type != "CERTIFICATE" {
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return nil, "", nil, fmt.Errorf("tlscert: %s: no PEM CERTIFICATE block", certFile)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, "", nil, fmt.Errorf("tlscert: %s: %w", certFile, err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return nil, "", nil, fmt.Errorf("tlscert: %s: no PEM PRIVATE KEY block", keyFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, "", nil, fmt.Errorf("tlscert: %s and %s: %w", certFile, keyFile, err)
	}
	pair.Leaf = leaf
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, Fingerprint(leaf.Raw), leaf, nil
}

// Fingerprint returns the SHA-256 of a DER certificate as upper-case hex
// pairs joined by colons, the way openssl x509 -fingerprint -sha256
// prints it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// selfSigned reports whether c is one of ours: signed by its own key,
// with our organization.
func selfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != organization {
		return false
	}
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// create writes a new key and self-signed certificate for domain into
// dir, valid from now.
func create(dir, domain string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{organization}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(domain); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{domain}
	}
	if domain == "localhost" {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	// The key first: a crash between the two leaves a certificate that
	// does not match the key, which load reports, never a new
	// certificate with an old key.
	if err := writeFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile replaces path with data atomically: a temporary file in the
// same directory, with perm set before anything is written, synced, then
// renamed over path.
func writeFile(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	return nil
}
