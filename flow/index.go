package flow

// The index: open addressing with linear probing over the slab, keyed by
// the canonical flow key. Each entry holds the key's 32-bit hash beside the
// slot+1 it names, so that probes, deletions and growth compare and place
// entries without reading the flows they name: a lookup dereferences a
// flow only when the full hash matches (a miss touches no flow at all).

import (
	"encoding/binary"
	"unsafe"
)

const minIndex = 1 << 10

// hash returns the 32-bit hash of k that the index stores with each entry:
// its low bits pick the home position, all of it is the entry's tag. The
// VLAN id is left out (vlan.go).
func (k *key) hash(seed uint64) uint32 {
	const m = 0x9E3779B97F4A7C15
	h := seed
	mix := func(x uint64) {
		h ^= x
		h *= m
		h ^= h >> 29
	}
	mix(binary.LittleEndian.Uint64(k.a[0:8]))
	mix(binary.LittleEndian.Uint64(k.a[8:16]))
	mix(binary.LittleEndian.Uint64(k.b[0:8]))
	mix(binary.LittleEndian.Uint64(k.b[8:16]))
	mix(uint64(k.pa) | uint64(k.pb)<<16 | uint64(k.proto)<<48 | uint64(k.tun)<<56)
	mix(uint64(k.tunID))
	h ^= h >> 32
	return uint32(h)
}

// keyEq compares keys field by field, cheapest and most distinguishing
// first (ports), without a call to the runtime's memequal.
func keyEq(x, y *key) bool {
	return x.pa == y.pa && x.pb == y.pb && x.a == y.a && x.b == y.b &&
		x.vlan == y.vlan && x.proto == y.proto && x.tun == y.tun && x.tunID == y.tunID
}

// An index entry is hash<<32 | slot+1; 0 is empty.
func entry(h uint32, r uint32) uint64 { return uint64(h)<<32 | uint64(r) }

// lookup returns the index position holding k (whose hash is h), or the
// empty position where it would go, and the slot+1 found (0 if absent).
// alt reports, when k is absent, that an entry with k's tag was seen: maybe
// k on another VLAN.
func (t *Table) lookup(k *key, h uint32) (pos uint64, r uint32, alt bool) {
	tag := uint64(h) << 32
	i := uint64(h) & t.mask
	for {
		e := t.index[i]
		if e == 0 {
			return i, 0, alt
		}
		if e&^0xffffffff == tag {
			if keyEq(&t.ref(uint32(e)).key, k) {
				return i, uint32(e), false
			}
			alt = true
		}
		i = (i + 1) & t.mask
	}
}

// indexDelete empties position i, with backward-shift deletion so that no
// tombstones are needed.
func (t *Table) indexDelete(i uint64) {
	for {
		t.index[i] = 0
		j := i
		for {
			j = (j + 1) & t.mask
			e := t.index[j]
			if e == 0 {
				return
			}
			home := e >> 32 & t.mask
			// Move e into the hole at i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.index[i] = e
				i = j
				break
			}
		}
	}
}

// indexFind returns the position of live flow f, whose key's hash is h.
func (t *Table) indexFind(f *Flow, h uint32) uint64 {
	i := uint64(h) & t.mask
	want := entry(h, f.slot+1)
	for t.index[i] != want {
		i = (i + 1) & t.mask
	}
	return i
}

// grow doubles the index.
func (t *Table) grow() {
	old := t.index
	t.index = t.newIndex(2 * len(old))
	t.mask = uint64(len(t.index) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := e >> 32 & t.mask
		for t.index[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.index[i] = e
	}
	if len(old)*8 >= bigIndex {
		t.mem.Unmap(unsafe.Pointer(&old[0]))
	}
}

// bigIndex is the size in bytes from which the index is mapped apart
// (slabmem.Arena.Map: huge pages on Linux) instead of taken from the heap.
const bigIndex = 4 << 20

// newIndex returns an empty index of n entries.
func (t *Table) newIndex(n int) []uint64 {
	if n*8 < bigIndex {
		return make([]uint64, n)
	}
	return unsafe.Slice((*uint64)(t.arena().Map(uintptr(n)*8)), n)
}
