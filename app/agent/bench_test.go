package agent_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/server/send"
)

// BenchmarkNotificationToToast measures, inside the agent, the time from
// a notification event to the toast request (history write included),
// over notifications pushed by an in-process xpushd one at a time. The
// issue's target is under 50 ms.
func BenchmarkNotificationToToast(b *testing.B) {
	x := startServer(b, false)
	dir, keys := b.TempDir(), &secret.Memory{}
	setUp(b, dir, x, "bench", keys)
	r := newRig(b, rigOptions{dir: dir, keys: keys})
	r.waitOnline()
	var shown []time.Duration
	i := 0
	for b.Loop() {
		key := x.send(b, "bench", send.Request{Title: fmt.Sprint("n", i), Message: "m"})
		d := r.waitDelivery(key, 1)
		if !d.Toasted {
			b.Fatalf("not toasted: %+v", d)
		}
		shown = append(shown, d.Shown)
		i++
	}
	slices.Sort(shown)
	pct := func(p float64) float64 {
		return float64(shown[int(p*float64(len(shown)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.5), "p50-ms-to-toast")
	b.ReportMetric(pct(0.99), "p99-ms-to-toast")
}
