package decode

import "encoding/binary"

// udpTunnel decapsulates a VXLAN or GENEVE header at b[off:] when port is
// configured for one of them and the header passes a sanity check. done is
// false when the datagram is to stay plain UDP.
func (d *Decoder) udpTunnel(b []byte, off, end int, m *Meta, port uint16, depth int) (done bool, err error) {
	if len(b)-off < 8 {
		return false, nil
	}
	h := b[off : off+8]
	for _, p := range d.vxlan[:d.nvxlan] {
		if p != port {
			continue
		}
		// RFC 7348: the I flag set, the VNI's trailing byte reserved. The
		// other flag bits are left to extensions (GBP, GPE) and ignored.
		if h[0]&0x08 == 0 || len(b)-off < 8+14 {
			return false, nil
		}
		vni := binary.BigEndian.Uint32(h[4:]) >> 8
		if !d.enter(m, TunnelVXLAN, vni, depth, end) {
			return true, nil
		}
		return true, d.ether(b, off+8, m, depth+1)
	}
	for _, p := range d.geneve[:d.ngeneve] {
		if p != port {
			continue
		}
		// RFC 8926: version 0; options length in 4-byte words.
		if h[0]>>6 != 0 {
			return false, nil
		}
		inner := off + 8 + int(h[0]&0x3F)*4
		pt := binary.BigEndian.Uint16(h[2:])
		if inner > len(b) || pt != ethertypeTEB && pt != ethertypeIPv4 && pt != ethertypeIPv6 {
			return false, nil
		}
		vni := binary.BigEndian.Uint32(h[4:]) >> 8
		if !d.enter(m, TunnelGENEVE, vni, depth, end) {
			return true, nil
		}
		if pt == ethertypeTEB {
			return true, d.ether(b, inner, m, depth+1)
		}
		return true, d.ethertype(b, inner, pt, m, depth+1)
	}
	return false, nil
}

// GRE header flag bits (RFC 2784, RFC 2890).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greVersion  = 0x0007
)

// gre decodes a GRE header at b[off:] and decapsulates IPv4, IPv6,
// transparent Ethernet bridging and ERSPAN I/II/III. Other payloads (PPTP's
// enhanced GRE, keepalives, unknown types) leave the packet as GRE.
func (d *Decoder) gre(b []byte, off, end int, m *Meta, depth int) error {
	if len(b)-off < 4 {
		m.Truncated = true
		return nil
	}
	fl := binary.BigEndian.Uint16(b[off:])
	pt := binary.BigEndian.Uint16(b[off+2:])
	h := 4
	if fl&greChecksum != 0 {
		h += 4
	}
	var key uint32
	if fl&greKey != 0 {
		if len(b)-off >= h+4 {
			key = binary.BigEndian.Uint32(b[off+h:])
		}
		h += 4
	}
	if fl&greSeq != 0 {
		h += 4
	}
	if fl&(greRouting|greVersion) != 0 || len(b)-off < h {
		return d.notDecoded(b, off, end, m)
	}
	in := off + h
	if pt == ethertypeCMD && len(b)-in >= 8 {
		// Cisco MetaData (SGT tag): inside GRE its next type comes first.
		pt = binary.BigEndian.Uint16(b[in:])
		in += 8
	}
	switch pt {
	case ethertypeIPv4, ethertypeIPv6:
		if !d.enter(m, TunnelGRE, key, depth, end) {
			break
		}
		if pt == ethertypeIPv4 {
			return d.ipv4(b, in, m, depth+1)
		}
		return d.ipv6(b, in, m, depth+1)
	case ethertypeTEB:
		if d.enter(m, TunnelTEB, key, depth, end) {
			return d.ether(b, in, m, depth+1)
		}
	case ethertypeERSPAN:
		if fl&greSeq == 0 {
			// Type I: no ERSPAN header, the mirrored frame follows.
			if d.enter(m, TunnelERSPAN, 0, depth, end) {
				return d.ether(b, in, m, depth+1)
			}
			break
		}
		// Type II: version 1, 10-bit session id, 8-byte header.
		if len(b)-in < 8 || b[in]>>4 != 1 {
			break
		}
		if d.enter(m, TunnelERSPAN, uint32(binary.BigEndian.Uint16(b[in+2:])&0x3FF), depth, end) {
			return d.ether(b, in+8, m, depth+1)
		}
	case ethertypeERSP3:
		// Type III: version 2, 12-byte header and an optional 8-byte
		// platform subheader (O flag); frame type 0 is Ethernet.
		if len(b)-in < 12 || b[in]>>4 != 2 || (b[in+10]>>2)&0x1F != 0 {
			break
		}
		n := 12
		if b[in+11]&1 != 0 {
			n += 8
		}
		if d.enter(m, TunnelERSPAN, uint32(binary.BigEndian.Uint16(b[in+2:])&0x3FF), depth, end) {
			return d.ether(b, in+n, m, depth+1)
		}
	}
	return d.notDecoded(b, off, end, m)
}

// notDecoded ends decoding at an IP payload that is not followed further.
func (d *Decoder) notDecoded(b []byte, off, end int, m *Meta) error {
	d.stats.OtherProto++
	m.setPayload(b, off, end)
	return nil
}
