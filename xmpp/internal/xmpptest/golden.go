package xmpptest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden compares got with the golden file path. With update set (the
// test package's -update flag) it writes got to path instead. On a
// mismatch it reports the first differing line and both texts.
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("%s: line %d differs:\n got: %s\nwant: %s", path, i+1, gl, wl)
			break
		}
	}
	t.Errorf("%s: transcript differs (run with -update if the change is intended)\nGot:\n%s\nExpected:\n%s", path, got, want)
}
