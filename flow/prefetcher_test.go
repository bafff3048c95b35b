package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// pfHandler records the Prefetcher calls ("s" PrefetchSlot, "t"
// PrefetchState) and checks that each Packet with payload of a known flow
// comes after both for its slot, in that order.
type pfHandler struct {
	t     *testing.T
	calls []pfCall
}

type pfCall struct {
	kind byte
	slot uint32
}

func (h *pfHandler) PrefetchSlot(slot uint32)  { h.calls = append(h.calls, pfCall{'s', slot}) }
func (h *pfHandler) PrefetchState(slot uint32) { h.calls = append(h.calls, pfCall{'t', slot}) }
func (h *pfHandler) Packet(f *Flow, m *decode.Meta, dir Dir) {
	if m.PayloadLen == 0 || f.StartTime() == m.Timestamp {
		return
	}
	slotAt, stateAt := -1, -1
	for i, c := range h.calls {
		if c.slot == f.Slot() && c.kind == 's' {
			slotAt = i
		}
		if c.slot == f.Slot() && c.kind == 't' {
			stateAt = i
		}
	}
	if slotAt < 0 || stateAt < slotAt {
		h.t.Errorf("Packet with payload of slot %d: prefetch calls %v", f.Slot(), h.calls)
	}
}
func (h *pfHandler) Close(*Flow, *Record) {}

// TestTable_Prefetcher: a Handler that is a Prefetcher is asked for a
// known flow's state (PrefetchSlot, then PrefetchState) before the Packet
// call of each packet with payload, one at a time or in a batch, and not
// for packets without payload or of new flows; and for the next head of a
// list while the head times out. The flows' LRU lists stay as they were
// (both flows time out).
func TestTable_Prefetcher(t *testing.T) {
	for _, batched := range []bool{false, true} {
		h := &pfHandler{t: t}
		tab := NewTable(Config{Handler: h, OnRecord: func(*Record) {}})
		a := newConn(t, tab)
		a.handshake()
		b := newConn(t, tab)
		b.srv = netip.AddrPortFrom(srvAddr, 81)
		b.handshake()
		if len(h.calls) != 0 {
			t.Fatalf("batched %v: prefetch calls %v during the handshakes", batched, h.calls)
		}
		if batched {
			ms := []decode.Meta{a.meta(0, fA|fP, a.seq[0], 100), a.meta(1, fA|fP, a.seq[1], 200)}
			a.seq[0] += 100
			a.seq[1] += 200
			ms = append(ms, a.meta(0, fA, a.seq[0], 0), b.meta(0, fA|fP, b.seq[0], 10))
			b.seq[0] += 10
			tab.Packets(ms)
		} else {
			a.send(0, fA|fP, 100).send(1, fA|fP, 200).send(0, fA, 0)
			b.send(0, fA|fP, 10)
		}
		if len(h.calls) != 6 {
			t.Fatalf("batched %v: prefetch calls %v, want 6 (two for each packet with payload)", batched, h.calls)
		}
		sa, sb := tab.flow(h.calls[0].slot), tab.flow(h.calls[5].slot)
		if sa.Server().Port() != 80 || sb.Server().Port() != 81 {
			t.Errorf("batched %v: prefetch calls %v", batched, h.calls)
		}
		bSlot := sb.Slot()
		h.calls = h.calls[:0]
		b.after(301*time.Second).send(0, fA, 0)
		if st := tab.Stats(); st.Records != 2 || st.ActiveFlows != 1 {
			t.Errorf("batched %v: stats %+v, want a and b timed out, one new flow", batched, st)
		}
		// Closing a (the head of its list), the Table asked for b, the
		// next head.
		if want := []pfCall{{'s', bSlot}, {'t', bSlot}}; len(h.calls) != 2 || h.calls[0] != want[0] || h.calls[1] != want[1] {
			t.Errorf("batched %v: prefetch calls %v while a closed, want %v", batched, h.calls, want)
		}
	}
}
