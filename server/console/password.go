package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new admin password hashes: RFC 9106 §4's
// second recommended option (t=3, 64 MiB, 4 lanes), for machines that
// cannot spare 2 GiB per login.
const (
	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 4
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds on what CheckPassword accepts from a stored hash, so that a
// corrupt or hostile hash cannot make a login allocate gigabytes.
const (
	maxArgonTime    = 16
	maxArgonMemory  = 1 << 20 // KiB: 1 GiB
	maxArgonThreads = 16
)

// MaxAdminPassword bounds the admin password's length.
const MaxAdminPassword = 1024

// MinAdminPassword is the shortest admin password HashPassword accepts.
const MinAdminPassword = 10

type argonParams struct {
	time    uint32
	memory  uint32
	threads uint8
}

var defaultArgon = argonParams{time: argonTime, memory: argonMemory, threads: argonThreads}

// HashPassword returns an argon2id hash of the admin password as a PHC
// string ($argon2id$v=19$m=65536,t=3,p=4$SALT$HASH), with a random salt.
// `xpushd admin passwd` stores it with store.SetAdminHash.
func HashPassword(password string) ([]byte, error) {
	switch {
	case len(password) < MinAdminPassword:
		return nil, fmt.Errorf("console: admin password shorter than %d characters", MinAdminPassword)
	case len(password) > MaxAdminPassword:
		return nil, fmt.Errorf("console: admin password longer than %d bytes", MaxAdminPassword)
	}
	return hashPassword(password, defaultArgon), nil
}

func hashPassword(password string, p argonParams) []byte {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Appendf(nil, "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("console: admin password hash is not an argon2id PHC string")

// parseHash splits a PHC argon2id string into its parameters, salt and key.
func parseHash(hash []byte) (p argonParams, salt, key []byte, err error) {
	parts := strings.Split(string(hash), "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	var m, t, th uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || n != 3 {
		return p, nil, nil, errBadHash
	}
	if t < 1 || t > maxArgonTime || th < 1 || th > maxArgonThreads || m < 8*th || m > maxArgonMemory {
		return p, nil, nil, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err = b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, errBadHash
	}
	key, err = b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return argonParams{time: uint32(t), memory: uint32(m), threads: uint8(th)}, salt, key, nil
}

// CheckPassword reports whether password matches hash, a string from
// HashPassword, in constant time. A malformed hash matches nothing.
func CheckPassword(hash []byte, password string) bool {
	if len(password) > MaxAdminPassword {
		return false
	}
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}
