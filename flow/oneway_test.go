package flow

import (
	"net/netip"
	"testing"
	"time"
)

// TestTable_OneWayEstablished checks that a TCP stream joined mid-way and
// heard from one side only keeps the established timeout: a request whose
// answer comes 13 s later (a long poll) is one flow, as in tshark's
// conversations, while a SYN nobody answers still times out after the
// short timeout.
func TestTable_OneWayEstablished(t *testing.T) {
	var recs []Record
	tab := NewTable(Config{OnRecord: func(r *Record) { recs = append(recs, *r) }})
	c := newConn(t, tab)
	c.send(0, fA|fP, 143)
	c.after(13*time.Second).send(1, fA|fP, 87)
	tab.Flush()
	if len(recs) != 1 || recs[0].PacketTx != 1 || recs[0].PacketRx != 1 {
		t.Fatalf("records %+v, want one flow with a packet each way", recs)
	}

	recs = nil
	c2 := newConn(t, tab)
	c2.cli = netip.AddrPortFrom(cliAddr, 52000) // another connection
	c2.now = c.now
	c2.after(time.Second).send(0, fS, 0)
	c2.after(6*time.Second).send(0, fS, 0)
	tab.Flush()
	if len(recs) != 2 {
		t.Fatalf("%d records for two SYNs 6 s apart to a silent port, want 2 (5 s timeout)", len(recs))
	}
}
