package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// darwinPackages are the agent's packages with macOS-only files that build
// without cgo (the Fyne and systray ones need the macOS SDK).
var darwinPackages = []string{
	"./app/toast", "./app/opener", "./app/autostart", "./app/ipc", "./app/history", "./app/config",
}

// TestCrossBuild checks that the agent builds for the other desktops:
//
//   - macOS: go vet (which type-checks) of the packages with darwin
//     files, with CGO_ENABLED=0; about 35 s with a cold cache, a few
//     seconds warm;
//   - Windows: the whole agent, Fyne and all, with cgo and MinGW
//     (gcc-mingw-w64-x86-64). Cold, that build takes minutes, so it runs
//     only with XPUSH_CROSS=1 (or XPUSH_INTEROP=1, where a missing MinGW
//     fails the test).
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	need(t, "go")
	t.Run("darwin", func(t *testing.T) {
		t.Parallel()
		args := append([]string{"vet"}, darwinPackages...)
		goCmd(t, 5*time.Minute, []string{"GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0"}, args...)
	})
	t.Run("windows", func(t *testing.T) {
		t.Parallel()
		if os.Getenv("XPUSH_CROSS") != "1" && os.Getenv("XPUSH_INTEROP") != "1" {
			t.Skip("the Windows cross-build of Fyne takes minutes with a cold cache: set XPUSH_CROSS=1")
		}
		need(t, "x86_64-w64-mingw32-gcc")
		goCmd(t, 15*time.Minute,
			[]string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=1", "CC=x86_64-w64-mingw32-gcc"},
			"build", "-o", os.DevNull, ".")
	})
}

// goCmd runs the go command in the module's root with env added, and
// fails the test if it fails or takes longer than timeout.
func goCmd(t *testing.T, timeout time.Duration, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.Fatalf("%s go %s: %v after %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, took, out)
	}
	t.Logf("%s go %s: ok in %v", strings.Join(env, " "), strings.Join(args, " "), took)
}
