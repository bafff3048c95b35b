// Package prefetch asks the CPU to start loading memory that code will
// read soon, without waiting for it. Go has no prefetch intrinsic, so Line
// is a few instructions of assembly (PREFETCHT0 on amd64, PRFM PLDL1KEEP on
// arm64) and does nothing on other architectures.
//
// A caller that will look up several unrelated places in a large table
// (flow entries, their L7 state) prefetches all of them first and then
// reads them: the cache misses overlap instead of following one another.
// A plain load would not do: the CPU retires it in order, so a miss stalls
// everything after it once its reorder window is full.
package prefetch

import "unsafe"

// Lines asks for every cache line of the n bytes at p.
func Lines(p unsafe.Pointer, n uintptr) {
	a := uintptr(p)
	end := a + n
	for a &^= 63; a < end; a += 64 {
		Line(a)
	}
}
