package flow

// VLAN merging: one flow for a conversation whose directions carry
// different VLAN tags.

// noteVLAN remembers v among the recent VLAN ids and reports whether
// another id is known, so a missed lookup may try it.
func (t *Table) noteVLAN(v uint16) bool {
	for i := 0; i < t.nvlans; i++ {
		if t.vlans[i] == v {
			return t.nvlans > 1
		}
	}
	if t.nvlans < len(t.vlans) {
		t.nvlans++
	}
	copy(t.vlans[1:t.nvlans], t.vlans[:t.nvlans-1])
	t.vlans[0] = v
	return t.nvlans > 1
}

// otherVLAN returns the live flow with key k but another recent VLAN id
// whose side sending this packet has not been seen yet (or was seen with
// this VLAN id before), so that both directions of a conversation tagged
// differently count as one flow, as tshark's conversations do. A copy of
// the same packets on another VLAN (a mirror of two ports) does not match:
// its sender's side has already been seen on the first VLAN.
func (t *Table) otherVLAN(k *key, fromB bool) *Flow {
	alt := *k
	for i := 0; i < t.nvlans; i++ {
		if t.vlans[i] == k.vlan {
			continue
		}
		alt.vlan = t.vlans[i]
		_, r := t.lookup(&alt, alt.hash(t.hseed))
		if r == nilSlot {
			continue
		}
		f := t.ref(r)
		if f.flags&fAltVLAN != 0 {
			if f.altVLAN == k.vlan {
				return f
			}
			continue
		}
		seen := fSeen1
		if fromB == (f.flags&fClientB != 0) {
			seen = fSeen0 // the sender is the client
		}
		if f.flags&seen == 0 {
			f.flags |= fAltVLAN
			f.altVLAN = k.vlan
			return f
		}
	}
	return nil
}
