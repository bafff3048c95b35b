package flow

import "testing"

// TestTable_AsymmetricVLAN checks that a conversation whose two directions
// carry different VLAN tags is one flow (as tshark's conversations), while
// a copy of the same packets on another VLAN (a mirror of two ports) stays
// a flow of its own.
func TestTable_AsymmetricVLAN(t *testing.T) {
	var recs []Record
	tab := NewTable(Config{OnRecord: func(r *Record) { recs = append(recs, *r) }})
	c := newConn(t, tab)
	send := func(d int, flags uint8, n int, vlan uint16) {
		m := c.meta(d, flags, c.seq[d], n)
		m.VLAN = vlan
		tab.Packet(&m)
		if flags&(fS|fF) != 0 {
			n++
		}
		c.seq[d] += uint32(n)
	}
	mirror := func(d int, flags uint8, n int, vlan uint16) {
		m := c.meta(d, flags, c.seq[d], n)
		m.VLAN = vlan
		tab.Packet(&m)
	}
	mirror(0, fS, 0, 20) // the mirror copy of the SYN on VLAN 20
	send(0, fS, 0, 3875) // client→server tagged 3875
	send(1, fS|fA, 0, 0) // server→client untagged
	send(0, fA, 0, 3875)
	send(0, fA|fP, 100, 3875)
	send(1, fA|fP, 200, 0)
	tab.Flush()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (the conversation and the mirror copy): %+v", len(recs), recs)
	}
	for _, r := range recs {
		switch r.VLAN {
		case 3875:
			if r.PacketTx != 3 || r.PacketRx != 2 || r.CloseType == CloseClientSynRepeat {
				t.Errorf("conversation: tx %d rx %d close %v; want 3, 2", r.PacketTx, r.PacketRx, r.CloseType)
			}
		case 20:
			if r.PacketTx+r.PacketRx != 1 {
				t.Errorf("mirror copy: %d packets, want 1", r.PacketTx+r.PacketRx)
			}
		default:
			t.Errorf("record on VLAN %d", r.VLAN)
		}
	}
}
