package redis

import (
	"testing"
	"unsafe"
)

// TestParser_layout keeps the fields every message touches in the first
// cache line of each direction's state (see half).
func TestParser_layout(t *testing.T) {
	const line = 64
	var p Parser
	h := &p.h[0]
	if off := unsafe.Offsetof(p.h); off%line != 0 {
		t.Errorf("Parser.h at byte %d, not on a cache line", off)
	}
	if n := unsafe.Sizeof(*h); n%line != 0 {
		t.Errorf("half is %d bytes, not a whole number of cache lines", n)
	}
	if end := unsafe.Offsetof(h.skipNext) + 1; end > line {
		t.Errorf("half's scalars end at byte %d, beyond the first cache line", end)
	}
	if off := unsafe.Offsetof(h.frames) + 8; off > line {
		t.Errorf("half.frames[0] ends at byte %d, beyond the first cache line", off)
	}
}
