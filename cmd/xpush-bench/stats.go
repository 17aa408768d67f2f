package main

import (
	"slices"
	"time"
)

// Dist summarises a distribution of durations, in milliseconds.
type Dist struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// percentile returns the nearest-rank percentile of sorted (ascending):
// the smallest value with at least perMille/1000 of the values at or
// below it. perMille is the percentile in thousandths (500 for the
// median, 990 for p99), so that no floating-point rounding moves a rank.
func percentile(sorted []time.Duration, perMille int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (perMille*n + 999) / 1000 // ceil(perMille*n/1000)
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// distOf summarises ds; it does not modify ds.
func distOf(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Dist{
		N:    len(s),
		Min:  ms(s[0]),
		Mean: ms(sum / time.Duration(len(s))),
		P50:  ms(percentile(s, 500)),
		P90:  ms(percentile(s, 900)),
		P99:  ms(percentile(s, 990)),
		Max:  ms(s[len(s)-1]),
	}
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// perSecond returns n per second over d, 0 when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
