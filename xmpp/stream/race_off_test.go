//go:build !race

package stream_test

// raceEnabled is true under the race detector.
const raceEnabled = false
