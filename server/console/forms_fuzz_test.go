package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xpush/xpush/server/store"
)

// Fuzz targets for the console's forms besides the send form
// (FuzzSendForm): users, passwords, tokens and invites, the admin login
// and the list pages' queries. Each posts what the fuzzer makes as a
// logged-in browser would and checks that the answer is one a person can
// act on (never a 500, a refusal carries its message), that the store
// holds what the answer says, and that nothing typed comes back as
// markup.

// fuzzMarker is markup no console page contains: typed into any field,
// it must come back escaped.
const fuzzMarker = "<zz-fuzz>"

// fuzzResetEvery bounds what a fuzz worker's store accumulates (invites
// cannot be revoked): a fresh console after this many inputs.
const fuzzResetEvery = 200

// fuzzConsole is a console with a logged-in session, renewed now and
// then. The fuzz function runs inputs one at a time per process.
type fuzzConsole struct {
	e   *testEnv
	sid string
	n   int
}

func newFuzzConsole(f *testing.F) *fuzzConsole {
	fc := &fuzzConsole{}
	fc.reset(f)
	return fc
}

// reset makes a fresh console; tb is the fuzz target's F before fuzzing
// starts, the input's T after.
func (fc *fuzzConsole) reset(tb testing.TB) {
	fc.e = newEnv(tb)
	fc.e.t = nil
	fc.e.addUserTB(tb, "alice")
	fc.sid = fc.e.c.sessions.create()
	fc.n = 0
}

// next returns the console for the input of t.
func (fc *fuzzConsole) next(t *testing.T) *testEnv {
	if fc.n++; fc.n > fuzzResetEvery {
		fc.reset(t)
		fc.n = 1
	}
	return fc.e
}

// wantAnswer fails unless the status is one of ok, and checks what any
// answer must be: a refusal (4xx but 413, which may come before the form
// is read) shows its message, and nothing typed comes back as markup.
func wantAnswer(t *testing.T, what string, code int, body string, ok ...int) {
	t.Helper()
	found := false
	for _, c := range ok {
		found = found || c == code
	}
	if !found {
		t.Fatalf("%s: status %d, want one of %v; body:\n%s", what, code, ok, body)
	}
	if code >= 400 && code != http.StatusRequestEntityTooLarge && !strings.Contains(body, `role="alert"`) {
		t.Errorf("%s: %d without a message:\n%s", what, code, body)
	}
	if strings.Contains(body, fuzzMarker) {
		t.Errorf("%s: typed markup %s came back unescaped:\n%s", what, fuzzMarker, body)
	}
}

