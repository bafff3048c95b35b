package flow

// The slab: flows live in fixed chunks, so a *Flow stays put while its
// flow lives; freed slots are reused through a free list. The TCP part of
// a TCP flow (tcpState) lives in a second slab of the same shape, so that
// the flows of other protocols do not carry it.

import (
	"runtime"
	"unsafe"

	"github.com/metaflow-go/metaflow/internal/prefetch"
	"github.com/metaflow-go/metaflow/internal/slabmem"
)

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
)

// flowChunk is one chunk of the slab. tab leads a Flow's methods back to
// its Table (Flow.tcpState); it is the chunk's only pointer and comes
// first, so that the garbage collector scans one word of a chunk, not its
// flows.
type flowChunk struct {
	tab   *Table
	flows [chunkSize]Flow
}

func (t *Table) flow(slot uint32) *Flow {
	return &t.chunks[slot>>chunkBits].flows[slot&(chunkSize-1)]
}

// table returns the Table that holds f, through f's chunk.
func (f *Flow) table() *Table {
	off := unsafe.Offsetof(flowChunk{}.flows) + uintptr(f.slot&(chunkSize-1))*unsafe.Sizeof(Flow{})
	return (*flowChunk)(unsafe.Add(unsafe.Pointer(f), -int(off))).tab
}

// tcpState returns f's TCP state, nil for a flow of another protocol.
func (f *Flow) tcpState() *tcpState {
	if f.tcp == 0 {
		return nil
	}
	return f.table().tcpAt(f.tcp - 1)
}

func (t *Table) tcpAt(i uint32) *tcpState {
	return &t.tcps[i>>chunkBits][i&(chunkSize-1)]
}

// allocTCP gives f a zeroed tcpState. It cannot fail: a Table has no
// more TCP states than flow slots.
func (t *Table) allocTCP(f *Flow) {
	if i := t.tcpFree; i != nilSlot {
		s := t.tcpAt(i - 1)
		t.tcpFree = s.peers[0].maxEnd
		if t.tcpFree != nilSlot {
			// The next TCP flow's state: freed a while ago, likely cold.
			prefetch.Lines(unsafe.Pointer(t.tcpAt(t.tcpFree-1)), unsafe.Sizeof(tcpState{}))
		}
		*s = tcpState{}
		f.tcp = i
		return
	}
	if int(t.ntcp>>chunkBits) == len(t.tcps) {
		t.tcps = append(t.tcps, newChunk[tcpState](t, len(t.tcps), chunkSize))
	}
	t.ntcp++
	f.tcp = t.ntcp
}

// releaseTCP returns f's tcpState, if any, to the free list (linked
// through peers[0].maxEnd).
func (t *Table) releaseTCP(f *Flow) {
	if f.tcp == nilSlot {
		return
	}
	t.tcpAt(f.tcp - 1).peers[0].maxEnd = t.tcpFree
	t.tcpFree = f.tcp
	f.tcp = nilSlot
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

// prefetchFree asks for the Flow and link of the free list's head, which
// the next new flow takes: freed a while ago (a timeout after its last
// packet), they are likely cold.
func (t *Table) prefetchFree() {
	if t.free != nilSlot {
		prefetch.Lines(unsafe.Pointer(t.ref(t.free)), unsafe.Sizeof(Flow{}))
		prefetch.Line(uintptr(unsafe.Pointer(t.link(t.free - 1))))
	}
}

// alloc takes a free slot, or nil at the cap.
func (t *Table) alloc() *Flow {
	if t.free != nilSlot {
		f := t.ref(t.free)
		t.free = t.link(f.slot).next
		t.prefetchFree()
		return f
	}
	if t.nslots >= t.maxFlows {
		return nil
	}
	s := t.nslots
	if int(s>>chunkBits) == len(t.chunks) {
		c := (*flowChunk)(unsafe.Pointer(unsafe.SliceData(newChunk[flowChunk](t, len(t.chunks), 1))))
		c.tab = t
		t.chunks = append(t.chunks, c)
		t.links = append(t.links, newChunk[link](t, len(t.links), chunkSize))
	}
	t.nslots++
	f := t.flow(s)
	f.slot = s
	return f
}

// heapChunks is the number of chunks of each slab that come from the Go
// heap; the later ones, of a table past 16K flows, come from the Table's
// slabmem.Arena (huge pages on Linux), which a small table would fill
// with 2 MB pages it barely uses.
const heapChunks = 4

// newChunk returns the n-th chunk of a slab of T: k zeroed T.
func newChunk[T any](t *Table, n, k int) []T {
	if n < heapChunks {
		return make([]T, k)
	}
	p := t.arena().Alloc(uintptr(k)*unsafe.Sizeof(*new(T)), 64)
	return unsafe.Slice((*T)(p), k)
}

// arena returns the Table's slabmem.Arena, made on first use. The Arena
// is freed once the Table is unreachable; until then a Table never
// returns its memory (its slabs only grow).
func (t *Table) arena() *slabmem.Arena {
	if t.mem == nil {
		t.mem = new(slabmem.Arena)
		runtime.AddCleanup(t, (*slabmem.Arena).Free, t.mem)
	}
	return t.mem
}
