//go:build !linux

package slabmem

import "unsafe"

// newRegion allocates size bytes from the Go heap, aligned to 4096.
func newRegion(size uintptr) region {
	b := make([]byte, size+4096)
	head := roundUp(uintptr(unsafe.Pointer(&b[0])), 4096) - uintptr(unsafe.Pointer(&b[0]))
	return region{base: unsafe.Pointer(&b[head]), size: size, heap: b}
}

func (r region) free() {}
