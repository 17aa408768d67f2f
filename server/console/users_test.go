package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/server/store"
)

// C2SPresence takes the c2s listener as it is.
var _ = func(s *c2s.Server) Presence { return C2SPresence(s) }

func verify(t *testing.T, st store.Store, name, pw string) bool {
	t.Helper()
	u, err := st.User(context.Background(), name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return account.Verify(u, pw)
}

func TestUsersList(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0.Add(-time.Hour))
	e.addUser("bob", t0.Add(-time.Hour))
	e.addUser("<carol>", t0.Add(-time.Hour))
	e.presence["alice"] = []SessionInfo{
		{Resource: "laptop", Since: t0.Add(-90 * time.Minute), IP: "192.0.2.1", Online: true},
		{Resource: "phone", Since: t0.Add(-3 * time.Minute), IP: "192.0.2.2", Online: false},
	}
	ck := e.login()
	w := e.get("/users", ck)
	wantCode(t, w, http.StatusOK)
	b := body(w)
	wantContains(t, b, "Users <span class=\"muted\">(3)</span>",
		`<a href="/users/alice">alice</a></td>
<td><span class="badge online">online</span></td>
<td><div>laptop <span class="muted">since 1h 30m</span></div><div>phone <span class="muted">detached, since 3m</span></div></td>`,
		`<a href="/users/bob">bob</a></td>
<td><span class="badge offline">offline</span></td>`,
		`<a href="/users/%3Ccarol%3E">&lt;carol&gt;</a>`)
	b = body(e.get("/users?q=BO", ck))
	wantContains(t, b, `href="/users/bob"`)
	wantNotContains(t, b, `href="/users/alice"`)

	b = body(e.get("/users/alice", ck))
	wantContains(t, b, "<td>laptop</td>", "192.0.2.1", "connected", "detached, may resume", `href="/?to=alice"`,
		`action="/users/alice/password"`, `action="/users/alice/delete" data-confirm=`)

	// Without presence (component mode), the state is unknown.
	e.c.opts.Presence = nil
	wantContains(t, body(e.get("/users", ck)), `<span class="badge">unknown</span>`)
}

func TestUsersPaging(t *testing.T) {
	e := newEnv(t)
	for i := range pageSize + 2 {
		e.addUser("user"+string(rune('a'+i)), t0)
	}
	ck := e.login()
	b := body(e.get("/users", ck))
	if n := strings.Count(b, `<a href="/users/user`); n != pageSize {
		t.Errorf("page 1: %d users", n)
	}
	wantContains(t, b, `<a href="/users?page=2">Next</a>`)
	b = body(e.get("/users?page=2", ck))
	if n := strings.Count(b, `<a href="/users/user`); n != 2 {
		t.Errorf("page 2: %d users", n)
	}
}

