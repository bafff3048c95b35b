package redis

import (
	"testing"
	"unsafe"
)

// TestParser_layout keeps each direction's state, which every message
// touches, in one cache line (see half), and the Parser, which an idle
// connection keeps, small.
func TestParser_layout(t *testing.T) {
	const line = 64
	var p Parser
	if off := unsafe.Offsetof(p.h); off%line != 0 {
		t.Errorf("Parser.h at byte %d, not on a cache line", off)
	}
	if n := unsafe.Sizeof(p.h[0]); n != line {
		t.Errorf("half is %d bytes, not one cache line", n)
	}
	// 2,088 bytes with each direction's buffers in it; 320 is a size
	// class of whole cache lines (an object of 288 would start on one
	// only every other time).
	if n := unsafe.Sizeof(p); n != 320 {
		t.Errorf("Parser is %d bytes, want 320", n)
	}
}
