//go:build race

package stream_test

// raceEnabled is true under the race detector, which makes sync.Pool drop
// a quarter of what is put in it (so pooled buffers are allocated again)
// and slows thousands of goroutines down.
const raceEnabled = true