func TestAddUser(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	w := e.post("/users", ck, url.Values{"name": {" Dave "}, "password": {"a good password"}})
	wantCode(t, w, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != "/users/dave?done=added" {
		t.Errorf("Location %q", loc)
	}
	if !verify(t, e.store, "dave", "a good password") {
		t.Error("dave's password does not verify")
	}
	u, _ := e.store.User(context.Background(), "dave")
	if !u.Created.Equal(t0) || u.Legacy != "" || u.SHA1.Iters != 1 {
		t.Errorf("stored %+v", u)
	}
	wantContains(t, body(e.get(w.Header().Get("Location"), ck)), "User added.")

	for _, tc := range []struct {
		name, pw string
		code     int
		msg      string
	}{
		{"dave", "another password", http.StatusConflict, "A user named dave exists already."},
		{"DAVE", "another password", http.StatusConflict, "exists already"},
		{"a@b", "another password", http.StatusBadRequest, "not a valid user name"},
		{"", "another password", http.StatusBadRequest, "not a valid user name"},
		{"x/y", "another password", http.StatusBadRequest, "not a valid user name"},
		{"erin", "short", http.StatusBadRequest, "at least 8 characters"},
		{"erin", strings.Repeat("p", account.MaxPassword+1), http.StatusBadRequest, "too long"},
	} {
		w := e.post("/users", ck, url.Values{"name": {tc.name}, "password": {tc.pw}})
		if w.Code != tc.code {
			t.Errorf("add %q: status %d, want %d", tc.name, w.Code, tc.code)
			continue
		}
		b := body(w)
		wantContains(t, b, tc.msg, `name="name" value="`+htmlEscape(tc.name)+`"`)
		wantNotContains(t, b, tc.pw)
	}
	if _, err := e.store.User(context.Background(), "erin"); !errors.Is(err, store.ErrNotFound) {
		t.Error("erin was created")
	}

	// An empty password is generated and shown once.
	w = e.post("/users", ck, url.Values{"name": {"frank"}})
	wantCode(t, w, http.StatusOK)
	m := regexp.MustCompile(`<code>([A-Z2-7]{26,})</code>`).FindStringSubmatch(body(w))
	if m == nil {
		t.Fatal("no generated password shown")
	}
	if !verify(t, e.store, "frank", m[1]) {
		t.Error("the shown password does not verify")
	}
	wantNotContains(t, body(e.get("/users/frank", ck)), m[1])
}

func TestAddUserLegacy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LegacyDigest = true })
	ck := e.login()
	wantCode(t, e.post("/users", ck, url.Values{"name": {"gail"}, "password": {"legacy password"}}), http.StatusSeeOther)
	if u, _ := e.store.User(context.Background(), "gail"); u.Legacy != "legacy password" {
		t.Errorf("Legacy = %q", u.Legacy)
	}
}

func TestResetPassword(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	ck := e.login()
	w := e.post("/users/alice/password", ck, url.Values{"password": {"a new password"}})
	wantCode(t, w, http.StatusSeeOther)
	if !verify(t, e.store, "alice", "a new password") || verify(t, e.store, "alice", "password1") {
		t.Error("the password did not change")
	}
	wantContains(t, body(e.get(w.Header().Get("Location"), ck)), "Password changed.")

	w = e.post("/users/alice/password", ck, url.Values{"password": {"short"}})
	wantCode(t, w, http.StatusBadRequest)
	wantContains(t, body(w), "at least 8 characters", "<h1>alice</h1>")
	if !verify(t, e.store, "alice", "a new password") {
		t.Error("a refused reset changed the password")
	}

	w = e.post("/users/alice/password", ck, url.Values{})
	wantCode(t, w, http.StatusOK)
	m := regexp.MustCompile(`<code>([A-Z2-7]{26,})</code>`).FindStringSubmatch(body(w))
	if m == nil || !verify(t, e.store, "alice", m[1]) {
		t.Error("the generated password is not shown or does not verify")
	}
	wantCode(t, e.post("/users/nobody/password", ck, url.Values{"password": {"a new password"}}), http.StatusNotFound)
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	e.addUser("a b%c", t0) // odd but valid localpart, escaped in the path
	ck := e.login()
	w := e.post("/users/alice/delete", ck, nil)
	wantCode(t, w, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != "/users?done=deleted" {
		t.Errorf("Location %q", loc)
	}
	if _, err := e.store.User(context.Background(), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Error("alice is still there")
	}
	wantContains(t, body(e.get("/users?done=deleted", ck)), "User deleted.")
	wantCode(t, e.post("/users/alice/delete", ck, nil), http.StatusNotFound)
	wantCode(t, e.get("/users/alice", ck), http.StatusNotFound)

	b := body(e.get("/users", ck))
	wantContains(t, b, `href="/users/a%20b%25c"`)
	wantCode(t, e.post("/users/a%20b%25c/delete", ck, nil), http.StatusSeeOther)
	if n, _ := e.store.CountUsers(context.Background()); n != 0 {
		t.Errorf("%d users left", n)
	}
	// An unknown ?done= shows nothing.
	wantNotContains(t, body(e.get("/users?done=%3Cb%3Epwned", ck)), "pwned", `class="flash"`)
}
