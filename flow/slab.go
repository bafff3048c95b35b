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

// link is a slot's place in its LRU list (or in the free list). The links
// live apart from the flows, 8 bytes a slot: moving a flow to the tail of
// its list rewrites its neighbours' links, and in this dense array those
// are likely in the cache, where the neighbours' Flows, at 224 bytes a
// slot, are not.
type link struct{ prev, next uint32 } // slot+1; nilSlot = none

func (t *Table) link(slot uint32) *link {
	return &t.links[slot>>chunkBits][slot&(chunkSize-1)]
}

// ref converts slot+1 to a flow.
func (t *Table) ref(r uint32) *Flow { return t.flow(r - 1) }

// alloc takes a free slot, or nil at the cap.
func (t *Table) alloc() *Flow {
	if t.free != nilSlot {
		f := t.ref(t.free)
		t.free = t.link(f.slot).next
		return f
	}
	if t.nslots >= t.maxFlows {
		return nil
	}
	s := t.nslots
	if int(s>>chunkBits) == len(t.chunks) {
		t.chunks = append(t.chunks, make([]Flow, chunkSize))
		t.links = append(t.links, make([]link, chunkSize))
	}
	t.nslots++
	f := t.flow(s)
	f.slot = s
	return f
}
