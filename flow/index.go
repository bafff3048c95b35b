package flow

// The index: open addressing over the slab, keyed by the canonical flow key.

import "encoding/binary"

const minIndex = 1 << 10

func (k *key) hash(seed uint64) uint64 {
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
	mix(uint64(k.pa) | uint64(k.pb)<<16 | uint64(k.vlan)<<32 | uint64(k.proto)<<48 | uint64(k.tun)<<56)
	mix(uint64(k.tunID))
	h ^= h >> 32
	return h
}

// keyEq compares keys field by field, cheapest and most distinguishing
// first (ports), without a call to the runtime's memequal.
func keyEq(x, y *key) bool {
	return x.pa == y.pa && x.pb == y.pb && x.a == y.a && x.b == y.b &&
		x.vlan == y.vlan && x.proto == y.proto && x.tun == y.tun && x.tunID == y.tunID
}

// lookup returns the index position holding k, or the empty position where
// it would go, and the slot+1 found (0 if absent).
func (t *Table) lookup(k *key, h uint64) (uint64, uint32) {
	i := h & t.mask
	for {
		r := t.index[i]
		if r == nilSlot {
			return i, 0
		}
		if keyEq(&t.ref(r).key, k) {
			return i, r
		}
		i = (i + 1) & t.mask
	}
}

// indexDelete removes slot+1 r, found at position i, with backward-shift
// deletion so that no tombstones are needed.
func (t *Table) indexDelete(i uint64) {
	for {
		t.index[i] = nilSlot
		j := i
		for {
			j = (j + 1) & t.mask
			r := t.index[j]
			if r == nilSlot {
				return
			}
			home := t.ref(r).key.hash(t.hseed) & t.mask
			// Move r into the hole at i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.index[i] = r
				i = j
				break
			}
		}
	}
}

func (t *Table) indexFind(f *Flow) uint64 {
	i := f.key.hash(t.hseed) & t.mask
	want := f.slot + 1
	for t.index[i] != want {
		i = (i + 1) & t.mask
	}
	return i
}

func (t *Table) grow() {
	old := t.index
	t.index = make([]uint32, 2*len(old))
	t.mask = uint64(len(t.index) - 1)
	for _, r := range old {
		if r == nilSlot {
			continue
		}
		i := t.ref(r).key.hash(t.hseed) & t.mask
		for t.index[i] != nilSlot {
			i = (i + 1) & t.mask
		}
		t.index[i] = r
	}
}
