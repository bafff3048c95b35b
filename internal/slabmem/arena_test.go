package slabmem

import (
	"testing"
	"unsafe"
)

func TestArena_Alloc(t *testing.T) {
	var a Arena
	base := InUse()
	var ps []unsafe.Pointer
	sizes := []uintptr{1, 100, 4096, 557064, RegionSize / 2, RegionSize / 2, RegionSize}
	for _, n := range sizes {
		p := a.Alloc(n, 64)
		if uintptr(p)%64 != 0 {
			t.Fatalf("Alloc(%d, 64) = %p: not aligned", n, p)
		}
		b := unsafe.Slice((*byte)(p), n)
		for i := range b {
			if b[i] != 0 {
				t.Fatalf("Alloc(%d): byte %d is %d, not zero", n, i, b[i])
			}
		}
		// Writing every byte proves the memory is there; a later Alloc
		// must not overlap it.
		for i := range b {
			b[i] = 0xa5
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		for j, q := range ps {
			if i != j && uintptr(p) < uintptr(q)+sizes[j] && uintptr(q) < uintptr(p)+sizes[i] {
				t.Fatalf("allocations %d and %d overlap", i, j)
			}
		}
	}
	var sum uint64
	for _, n := range sizes {
		sum += uint64(n)
	}
	// Alignment adds under 64 bytes per allocation; a region's unused
	// tail is not handed out.
	if got := a.Bytes(); got < sum || got > sum+64*uint64(len(sizes)) {
		t.Errorf("Bytes() = %d after %d bytes of allocations", got, sizes)
	}
	if got := InUse() - base; got != a.Bytes() {
		t.Errorf("InUse grew by %d, Bytes() = %d", got, a.Bytes())
	}
	m := a.Map(3 << 20)
	if uintptr(m)%HugePage != 0 {
		t.Errorf("Map = %p: not aligned to a huge page", m)
	}
	unsafe.Slice((*byte)(m), 3<<20)[3<<20-1] = 1
	before := a.Bytes()
	a.Unmap(m)
	if got := before - a.Bytes(); got != 4<<20 {
		t.Errorf("Unmap freed %d bytes, want %d (3 MB rounded up to huge pages)", got, 4<<20)
	}
	a.Free()
	if a.Bytes() != 0 || InUse() != base {
		t.Errorf("after Free: Bytes() = %d, InUse() = %d, want 0 and %d", a.Bytes(), InUse(), base)
	}
	if p := a.Alloc(8, 8); *(*uint64)(p) != 0 {
		t.Error("Alloc after Free: memory not zeroed")
	}
	a.Free()
}

func TestArena_UnmapUnknown(t *testing.T) {
	var a Arena
	defer a.Free()
	p := a.Alloc(64, 8)
	defer func() {
		if recover() == nil {
			t.Error("Unmap of Alloc's memory did not panic")
		}
	}()
	a.Unmap(p)
}
