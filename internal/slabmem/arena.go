package slabmem

import (
	"sync/atomic"
	"unsafe"
)

// RegionSize is the size of the regions an Arena maps: a multiple of the
// huge page size.
const RegionSize = 32 << 20

// HugePage is the huge page size regions are aligned to.
const HugePage = 2 << 20

// Arena carves allocations out of regions it maps. It is not safe for
// concurrent use. The zero Arena is ready to use.
type Arena struct {
	regions []region // Alloc's; the last one is being carved
	used    uintptr  // bytes handed out of the last region
	large   []region // Map's
	bytes   uint64   // handed out by Alloc (alignment included) and Map
}

// inUse is the bytes all Arenas have handed out (InUse).
var inUse atomic.Int64

// InUse returns the bytes that all of the process's Arenas have handed out
// and not freed: memory that runtime.MemStats does not count.
func InUse() uint64 { return uint64(inUse.Load()) }

// region is memory an Arena owns: mapped on Linux, a heap slice elsewhere
// (heap keeps it alive).
type region struct {
	base unsafe.Pointer
	size uintptr
	heap []byte
}

// Alloc returns size zeroed bytes (at most RegionSize) aligned to align
// (a power of two, at most 4096).
func (a *Arena) Alloc(size, align uintptr) unsafe.Pointer {
	if size > RegionSize {
		panic("slabmem: allocation larger than a region")
	}
	off := roundUp(a.used, align)
	if len(a.regions) == 0 || off+size > RegionSize {
		a.regions = append(a.regions, newRegion(RegionSize))
		off, a.used = 0, 0
	}
	a.add(int64(off + size - a.used))
	a.used = off + size
	return unsafe.Add(a.regions[len(a.regions)-1].base, off)
}

// Map returns size zeroed bytes (rounded up to HugePage) in a region of
// their own, to be returned by Unmap or Free.
func (a *Arena) Map(size uintptr) unsafe.Pointer {
	r := newRegion(roundUp(size, HugePage))
	a.large = append(a.large, r)
	a.add(int64(r.size))
	return r.base
}

// Unmap returns memory that Map returned.
func (a *Arena) Unmap(p unsafe.Pointer) {
	for i, r := range a.large {
		if r.base == p {
			r.free()
			a.add(-int64(r.size))
			a.large = append(a.large[:i], a.large[i+1:]...)
			return
		}
	}
	panic("slabmem: Unmap of memory Map did not return")
}

// Free returns every region to the system.
func (a *Arena) Free() {
	for _, rs := range [][]region{a.regions, a.large} {
		for _, r := range rs {
			r.free()
		}
	}
	inUse.Add(-int64(a.bytes))
	a.regions, a.used, a.large, a.bytes = nil, 0, nil, 0
}

// Bytes returns the bytes the Arena has handed out: Alloc's (alignment
// included) and Map's. Its regions' address space is larger (the unused
// tail of the region Alloc carves), but is touched, and so resident, only
// as far as it is handed out (to the next huge page).
func (a *Arena) Bytes() uint64 { return a.bytes }

// add counts n more bytes handed out (n < 0: fewer).
func (a *Arena) add(n int64) {
	a.bytes = uint64(int64(a.bytes) + n)
	inUse.Add(n)
}

func roundUp(x, to uintptr) uintptr { return (x + to - 1) &^ (to - 1) }