// FuzzUserForm adds a user with the name and password typed, sets a new
// password, and deletes it: the console must refuse what is not a valid
// account with a message and create only valid, normalized names.
func FuzzUserForm(f *testing.F) {
	f.Add("bob", "a long enough password", "another long password")
	f.Add("Bob ", "", "")
	f.Add("alice", "short", "x")
	f.Add("a@b", "password password", "")
	f.Add("x/y", "", "")
	f.Add(".", "", "") // /users/. would be cleaned to /users/
	f.Add("..", "a long enough password", "")
	f.Add("ǅemil", "pässwörd pässwörd", strings.Repeat("p", 2000))
	f.Add(fuzzMarker, fuzzMarker+"password", fuzzMarker)
	f.Add("\x00", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "")
	f.Add(strings.Repeat("n", 1100), "", "")
	fc := newFuzzConsole(f)
	f.Fuzz(func(t *testing.T, name, password, newPassword string) {
		e := fc.next(t)
		w := e.post("/users", fc.sid, url.Values{"name": {name}, "password": {password}})
		wantAnswer(t, "add user", w.Code, w.Body.String(),
			http.StatusSeeOther, http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge)
		created := fc.extraUsers(t)
		switch {
		case w.Code == http.StatusSeeOther || w.Code == http.StatusOK:
			if len(created) != 1 {
				t.Fatalf("add user %q answered %d, and the store has %d new users", name, w.Code, len(created))
			}
		case len(created) != 0:
			t.Fatalf("add user %q answered %d, and the store has new users %q", name, w.Code, created)
		}
		for _, u := range created {
			if strings.ContainsAny(u, "@/ ") || u == "" {
				t.Errorf("the console created the user %q from %q", u, name)
			}
			path := "/users/" + url.PathEscape(u)
			w := e.post(path+"/password", fc.sid, url.Values{"password": {newPassword}})
			wantAnswer(t, "set password", w.Code, w.Body.String(),
				http.StatusSeeOther, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
			w = e.post(path+"/delete", fc.sid, url.Values{})
			wantAnswer(t, "delete user", w.Code, w.Body.String(), http.StatusSeeOther)
		}
		if left := fc.extraUsers(t); len(left) != 0 {
			t.Fatalf("deleted users are still there: %q", left)
		}
	})
}

// extraUsers returns the users besides alice.
func (fc *fuzzConsole) extraUsers(t *testing.T) []string {
	t.Helper()
	us, err := fc.e.store.ListUsers(context.Background(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		if u.Name != "alice" {
			names = append(names, u.Name)
		}
	}
	return names
}

// FuzzTokenForm creates an API token or an invite with the name and time
// to live typed, and revokes a created token: a created one is in the
// store under the name shown, a refused one is not.
func FuzzTokenForm(f *testing.F) {
	f.Add("ci", "", false)
	f.Add("deploy bot", "90d", false)
	f.Add(" spaces ", "24h", true)
	f.Add("", "", true)
	f.Add("", "1h", false)
	f.Add("tab\there", "0s", false)
	f.Add(strings.Repeat("n", 65), "3651d", true)
	f.Add(fuzzMarker, fuzzMarker, false)
	f.Add("\xff", "-1h", true)
	f.Add("x", "99999999999999999999h", false)
	fc := newFuzzConsole(f)
	f.Fuzz(func(t *testing.T, name, ttl string, invite bool) {
		e := fc.next(t)
		path, prefix := "/tokens", apiTokenPrefix
		if invite {
			path, prefix = "/invites", invitePrefix
		}
		w := e.post(path, fc.sid, url.Values{"name": {name}, "ttl": {ttl}})
		body := w.Body.String()
		wantAnswer(t, "create "+path, w.Code, body,
			http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge)
		if w.Code == http.StatusOK && !strings.Contains(body, prefix) {
			t.Errorf("created, and the page shows no %s token:\n%s", prefix, body)
		}
		if invite {
			return
		}
		toks, err := e.store.ListAPITokens(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case w.Code == http.StatusOK && len(toks) != 1:
			t.Fatalf("token %q created, and the store has %d tokens", name, len(toks))
		case w.Code != http.StatusOK && len(toks) != 0:
			t.Fatalf("token %q refused with %d, and the store has %d tokens", name, w.Code, len(toks))
		}
		for _, tok := range toks {
			if tok.Name != strings.TrimSpace(name) {
				t.Errorf("token %q stored as %q", name, tok.Name)
			}
			w := e.post("/tokens/revoke", fc.sid, url.Values{"name": {tok.Name}})
			wantAnswer(t, "revoke", w.Code, w.Body.String(), http.StatusSeeOther)
		}
	})
}

// FuzzLoginForm logs in with the password and next page typed: only the
// admin password logs in, and the redirect after it never leaves the
// site.
func FuzzLoginForm(f *testing.F) {
	for _, next := range []string{
		"", "/users", "//evil.example", "/\\evil.example", "https://evil.example/",
		"/login?next=/users", "/%2F%2Fevil.example", "/\t/evil.example", "/notifications?q=" + fuzzMarker, "javascript:alert(1)",
	} {
		f.Add(adminPassword, next)
	}
	f.Add("wrong password", "/users")
	f.Add(fuzzMarker, fuzzMarker)
	f.Add("", "\r\nLocation: https://evil.example")
	fc := newFuzzConsole(f)
	f.Fuzz(func(t *testing.T, password, next string) {
		e := fc.next(t)
		e.clock.Advance(throttleWindow + maxBackoff) // no attempt is throttled
		w := e.post("/login", "", url.Values{"password": {password}, "next": {next}})
		wantAnswer(t, "login", w.Code, w.Body.String(), http.StatusSeeOther, http.StatusUnauthorized, http.StatusRequestEntityTooLarge)
		if w.Code != http.StatusSeeOther {
			return
		}
		if password != adminPassword {
			t.Fatalf("logged in with the password %q", password)
		}
		loc := w.Header().Get("Location")
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") ||
			u.Scheme != "" || u.Host != "" || strings.ContainsAny(loc, "\r\n") {
			t.Fatalf("next %q sends the admin to %q", next, loc)
		}
	})
}

// FuzzListQuery fetches the user and notification lists with the search
// and page typed: a list or a refusal with a message, never a failure.
func FuzzListQuery(f *testing.F) {
	f.Add(false, "ali", "1")
	f.Add(true, "", "2")
	f.Add(false, "%_\\", "0")
	f.Add(true, fuzzMarker, "-1")
	f.Add(false, strings.Repeat("q", 300), "1000001")
	f.Add(true, "' OR 1=1 --", "99999999999999999999")
	fc := newFuzzConsole(f)
	f.Fuzz(func(t *testing.T, history bool, q, page string) {
		e := fc.next(t)
		path := "/users"
		if history {
			path = "/notifications"
		}
		w := e.get(path+"?"+url.Values{"q": {q}, "page": {page}}.Encode(), fc.sid)
		wantAnswer(t, path, w.Code, w.Body.String(), http.StatusOK, http.StatusBadRequest)
	})
}
