package slabmem

import (
	"syscall"
	"unsafe"
)

// madvHugepage is MADV_HUGEPAGE, which package syscall does not name.
const madvHugepage = 14

// newRegion maps size bytes (a multiple of HugePage) aligned to HugePage,
// asking for huge pages. It panics when the system refuses the mapping, as
// the Go heap does when it cannot grow.
func newRegion(size uintptr) region {
	b, err := syscall.Mmap(-1, 0, int(size+HugePage), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		panic("slabmem: mmap: " + err.Error())
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	head := roundUp(start, HugePage) - start
	// Trim the unaligned head and the tail beyond size.
	if head > 0 {
		unmap(b[:head])
	}
	if tail := b[head+size:]; len(tail) > 0 {
		unmap(tail)
	}
	b = b[head : head+size : head+size]
	_ = madvise(b, madvHugepage)
	return region{base: unsafe.Pointer(&b[0]), size: size}
}

func (r region) free() { unmap(unsafe.Slice((*byte)(r.base), r.size)) }

func unmap(b []byte) {
	_, _, _ = syscall.Syscall(syscall.SYS_MUNMAP, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0)
}

func madvise(b []byte, advice int) error {
	return syscall.Madvise(b, advice)
}
