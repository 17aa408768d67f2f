package xmpp

import (
	"crypto/rand"
	"encoding/base32"
)

// randomID returns 80 random bits as 16 characters, for stanza ids.
func randomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return base32.StdEncoding.EncodeToString(b[:])
}
