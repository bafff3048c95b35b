package flow

import "github.com/metaflow-go/metaflow/capture/decode"

// Dir is a packet's direction relative to the flow's client/server
// orientation.
type Dir uint8

// Directions.
const (
	DirTx Dir = 0 // client → server
	DirRx Dir = 1 // server → client
)

// Handler observes the packets of flows; the L7 engine is one. Calls come
// from the goroutine that drives the Table.
type Handler interface {
	// Packet is called for each decoded packet of f after the flow's state
	// has been updated. dir is relative to f's orientation at the time of
	// the call. m and its Payload are valid only during the call.
	Packet(f *Flow, m *decode.Meta, dir Dir)
	// Close is called once when f ends (closed, timed out, evicted, or
	// flushed at the end of input), before its record r is emitted. The
	// handler fills r's L7 fields (L7Protocol and the l7_* counters), emits
	// whatever it still holds for f, and forgets f.
	Close(f *Flow, r *Record)
}

// Prefetcher is implemented by a Handler that keeps per-flow state apart
// from the Table, indexed by Flow.Slot, so that the Table can have it
// loaded before the Handler reads it: the cache misses then overlap the
// Table's own instead of following them. For a packet with payload of a
// known flow (and for the flow it will check next while it closes idle
// flows), the Table calls PrefetchSlot with the flow's slot and, later,
// PrefetchState with the same slot, before it calls the Handler's Packet
// (or Close) for it. Table.Packets calls them for a whole group of packets
// at a time. Neither may change anything the Handler's output depends on.
type Prefetcher interface {
	// PrefetchSlot asks the CPU for the Handler's entries of slot in its
	// per-slot tables (internal/prefetch.Line), without reading them.
	PrefetchSlot(slot uint32)
	// PrefetchState reads the entries of slot (loaded by now) and asks
	// the CPU for the state they point to.
	PrefetchState(slot uint32)
}
