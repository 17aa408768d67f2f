package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

// fuzzToken is the API token of the fuzz targets' handler.
const fuzzToken = "xpt_fuzz-token"

// nopNotifier stands in for delivery: the fuzz target checks what the
// API stores and answers.
type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, *store.Notification) {}

// fuzzAPI is the API over a memory store with users alice and bob,
// renewed every fuzzAPIResetEvery inputs so that the store stays small.
type fuzzAPI struct {
	mux *http.ServeMux
	n   int
}

const fuzzAPIResetEvery = 1000

func (fa *fuzzAPI) next(tb testing.TB) *http.ServeMux {
	if fa.mux != nil && fa.n < fuzzAPIResetEvery {
		fa.n++
		return fa.mux
	}
	st := store.NewMemory()
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if err := st.CreateUser(ctx, store.User{Name: u, Created: time.Unix(1, 0)}); err != nil {
			tb.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte(fuzzToken))
	if err := st.CreateAPIToken(ctx, store.Token{Name: "fuzz", Hash: sum[:], Created: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	fa.mux = http.NewServeMux()
	(&api.Handler{
		Tokens: st,
		Sender: &send.Sender{Store: st, Notifier: nopNotifier{}, Now: time.Now},
		Now:    time.Now,
	}).Register(fa.mux)
	fa.n = 1
	return fa.mux
}

func (fa *fuzzAPI) do(tb testing.TB, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fuzzToken)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	if fa.mux == nil {
		fa.next(tb)
	}
	fa.mux.ServeHTTP(w, req)
	return w
}

// internals are words of Go errors that must not reach a caller.
var internals = []string{"json:", "store:", "send:", "api.", "runtime", "sqlite", "goroutine"}

// FuzzPostNotification posts arbitrary bodies to POST /api/v1/notifications
// through the whole handler (decoding, validation, the store): the answer
// is 202 with the id, or a refusal in JSON with a sentence, never a 500;
// an accepted notification reads back as it was sent.
func FuzzPostNotification(f *testing.F) {
	for _, s := range []string{
		`{"to":["alice"],"title":"t"}`,
		`{"to":["alice","bob","alice"],"title":"T","message":"M","uri":"https://example.org/a.png","ttl":"24h","id":"fixed-id"}`,
		`{"all":true,"message":"m","ttl":"720h"}`,
		`{"to":["carol"],"title":"nobody"}`,
		`{"to":["ALICE@"],"title":"case and at"}`,
		`{"to":["alice"],"all":true,"title":"both"}`,
		`{"to":[],"title":"none"}`,
		`{"to":["alice"],"title":"","message":"  "}`,
		`{"to":["alice"],"title":"t","uri":"javascript:alert(1)"}`,
		`{"to":["alice"],"title":"t","ttl":"-1s"}`,
		`{"to":["alice"],"title":"t","ttl":"9999999h"}`,
		`{"to":["alice"],"title":"\ud800"}`,
		`{"to":["a\u0000b"],"title":"nul"}`,
		`{"to":["alice"],"title":"t","id":""}`,
		`{"to":["alice"],"title":"t"}{"all":true}`,
		`{"to":null,"all":false,"title":null}`,
		`[]`, `null`, `"x"`, ``,
	} {
		f.Add(s)
	}
	var fa fuzzAPI // inputs run one at a time in each fuzzing process
	f.Fuzz(func(t *testing.T, body string) {
		fa.next(t) // a fresh store now and then, never within one input
		w := fa.do(t, http.MethodPost, "/api/v1/notifications", body)
		var out map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d with a body that is not a JSON object of strings: %q", w.Code, w.Body)
		}
		switch w.Code {
		case http.StatusAccepted:
			id := out["id"]
			if id == "" {
				t.Fatalf("202 without an id: %q", w.Body)
			}
			req, err := api.DecodeRequest(strings.NewReader(body))
			if err != nil {
				t.Fatalf("202 for a body DecodeRequest refuses (%v): %q", err, body)
			}
			if req.ID != "" && req.ID != id {
				t.Fatalf("asked for id %q, got %q", req.ID, id)
			}
			g := fa.do(t, http.MethodGet, "/api/v1/notifications/"+url.PathEscape(id), "")
			var st api.Status
			if g.Code != http.StatusOK || json.Unmarshal(g.Body.Bytes(), &st) != nil {
				t.Fatalf("GET of accepted %q: %d %q", id, g.Code, g.Body)
			}
			if st.ID != id || st.Title != req.Title || st.Message != req.Message || st.URI != req.URI || st.All != req.All {
				t.Fatalf("sent %+v, reads back %+v", req, st)
			}
			if !req.All && len(st.Recipients) == 0 {
				t.Fatalf("accepted %q with no recipient", body)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			msg := out["error"]
			if msg == "" {
				t.Fatalf("%d without an error message: %q", w.Code, w.Body)
			}
			for _, word := range internals {
				if strings.Contains(msg, word) {
					t.Fatalf("the error shows internals (%q): %q", word, msg)
				}
			}
		default:
			t.Fatalf("status %d for %q: %q", w.Code, body, w.Body)
		}
	})
}
