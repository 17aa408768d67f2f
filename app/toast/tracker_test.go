package toast

import (
	"fmt"
	"testing"
)

func TestTrackerBounds(t *testing.T) {
	tr := newTracker(maxTracked)
	for i := 1; i <= maxTracked+5; i++ {
		tr.add(uint32(i), fmt.Sprint("k", i))
	}
	if tr.len() != maxTracked || len(tr.byID) != maxTracked {
		t.Fatalf("len = %d (map %d), want %d", tr.len(), len(tr.byID), maxTracked)
	}
	for i := 1; i <= 5; i++ {
		if k, ok := tr.key(uint32(i)); ok {
			t.Errorf("id %d (%s) should have been evicted as the oldest", i, k)
		}
	}
	if k, ok := tr.key(6); !ok || k != "k6" {
		t.Errorf("key(6) = %q, %v", k, ok)
	}
	if k, ok := tr.key(maxTracked + 5); !ok || k != fmt.Sprint("k", maxTracked+5) {
		t.Errorf("newest = %q, %v", k, ok)
	}
}

func TestTrackerRemoveAndReuse(t *testing.T) {
	tr := newTracker(3)
	tr.add(1, "a")
	tr.add(2, "b")
	tr.remove(1)
	tr.remove(1) // twice is harmless
	tr.remove(99)
	if _, ok := tr.key(1); ok || tr.len() != 1 {
		t.Fatalf("after remove: len %d", tr.len())
	}
	// A restarted server hands out id 2 again: the new key wins and the
	// entry becomes the newest.
	tr.add(2, "b2")
	tr.add(3, "c")
	tr.add(4, "d")
	if k, _ := tr.key(2); k != "b2" || tr.len() != 3 {
		t.Fatalf("key(2) = %q, len %d", k, tr.len())
	}
	tr.add(5, "e") // evicts 2, the oldest
	if _, ok := tr.key(2); ok {
		t.Error("id 2 should have been evicted")
	}
	tr.reset()
	if tr.len() != 0 || len(tr.byID) != 0 {
		t.Error("reset left entries")
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\r\nb\tc", "a\nb\tc"},
		{"bell\a esc\x1b[31m nul\x00", "bell  esc [31m nul "},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"line\u2028sep", "line sep"},
	}
	for _, tt := range tests {
		if got := clean(tt.in, 100); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := clean("héllo wörld", 5); got != "héllo…" {
		t.Errorf("clean cut = %q", got)
	}
}
