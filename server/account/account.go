package account

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
	"mellium.im/xmpp/jid"

	"github.com/xpush/xpush/server/store"
)

// DefaultIters is the PBKDF2 iteration count for new keys: RFC 7677's
// minimum of 4096 for SCRAM-SHA-256. Tests lower it.
const DefaultIters = 4096

// Password length bounds.
const (
	MinPassword = 8
	MaxPassword = 1024
)

// ErrBadName is wrapped by errors for invalid account names.
var ErrBadName = errors.New("account: invalid user name")

// Normalize checks that name is a valid JID localpart (RFC 7622 PRECIS
// UsernameCaseMapped) and returns its canonical form. "." and ".." are
// refused too: as a URL path segment (the console's /users/NAME, the
// API) they would be taken for the directory itself or its parent.
func Normalize(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "@/") {
		return "", fmt.Errorf("%w: %q", ErrBadName, name)
	}
	j, err := jid.New(name, "localhost", "")
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadName, name, err)
	}
	if l := j.Localpart(); l == "." || l == ".." {
		return "", fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return j.Localpart(), nil
}

// ErrBadPassword is CheckPassword's error for a password SCRAM cannot
// take: invalid UTF-8, or characters SASLprep (RFC 4013) prohibits, such
// as control characters. Its text never quotes the password.
var ErrBadPassword = errors.New("account: the password has characters SCRAM does not allow (control characters or invalid UTF-8)")

// CheckPassword enforces the password length bounds and SASLprep.
func CheckPassword(password string) error {
	switch {
	case len(password) < MinPassword:
		return fmt.Errorf("account: password shorter than %d characters", MinPassword)
	case len(password) > MaxPassword:
		return fmt.Errorf("account: password longer than %d bytes", MaxPassword)
	}
	if _, err := stringprep.SASLprep.Prepare(password); err != nil {
		return ErrBadPassword // not err: its text quotes the password
	}
	return nil
}

// Keys derives the stored SCRAM-SHA-1 and SCRAM-SHA-256 keys for a
// password, each with its own random salt.
func Keys(name, password string, iters int) (sha1, sha256 store.Credentials, err error) {
	if iters <= 0 {
		iters = DefaultIters
	}
	sha1, err = derive(scram.SHA1, name, password, iters)
	if err != nil {
		return
	}
	sha256, err = derive(scram.SHA256, name, password, iters)
	return
}

func derive(h scram.HashGeneratorFcn, name, password string, iters int) (store.Credentials, error) {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	c, err := h.NewClient(name, password, "")
	if err != nil {
		// The library's error quotes the password: keep it out of logs.
		return store.Credentials{}, ErrBadPassword
	}
	sc, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
	if err != nil {
		return store.Credentials{}, fmt.Errorf("account: %w", err)
	}
	return store.Credentials{Salt: salt, Iters: iters, StoredKey: sc.StoredKey, ServerKey: sc.ServerKey}, nil
}

// Verify reports whether password matches u's stored SCRAM-SHA-256 key
// (or SHA-1 key where only that exists), in constant time.
func Verify(u store.User, password string) bool {
	cred, h := u.SHA256, scram.SHA256
	if len(cred.StoredKey) == 0 {
		cred, h = u.SHA1, scram.SHA1
	}
	if len(cred.StoredKey) == 0 {
		return false
	}
	c, err := h.NewClient(u.Name, password, "")
	if err != nil {
		return false
	}
	sc, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(cred.Salt), Iters: cred.Iters})
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(sc.StoredKey, cred.StoredKey) == 1
}

// Lookup adapts stored credentials to xdg-go/scram's server side.
func Lookup(c store.Credentials) scram.StoredCredentials {
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iters},
		StoredKey:  c.StoredKey,
		ServerKey:  c.ServerKey,
	}
}
