package flow

// VLAN merging: one flow for a conversation whose directions carry
// different VLAN tags.
//
// A key's hash leaves its VLAN id out, so the flows of one conversation on
// several VLANs share their index tag and probe run: a lookup that misses
// tells whether such a flow exists (lookup's alt) without probing again.

// otherVLAN returns the live flow with key k but another VLAN id whose side
// sending this packet has not been seen yet (or was seen with this VLAN id
// before), so that both directions of a conversation tagged differently
// count as one flow, as tshark's conversations do. A copy of the same
// packets on another VLAN (a mirror of two ports) does not match: its
// sender's side has already been seen on the first VLAN. Of several such
// flows, the one with the latest packet is taken (the latest created on a
// tie). h is k's hash.
func (t *Table) otherVLAN(k *key, h uint32, fromB bool) *Flow {
	tag := uint64(h) << 32
	var best *Flow
	for i := uint64(h) & t.mask; ; i = (i + 1) & t.mask {
		e := t.index[i]
		if e == 0 {
			break
		}
		if e&^0xffffffff != tag {
			continue
		}
		f := t.ref(uint32(e))
		if f.key.vlan == k.vlan || !sameButVLAN(&f.key, k) {
			continue
		}
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
		if f.flags&seen == 0 && (best == nil || f.end > best.end || f.end == best.end && f.start >= best.start) {
			best = f
		}
	}
	if best != nil {
		best.flags |= fAltVLAN
		best.altVLAN = k.vlan
	}
	return best
}

// sameButVLAN reports whether x and y are equal but for their VLAN ids.
func sameButVLAN(x, y *key) bool {
	return x.pa == y.pa && x.pb == y.pb && x.a == y.a && x.b == y.b &&
		x.proto == y.proto && x.tun == y.tun && x.tunID == y.tunID
}
