package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/zalando/go-keyring"
)

// Service is the keyring service name of every xpush entry.
const Service = "xpush"

// ErrNotFound means the keyring holds no password for the account.
var ErrNotFound = errors.New("secret: no password stored for this account")

// Store reads and writes passwords. Keyring is the real one; tests and
// the headless listener may use others.
type Store interface {
	Get(jid string) (string, error)
	Set(jid, password string) error
	Delete(jid string) error
}

// Keyring is the OS keyring.
type Keyring struct{}

var _ Store = Keyring{}

// Get returns the password stored for jid, or ErrNotFound.
func (Keyring) Get(jid string) (string, error) {
	pw, err := keyring.Get(Service, jid)
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return "", ErrNotFound
	case err != nil:
		return "", unavailable(err)
	}
	return pw, nil
}

// Set stores password for jid.
func (Keyring) Set(jid, password string) error {
	if err := keyring.Set(Service, jid, password); err != nil {
		return unavailable(err)
	}
	return nil
}

// Delete removes the password of jid; a missing entry is not an error.
func (Keyring) Delete(jid string) error {
	if err := keyring.Delete(Service, jid); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return unavailable(err)
	}
	return nil
}

// ErrUnavailable is wrapped by errors that come from a missing or locked
// keyring.
var ErrUnavailable = errors.New("secret: the system keyring is not available (on Linux, start a Secret Service such as gnome-keyring and unlock it)")

func unavailable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Generate returns a strong random password: 24 characters from a
// 64-symbol alphabet, 144 bits.
func Generate() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b [24]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b[:])
}

// Memory is a Store held in memory: for tests, and for runs that must not
// touch the OS keyring. The zero value is ready to use.
type Memory struct {
	mu sync.Mutex
	m  map[string]string
}

var _ Store = (*Memory)(nil)

// Get returns the password stored for jid, or ErrNotFound.
func (k *Memory) Get(jid string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pw, ok := k.m[jid]; ok {
		return pw, nil
	}
	return "", ErrNotFound
}

// Set stores password for jid.
func (k *Memory) Set(jid, password string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[string]string)
	}
	k.m[jid] = password
	return nil
}

// Delete removes the password of jid.
func (k *Memory) Delete(jid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, jid)
	return nil
}
