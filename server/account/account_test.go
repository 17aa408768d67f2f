package account

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want error // nil: accepted; ErrBadPassword; or any error (errAny)
	}{
		{"a good long password", nil},
		{"mot de passe déjà long", nil},
		{"short", errAny},
		{strings.Repeat("x", MaxPassword+1), errAny},
		{"bell\a in the password", ErrBadPassword},
		{"bad utf-8 \xff\xfe here", ErrBadPassword},
	} {
		err := CheckPassword(tc.pw)
		switch {
		case tc.want == nil && err != nil, tc.want != nil && err == nil:
			t.Errorf("CheckPassword(%q) = %v, want %v", tc.pw, err, tc.want)
		case tc.want == ErrBadPassword && !errors.Is(err, ErrBadPassword):
			t.Errorf("CheckPassword(%q) = %v, want ErrBadPassword", tc.pw, err)
		}
		if err != nil && len(tc.pw) > 5 && strings.Contains(err.Error(), tc.pw[:6]) {
			t.Errorf("CheckPassword's error quotes the password: %v", err)
		}
	}
}

var errAny = errors.New("any error")

// TestKeysKeepPasswordOutOfErrors: the SCRAM library's error quotes the
// password; Keys must not pass that text on (it ends up in logs).
func TestKeysKeepPasswordOutOfErrors(t *testing.T) {
	const pw = "secret\a-password"
	_, _, err := Keys("alice", pw, 4096)
	if !errors.Is(err, ErrBadPassword) {
		t.Fatalf("Keys with a control character = %v, want ErrBadPassword", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error quotes the password: %v", err)
	}
	if _, _, err := Keys("alice", "a good long password", 4096); err != nil {
		t.Errorf("Keys with a good password: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	for name, want := range map[string]string{"Alice": "alice", ".0": ".0", "a.b": "a.b"} {
		if got, err := Normalize(name); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"", ".", "..", "a@b", "a/b"} {
		if got, err := Normalize(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrBadName", name, got, err)
		}
	}
}
