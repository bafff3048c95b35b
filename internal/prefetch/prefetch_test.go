package prefetch

import (
	"testing"
	"unsafe"
)

// TestLine checks that a prefetch never faults, even of addresses that
// are not mapped, and changes nothing.
func TestLine(t *testing.T) {
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(i)
	}
	Lines(unsafe.Pointer(&b[0]), uintptr(len(b)))
	Line(0)
	Line(^uintptr(0) &^ 63)
	Line(uintptr(1) << 47)
	for i := range b {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed", i)
		}
	}
}
