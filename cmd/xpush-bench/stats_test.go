package main

import (
	"math"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile is p ms.
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		perMille int
		want     time.Duration
	}{
		{500, 50 * time.Millisecond},
		{900, 90 * time.Millisecond},
		{990, 99 * time.Millisecond},
		{999, 100 * time.Millisecond},
		{1000, 100 * time.Millisecond},
		{0, 1 * time.Millisecond},
		{1, 1 * time.Millisecond},
	} {
		if got := percentile(s, c.perMille); got != c.want {
			t.Errorf("percentile(1..100, %d‰) = %v, want %v", c.perMille, got, c.want)
		}
	}
	// Ten values: p90 is the 9th, p99 the 10th (ceil(9.9)), p50 the 5th.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for perMille, want := range map[int]time.Duration{500: 5, 900: 9, 990: 10, 100: 1, 101: 2} {
		if got := percentile(ten, perMille); got != want {
			t.Errorf("percentile(1..10, %d‰) = %v, want %v", perMille, got, want)
		}
	}
	if got := percentile([]time.Duration{7}, 990); got != 7 {
		t.Errorf("one value: %v", got)
	}
	if got := percentile(nil, 500); got != 0 {
		t.Errorf("no values: %v", got)
	}
}

func TestDistOf(t *testing.T) {
	in := []time.Duration{4 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	d := distOf(in)
	want := Dist{N: 4, Min: 1, Mean: 2.5, P50: 2, P90: 4, P99: 4, Max: 4}
	if d != want {
		t.Errorf("distOf = %+v, want %+v", d, want)
	}
	if in[0] != 4*time.Millisecond {
		t.Error("distOf sorted its argument in place")
	}
	if (distOf(nil) != Dist{}) {
		t.Error("distOf(nil) is not zero")
	}
	if got := ms(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("ms(1.5ms) = %v", got)
	}
	if got := perSecond(500, 250*time.Millisecond); got != 2000 {
		t.Errorf("perSecond = %v", got)
	}
	if got := perSecond(5, 0); got != 0 {
		t.Errorf("perSecond over 0 = %v", got)
	}
}

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		old, new float64
		higher   bool
		ratio    float64
		word     string
	}{
		{1000, 2000, true, 2, "better"},  // logins/s doubled
		{1000, 500, true, 0.5, "worse"},  // logins/s halved
		{10, 5, false, 0.5, "better"},    // latency halved
		{10, 12.5, false, 1.25, "worse"}, // latency up a quarter
		{3, 3, false, 1, "same"},         // unchanged
		{0, 5, true, math.Inf(1), "better"},
	} {
		ratio, word := verdict(c.old, c.new, c.higher)
		if ratio != c.ratio || word != c.word {
			t.Errorf("verdict(%v, %v, higher=%v) = %v %s, want %v %s", c.old, c.new, c.higher, ratio, word, c.ratio, c.word)
		}
	}
}
