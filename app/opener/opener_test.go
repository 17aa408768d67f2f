package opener

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	long := "https://example.org/" + strings.Repeat("a", MaxLen)
	tests := []struct {
		uri  string
		want error // nil, ErrScheme or ErrMalformed
	}{
		{"http://example.org", nil},
		{"https://example.org/path?q=1&r=2#frag", nil},
		{"HTTPS://EXAMPLE.ORG/", nil},
		{"https://example.org:8443/a%20b", nil},
		{"https://[2001:db8::1]/x", nil},
		{"https://example.org/$(id)'`", ErrMalformed}, // backquote
		{"https://example.org/$(id)';(x)", nil},       // harmless without a shell
		{"javascript:alert(1)", ErrScheme},
		{"JavaScript:alert(1)", ErrScheme},
		{"file:///etc/passwd", ErrScheme},
		{"data:text/html,<script>", ErrMalformed}, // '<' is not a URI character
		{"data:text/html;base64,PHNjcmlwdD4=", ErrScheme},
		{"mailto:a@example.org", ErrScheme},
		{"ms-msdt:/id", ErrScheme},
		{"xpush:open", ErrScheme},
		{"", ErrMalformed},
		{"-https://example.org", ErrMalformed},
		{"--help", ErrMalformed},
		{"https://example.org/\n--new-window", ErrMalformed},
		{"https://example.org/\r", ErrMalformed},
		{"https://example.org/\x00", ErrMalformed},
		{"https://example.org/ a", ErrMalformed},
		{"https://example.org/\ta", ErrMalformed},
		{"https://example.org/\"a", ErrMalformed},
		{"https://example.org/\\a", ErrMalformed},
		{"https://example.org/é", ErrMalformed},
		{"https://example.org/\u202e", ErrMalformed},
		{"https://user:pw@example.org/", ErrMalformed},
		{"https:example.org", ErrMalformed},
		{"https:///path", ErrMalformed},
		{"//example.org/x", ErrMalformed},
		{"example.org", ErrMalformed},
		{"1http://example.org", ErrMalformed},
		{long, ErrMalformed},
	}
	for _, tt := range tests {
		err := Check(tt.uri)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.uri, err)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("Check(%q) = %v, want %v", tt.uri, err, tt.want)
		}
	}
}

func TestErrSchemeText(t *testing.T) {
	err := Check("javascript:alert(1)")
	if !strings.HasPrefix(err.Error(), "opener: only http and https links open directly") {
		t.Errorf("error = %q", err)
	}
}

func TestOpenRefusesBeforeStarting(t *testing.T) {
	// An unset BROWSER and an empty PATH: if Open got as far as looking for
	// a helper, the error would say so instead.
	t.Setenv("BROWSER", "")
	t.Setenv("PATH", t.TempDir())
	for _, uri := range []string{
		"javascript:alert(1)", "file:///etc/passwd", "data:text/plain,hi",
		"-https://example.org", "https://example.org/\n-x",
	} {
		err := Open(context.Background(), uri)
		if !errors.Is(err, ErrScheme) && !errors.Is(err, ErrMalformed) {
			t.Errorf("Open(%q) = %v, want a refusal", uri, err)
		}
	}
}
