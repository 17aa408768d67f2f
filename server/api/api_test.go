package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xpush/xpush/server/api"
)

func TestDecodeRequest(t *testing.T) {
	for _, tt := range []struct {
		name, body, err string
	}{
		{"ok", `{"to":["a"],"title":"t","ttl":"1h"}`, ""},
		{"all", `{"all":true,"message":"m"}`, ""},
		{"empty", ``, "empty body"},
		{"array", `[1]`, "send one JSON object"},
		{"wrong type", `{"to":"alice"}`, `field "to" has the wrong type`},
		{"unknown field", `{"too":["a"]}`, `unknown field "too"`},
		{"trailing", `{"all":true} {}`, "data after the object"},
		{"syntax", `{"all":tru}`, "bad JSON at byte"},
		{"too large", `{"title":"` + strings.Repeat("x", api.MaxBody) + `"}`, "bad JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.DecodeRequest(strings.NewReader(tt.body))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want %q", err, tt.err)
			case err != nil && strings.Contains(err.Error(), "api.Request"):
				t.Fatalf("error names a Go type: %v", err)
			}
		})
	}
}

// FuzzDecodeRequest: any body decodes or fails with a message for people,
// never a panic and never a Go type name.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"to":["a"],"title":"t"}`, `{"all":true,"uri":"https://x"}`, `[]`, `{"ttl":5}`, `{"to":[null]}`, "\x00", `{"a":` + strings.Repeat("[", 100)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := api.DecodeRequest(strings.NewReader(string(b)))
		if err != nil {
			if strings.Contains(err.Error(), "api.") || errors.Unwrap(err) != nil {
				t.Fatalf("error leaks internals: %v", err)
			}
			return
		}
		_ = req
	})
}
