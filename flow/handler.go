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

// SlotPrefetcher is implemented by a Handler that keeps its per-flow state
// in arrays indexed by Flow.Slot, as the L7 engine does. Table.Packets
// calls PrefetchSlot with the slot of each packet of a batch whose flow
// it finds at once (at its hash's home position in the index: most
// flows), before any of the batch's packets reach the Handler, so that the
// handler's cache misses overlap the table's own. PrefetchSlot must only
// hint (a prefetch instruction, no state change): the slot's flow may turn
// out to be another (a hash tag collision) or be closed first.
type SlotPrefetcher interface {
	PrefetchSlot(slot uint32)
}
