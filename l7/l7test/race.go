//go:build race

package l7test

// RaceEnabled reports whether the race detector is on: sync.Pool drops
// items at random under it, so allocation checks of pooled memory do not
// hold.
const RaceEnabled = true
