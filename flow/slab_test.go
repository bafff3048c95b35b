package flow

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/slabmem"
)

// fillUDP opens n UDP flows in t, one packet each.
func fillUDP(t *Table, n int) {
	m := decode.Meta{IPVersion: 4, Proto: decode.ProtoUDP, L4Decoded: true,
		DstPort: 53, Dst: netip.MustParseAddr("192.0.2.1"), WireLen: 74, Timestamp: 1}
	for i := 0; i < n; i++ {
		m.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		t.Packet(&m)
	}
}

// TestTable_SlabOutsideHeap checks that a table past heapChunks chunks
// keeps its later chunks in its arena, that Stats and slabmem agree on
// their size, and that Close emits every flow and returns the memory.
// (slabmem.InUse counts the whole process's arenas; the cleanups of
// tables other tests dropped may lower it at any time, never raise it.)
func TestTable_SlabOutsideHeap(t *testing.T) {
	records := 0
	tab := NewTable(Config{OnRecord: func(*Record) { records++ }})
	const n = 100_000 // 25 chunks: 21 of them in the arena
	fillUDP(tab, n)
	st := tab.Stats()
	if min := uint64(n-heapChunks*chunkSize) * 136; st.SlabBytes < min {
		t.Errorf("SlabBytes %d with %d flows, want at least %d", st.SlabBytes, n, min)
	}
	before := slabmem.InUse()
	if before < st.SlabBytes {
		t.Errorf("slabmem.InUse %d, below the table's Stats.SlabBytes %d", before, st.SlabBytes)
	}
	tab.Close()
	if records != n {
		t.Errorf("Close emitted %d records, want %d", records, n)
	}
	if st := tab.Stats(); st.SlabBytes != 0 || st.ActiveFlows != 0 || st.Records != n {
		t.Errorf("after Close: SlabBytes %d, ActiveFlows %d, Records %d", st.SlabBytes, st.ActiveFlows, st.Records)
	}
	if after := slabmem.InUse(); after > before-st.SlabBytes {
		t.Errorf("after Close: slabmem.InUse %d, want at most %d", after, before-st.SlabBytes)
	}
}

// TestTable_SlabFreedWhenUnreachable checks that a table dropped without
// Close returns its arena once the collector finds it unreachable.
func TestTable_SlabFreedWhenUnreachable(t *testing.T) {
	base := slabmem.InUse()
	func() {
		tab := NewTable(Config{})
		fillUDP(tab, 50_000)
		if tab.Stats().SlabBytes == 0 {
			t.Fatal("no slab memory outside the heap")
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for slabmem.InUse() > base {
		if time.Now().After(deadline) {
			t.Fatalf("slabmem.InUse %d, want at most %d: the dropped table's arena was not freed", slabmem.InUse(), base)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// slotHandler records the slots Packets hints and the flows it hands over.
type slotHandler struct {
	hinted []uint32
	seen   []uint32
}

func (h *slotHandler) Packet(f *Flow, _ *decode.Meta, _ Dir) { h.seen = append(h.seen, f.Slot()) }
func (h *slotHandler) Close(*Flow, *Record)                  {}
func (h *slotHandler) PrefetchSlot(slot uint32)              { h.hinted = append(h.hinted, slot) }

// TestTable_SlotPrefetcher checks that Packets hints a SlotPrefetcher with
// the slot of the packets of flows it already holds (those whose index
// entry is at its home position), and no slot for a packet that opens a
// flow.
func TestTable_SlotPrefetcher(t *testing.T) {
	h := &slotHandler{}
	tab := NewTable(Config{Handler: h})
	ms := make([]decode.Meta, 100)
	for i := range ms {
		ms[i] = decode.Meta{IPVersion: 4, Proto: decode.ProtoUDP, L4Decoded: true, SrcPort: 1000, DstPort: 53,
			Src: netip.AddrFrom4([4]byte{10, 0, byte(i / 10), byte(i % 10)}), Dst: netip.MustParseAddr("192.0.2.1"),
			WireLen: 74, Timestamp: 1}
	}
	tab.Packets(ms[:50])
	if len(h.hinted) != 0 {
		t.Fatalf("hinted %d slots for packets that open flows", len(h.hinted))
	}
	h.seen = h.seen[:0]
	tab.Packets(ms) // 50 known flows, then 50 new ones
	want := map[uint32]bool{}
	for _, s := range h.seen[:50] {
		want[s] = true
	}
	// A flow whose index entry sits past its hash's home position (a
	// collision, 1 in 20 or so at this load) is not hinted.
	if len(h.hinted) < 40 || len(h.hinted) > 50 {
		t.Fatalf("hinted %d slots, want 40 to 50 (one per packet of a known flow found at its home position)", len(h.hinted))
	}
	for _, s := range h.hinted {
		if !want[s] {
			t.Errorf("hinted slot %d, not one of the known flows'", s)
		}
	}
}
