package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/console"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/sqlite"
)

func openDB(t *testing.T, data string) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(data, dbName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUserCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()

	// A generated password is printed, alone, on stdout.
	r := must(t, "", "user", "add", "--data", data, "--name", "Alice")
	pw := strings.TrimSpace(r.stdout)
	if len(pw) < 20 || strings.Contains(r.stdout, " ") {
		t.Errorf("generated password %q", pw)
	}
	db := openDB(t, data)
	u, err := db.User(ctx, "alice") // normalized
	if err != nil {
		t.Fatal(err)
	}
	if !account.Verify(u, pw) || u.Legacy != "" {
		t.Errorf("stored keys do not match the printed password, or a clear one was kept: %+v", u)
	}

	// From stdin, with the legacy clear copy.
	r = must(t, "bob's password\r\n", "user", "add", "--data", data, "--name", "bob", "--password-stdin", "--legacy-digest")
	if r.stdout != "" {
		t.Errorf("password from stdin echoed: %q", r.stdout)
	}
	if u, _ := db.User(ctx, "bob"); !account.Verify(u, "bob's password") || u.Legacy != "bob's password" {
		t.Errorf("bob: %+v", u)
	}

	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"user", "add", "--name", "alice"}, exitFail, `user "alice" exists already`},
		{"short\n", []string{"user", "add", "--name", "carol", "--password-stdin"}, exitFail, "password shorter than 8"},
		{"", []string{"user", "add", "--name", "carol", "--password-stdin"}, exitFail, "no password on standard input"},
		{strings.Repeat("x", 2000), []string{"user", "add", "--name", "carol", "--password-stdin"}, exitFail, "longer than"},
		{"", []string{"user", "delete", "--name", "nobody"}, exitFail, `no user "nobody"`},
		{"", []string{"user", "passwd", "--name", "nobody"}, exitFail, `no user "nobody"`},
	} {
		r := invocation{stdin: tc.stdin}.run(append(tc.args, "--data", data)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want exit %d and %q\n%v", tc.args, tc.code, tc.want, r)
		}
	}
	if _, err := db.User(ctx, "carol"); err == nil {
		t.Error("carol was added despite the errors")
	}

	r = must(t, "", "user", "list", "--data", data)
	if !regexp.MustCompile(`(?s)^NAME\s+CREATED\nalice\s+\S+ \S+\nbob\s`).MatchString(r.stdout) {
		t.Errorf("user list:\n%s", r.stdout)
	}
	if r := must(t, "", "user", "list", "--data", data, "--query", "bo"); strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "bob") {
		t.Errorf("user list --query bo:\n%s", r.stdout)
	}

	must(t, "a new password\n", "user", "passwd", "--data", data, "--name", "alice", "--password-stdin")
	if u, _ := db.User(ctx, "alice"); !account.Verify(u, "a new password") || account.Verify(u, pw) {
		t.Error("user passwd did not change the keys")
	}
	r = must(t, "", "user", "passwd", "--data", data, "--name", "bob")
	if u, _ := db.User(ctx, "bob"); !account.Verify(u, strings.TrimSpace(r.stdout)) || u.Legacy != "" {
		t.Errorf("generated new password for bob does not verify, or the clear one stayed: %+v", u)
	}

	must(t, "", "user", "delete", "--data", data, "--name", "ALICE")
	if _, err := db.User(ctx, "alice"); err == nil {
		t.Error("alice still there")
	}
	if r := must(t, "", "user", "list", "--data", data); strings.Contains(r.stdout, "alice") {
		t.Errorf("user list after delete:\n%s", r.stdout)
	}
}

func TestInviteCreate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	inv := strings.TrimSpace(must(t, "", "invite", "create", "--data", data, "--ttl", "1h", "--name", "for-dave").stdout)
	if len(inv) != 43 {
		t.Errorf("invite %q", inv)
	}
	db := openDB(t, data)
	ctx := context.Background()
	list, err := db.ListInvites(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "for-dave" {
		t.Fatalf("invites %+v, %v", list, err)
	}
	if d := list[0].Expires.Sub(list[0].Created); d != time.Hour {
		t.Errorf("invite valid for %v, want 1h", d)
	}
	// The c2s listener consumes it by the SHA-256 of what the user types.
	if err := db.UseInvite(ctx, hashToken(inv), time.Now()); err != nil {
		t.Errorf("UseInvite: %v", err)
	}
	if err := db.UseInvite(ctx, hashToken(inv), time.Now()); err == nil {
		t.Error("an invite was used twice")
	}
	if r := must(t, "", "invite", "list", "--data", data); !strings.Contains(r.stdout, "for-dave") || !strings.Contains(r.stdout, "true") {
		t.Errorf("invite list:\n%s", r.stdout)
	}
	// Default validity: a week.
	must(t, "", "invite", "create", "--data", data)
	list, _ = db.ListInvites(ctx)
	if d := list[1].Expires.Sub(list[1].Created); d != DefaultInviteTTL {
		t.Errorf("default invite valid for %v, want %v", d, DefaultInviteTTL)
	}
}

func TestAdminPasswd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	must(t, "correct horse battery\n", "admin", "passwd", "--data", data, "--password-stdin")
	db := openDB(t, data)
	h, err := db.AdminHash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !console.CheckPassword(h, "correct horse battery") || console.CheckPassword(h, "wrong") {
		t.Errorf("stored hash %q does not check", h)
	}
	if r := (invocation{stdin: "short\n"}).run("admin", "passwd", "--data", data, "--password-stdin"); r.code != exitFail || !strings.Contains(r.stderr, "shorter than") {
		t.Errorf("short password: %v", r)
	}
	if h2, _ := db.AdminHash(context.Background()); string(h2) != string(h) {
		t.Error("a refused password changed the hash")
	}
	// On a terminal: asked twice, without echo.
	r := invocation{tty: []string{"another good one", "another good one"}}.run("admin", "passwd", "--data", data)
	if r.code != 0 || strings.Count(r.stderr, "admin password: ") != 1 || !strings.Contains(r.stderr, "Repeat it: ") {
		t.Errorf("terminal: %v", r)
	}
	if h, _ := db.AdminHash(context.Background()); !console.CheckPassword(h, "another good one") {
		t.Error("the password typed twice was not stored")
	}
	r = invocation{tty: []string{"another good one", "another good 0ne"}}.run("admin", "passwd", "--data", data)
	if r.code != exitFail || !strings.Contains(r.stderr, "the two passwords differ") {
		t.Errorf("typo: %v", r)
	}
	r = invocation{tty: []string{"another good one"}}.run("admin", "passwd", "--data", data)
	if r.code != exitFail || !strings.Contains(r.stderr, "cannot read the password") {
		t.Errorf("end of input: %v", r)
	}
	if h, _ := db.AdminHash(context.Background()); !console.CheckPassword(h, "another good one") {
		t.Error("a failed change changed the password")
	}
	// stdin is not a terminal here.
	if r := xpushd("admin", "passwd", "--data", data); r.code != exitUsage || !strings.Contains(r.stderr, "--password-stdin") {
		t.Errorf("no terminal: %v", r)
	}
}
