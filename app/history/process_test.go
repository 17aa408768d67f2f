package history

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests re-execute their own binary as a child process: childEnv
// names what the child does, childPathEnv where.
const (
	childEnv     = "XPUSH_HISTORY_TEST_CHILD"
	childPathEnv = "XPUSH_HISTORY_TEST_PATH"
	childNameEnv = "XPUSH_HISTORY_TEST_NAME"
)

// children are the things a child process can be asked to do; each
// returns the exit code.
var children = map[string]func() int{
	"add": childAdd,
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		f, ok := children[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
			os.Exit(2)
		}
		os.Exit(f())
	}
	os.Exit(m.Run())
}

// childCommand returns the command that runs this test binary as a child
// in mode.
func childCommand(mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// childAdd adds entries to the history at $XPUSH_HISTORY_TEST_PATH until it
// is killed, and writes "added KEY" on stdout after each Add that returned
// added: the agent's "toast". Every third entry has a key shared with the
// other children.
func childAdd() int {
	ctx := context.Background()
	s, err := Open(ctx, os.Getenv(childPathEnv), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	name := os.Getenv(childNameEnv)
	deadline := time.Now().Add(time.Minute) // in case the parent is gone
	for i := 0; time.Now().Before(deadline); i++ {
		key := fmt.Sprintf("iq:%s-%d", name, i)
		if i%3 == 0 {
			key = fmt.Sprintf("iq:shared-%d", i/3)
		}
		added, err := s.Add(ctx, entry(key, time.Now()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		if added {
			fmt.Fprintf(os.Stdout, "added %s\n", key) // os.Stdout is unbuffered
		}
	}
	return 0
}

// TestKilledAfterAdd runs two agent processes that add to one history and
// are killed (SIGKILL on Unix) in the middle of their work, while this
// process watches the history as the window would. Every key a child
// printed, that is every notification it would have shown, is in the
// history afterwards, and no shared key was added by both.
func TestKilledAfterAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "xpush", "history.db")
	window := openStore(t, path, Options{})
	v0 := version(t, window)

	names := []string{"a", "b"}
	killAfter := map[string]int{"a": 40, "b": 75}
	printed := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		cmd := childCommand("add", childPathEnv+"="+path, childNameEnv+"="+name)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			n := 0
			for sc.Scan() {
				key, ok := strings.CutPrefix(sc.Text(), "added ")
				if !ok {
					t.Errorf("child %s: unexpected line %q", name, sc.Text())
					continue
				}
				mu.Lock()
				printed[name] = append(printed[name], key)
				mu.Unlock()
				if n++; n == killAfter[name] {
					if err := cmd.Process.Kill(); err != nil {
						t.Errorf("kill child %s: %v", name, err)
					}
				}
			}
			// The pipe is drained: every line written before the kill was read.
			if err := cmd.Wait(); err == nil {
				t.Errorf("child %s exited by itself", name)
			}
			if n < killAfter[name] {
				t.Errorf("child %s printed %d keys, expected at least %d", name, n, killAfter[name])
			}
		})
	}

	// The window notices the children's entries by polling Version.
	seen := false
	for range 1000 { // up to 10 s: the children start slowly under -race

		if version(t, window) != v0 {
			seen = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !seen {
		t.Errorf("window's Version never changed while the children added")
	}
	wg.Wait()
	if es, err := window.List(ctx, Query{}); err != nil || len(es) == 0 {
		t.Errorf("window's List after the children = %d entries, %v", len(es), err)
	}

	s := openStore(t, path, Options{})
	var check string
	if err := s.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	shared := map[string]string{}
	total := 0
	for _, name := range names {
		for _, key := range printed[name] {
			total++
			if _, err := s.Get(ctx, key); err != nil {
				t.Errorf("key %s that child %s printed: %v", key, name, err)
			}
			if other, ok := shared[key]; ok {
				t.Errorf("key %s added by both child %s and child %s", key, other, name)
			}
			shared[key] = name
		}
	}
	t.Logf("children printed %d keys (a %d, b %d); all in the history", total, len(printed["a"]), len(printed["b"]))
	checkCounters(t, s)
}
