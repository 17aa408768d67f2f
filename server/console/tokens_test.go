package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
)

var (
	tokenRE  = regexp.MustCompile(`<code>(xpt_[A-Za-z0-9_-]{43})</code>`)
	inviteRE = regexp.MustCompile(`<code>(xpi_[A-Za-z0-9_-]{43})</code>`)
)

// apiStatus asks the real API for a notification with token: 404 means
// the token was accepted, 401 refused.
func apiStatus(t *testing.T, e *testEnv, token string) int {
	t.Helper()
	mux := http.NewServeMux()
	(&api.Handler{Tokens: e.store, Sender: e.sender, Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now}).Register(mux)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/notifications/none", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	return w.Code
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	wantContains(t, body(e.get("/tokens", ck)), "No API tokens.", "No invites.")

	w := e.post("/tokens", ck, url.Values{"name": {"ci <bot>"}})
	wantCode(t, w, http.StatusOK)
	b := body(w)
	m := tokenRE.FindStringSubmatch(b)
	if m == nil {
		t.Fatalf("no token shown:\n%s", b)
	}
	token := m[1]
	wantContains(t, b, "shown only now", "<td>ci &lt;bot&gt;</td>")

	// The store keeps only the SHA-256, which is what the API looks up.
	ts, err := e.store.ListAPITokens(context.Background())
	must(t, err)
	sum := sha256.Sum256([]byte(token))
	if len(ts) != 1 || ts[0].Name != "ci <bot>" || !bytes.Equal(ts[0].Hash, sum[:]) || !ts[0].Created.Equal(t0) || !ts[0].Expires.IsZero() {
		t.Fatalf("stored %+v", ts)
	}
	if code := apiStatus(t, e, token); code != http.StatusNotFound {
		t.Errorf("API with the new token: %d, want 404 (authenticated)", code)
	}
	if code := apiStatus(t, e, token+"x"); code != http.StatusUnauthorized {
		t.Errorf("API with a wrong token: %d", code)
	}
	// Listed later by name only.
	b = body(e.get("/tokens", ck))
	wantContains(t, b, "ci &lt;bot&gt;", `<input type="hidden" name="name" value="ci &lt;bot&gt;">`)
	wantNotContains(t, b, token, "xpt_")

	// Names are unique.
	w = e.post("/tokens", ck, url.Values{"name": {"ci <bot>"}})
	wantCode(t, w, http.StatusConflict)
	wantContains(t, body(w), "exists already", `name="name" value="ci &lt;bot&gt;"`)
	for _, form := range []url.Values{
		{"name": {""}},
		{"name": {"a\x00b"}},
		{"name": {string(bytes.Repeat([]byte("n"), 65))}},
		{"name": {"x"}, "ttl": {"soon"}},
		{"name": {"x"}, "ttl": {"0d"}},
	} {
		wantCode(t, e.post("/tokens", ck, form), http.StatusBadRequest)
	}

	// Expiry.
	w = e.post("/tokens", ck, url.Values{"name": {"short-lived"}, "ttl": {"1h"}})
	wantCode(t, w, http.StatusOK)
	short := tokenRE.FindStringSubmatch(body(w))[1]
	tok, err := e.store.APIToken(context.Background(), sha(short))
	must(t, err)
	if !tok.Expires.Equal(t0.Add(time.Hour)) {
		t.Errorf("Expires %v", tok.Expires)
	}

	// Revoke.
	w = e.post("/tokens/revoke", ck, url.Values{"name": {"ci <bot>"}})
	wantCode(t, w, http.StatusSeeOther)
	wantContains(t, body(e.get(w.Header().Get("Location"), ck)), "Token revoked.")
	if _, err := e.store.APIToken(context.Background(), sum[:]); !errors.Is(err, store.ErrNotFound) {
		t.Error("the revoked token is still stored")
	}
	if code := apiStatus(t, e, token); code != http.StatusUnauthorized {
		t.Errorf("API with the revoked token: %d, want 401", code)
	}
	wantCode(t, e.post("/tokens/revoke", ck, url.Values{"name": {"ci <bot>"}}), http.StatusNotFound)
}

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func TestInvites(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	w := e.post("/invites", ck, url.Values{"name": {"for Carol"}, "ttl": {"7d"}})
	wantCode(t, w, http.StatusOK)
	m := inviteRE.FindStringSubmatch(body(w))
	if m == nil {
		t.Fatal("no invite shown")
	}
	is, err := e.store.ListInvites(context.Background())
	must(t, err)
	if len(is) != 1 || !bytes.Equal(is[0].Hash, sha(m[1])) || !is[0].Expires.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("stored %+v", is)
	}
	b := body(e.get("/tokens", ck))
	wantContains(t, b, "<td>for Carol</td>", "<td>unused</td>")
	wantNotContains(t, b, m[1])
	// The c2s listener consumes it by hash.
	must(t, e.store.UseInvite(context.Background(), sha(m[1]), t0))
	wantContains(t, body(e.get("/tokens", ck)), "<td>used</td>")

	// Without a note or expiry.
	w = e.post("/invites", ck, url.Values{"ttl": {""}})
	wantCode(t, w, http.StatusOK)
	wantContains(t, body(w), `<td class="nowrap">never</td><td>unused</td>`)
	wantCode(t, e.post("/invites", ck, url.Values{"name": {"soon gone"}, "ttl": {"1h"}}), http.StatusOK)
	e.clock.Advance(90 * time.Minute)
	wantContains(t, body(e.get("/tokens", ck)), `<td>soon gone</td><td class="nowrap">2026-03-01 12:00:00</td><td class="nowrap">2026-03-01 13:00:00</td><td>expired</td>`)
	wantCode(t, e.post("/invites", ck, url.Values{"ttl": {"x"}}), http.StatusBadRequest)
}
