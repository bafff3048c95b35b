//go:build race

package pipeline_test

// raceEnabled: sync.Pool drops items at random under the race detector.
const raceEnabled = true
