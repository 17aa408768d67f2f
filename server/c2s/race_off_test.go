//go:build !race

package c2s_test

// raceEnabled is true under the race detector.
const raceEnabled = false
