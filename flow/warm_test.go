package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// warmHandler records the Warm calls and checks that each Packet with
// payload of a known flow follows a Warm of its slot.
type warmHandler struct {
	t      *testing.T
	warmed []uint32
}

func (h *warmHandler) Warm(slot uint32) { h.warmed = append(h.warmed, slot) }
func (h *warmHandler) Packet(f *Flow, m *decode.Meta, dir Dir) {
	if m.PayloadLen > 0 && f.StartTime() != m.Timestamp {
		if n := len(h.warmed); n == 0 || h.warmed[n-1] != f.Slot() {
			h.t.Errorf("Packet with payload of slot %d not warmed first (warmed %v)", f.Slot(), h.warmed)
		}
	}
}
func (h *warmHandler) Close(*Flow, *Record) {}

// TestTable_Warm: a Handler that is a Warmer is told the slot of a known
// flow before the Packet call of each packet with payload, and not for
// packets without payload or of new flows, and of the next head of a list
// while the head times out; warming leaves the flows' LRU lists as they
// were (both flows time out).
func TestTable_Warm(t *testing.T) {
	h := &warmHandler{t: t}
	tab := NewTable(Config{Handler: h, OnRecord: func(*Record) {}})
	a := newConn(t, tab)
	a.handshake()
	b := newConn(t, tab)
	b.srv = netip.AddrPortFrom(srvAddr, 81)
	b.handshake()
	if len(h.warmed) != 0 {
		t.Fatalf("warmed %v during the handshakes", h.warmed)
	}
	a.send(0, fA|fP, 100).send(1, fA|fP, 200).send(0, fA, 0)
	b.send(0, fA|fP, 10)
	if len(h.warmed) != 3 {
		t.Fatalf("warmed %v, want 3 calls (the packets with payload)", h.warmed)
	}
	if h.warmed[0] != h.warmed[1] || h.warmed[2] == h.warmed[0] || tab.flow(h.warmed[0]).Server().Port() != 80 {
		t.Errorf("warmed slots %v", h.warmed)
	}
	bSlot := h.warmed[2]
	b.after(301*time.Second).send(0, fA, 0)
	if st := tab.Stats(); st.Records != 2 || st.ActiveFlows != 1 {
		t.Errorf("stats %+v, want a and b timed out, one new flow", st)
	}
	// Closing a (the head of its list), the Table warmed b, the next head.
	if len(h.warmed) != 4 || h.warmed[3] != bSlot {
		t.Errorf("warmed %v, want b's slot %d warmed while a closed", h.warmed, bSlot)
	}
}
