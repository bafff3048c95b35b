package aggregate

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back s's memory with huge pages (where
// transparent huge pages are on madvise): the key tables and the windows'
// arrays are hit at random, and a TLB miss per record costs more than the
// cache miss it comes with. Advice only: errors are ignored.
func adviseHuge[T any](s []T) {
	const huge = 2 << 20
	n := uintptr(cap(s)) * unsafe.Sizeof(*new(T))
	if n < 2*huge {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	start := (p + huge - 1) &^ (huge - 1)
	end := (p + n) &^ (huge - 1)
	if end <= start {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), start-p)), end-start)
	_ = syscall.Madvise(b, 14) // MADV_HUGEPAGE
}
