package flow

// The slab: flows live in fixed chunks, so a *Flow stays put while its
// flow lives; freed slots are reused through a free list.

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
)

func (t *Table) flow(slot uint32) *Flow {
	return &t.chunks[slot>>chunkBits][slot&(chunkSize-1)]
}

// ref converts slot+1 to a flow.
func (t *Table) ref(r uint32) *Flow { return t.flow(r - 1) }

// alloc takes a free slot, or nil at the cap.
func (t *Table) alloc() *Flow {
	if t.free != nilSlot {
		f := t.ref(t.free)
		t.free = f.next
		return f
	}
	if t.nslots >= t.maxFlows {
		return nil
	}
	s := t.nslots
	if int(s>>chunkBits) == len(t.chunks) {
		t.chunks = append(t.chunks, make([]Flow, chunkSize))
	}
	t.nslots++
	f := t.flow(s)
	f.slot = s
	return f
}
