package decode

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers followed inside the decoder.
const (
	protoHopByHop = 0
	protoIPIP     = 4
	protoIPv6     = 41
	protoRouting  = 43
	protoFragment = 44
	protoGRE      = 47
	protoESP      = 50
	protoAH       = 51
	protoNoNext   = 59
	protoDstOpts  = 60
)

// ipv4 decodes an IPv4 header at b[off:] and what it carries.
func (d *Decoder) ipv4(b []byte, off int, m *Meta, depth int) error {
	if len(b)-off < 20 {
		return d.fail("ipv4", off, ErrTruncated)
	}
	vihl := b[off]
	hl := int(vihl&0x0F) * 4
	if vihl>>4 != 4 || hl < 20 {
		return d.fail("ipv4", off, ErrMalformed)
	}
	if len(b)-off < hl {
		return d.fail("ipv4", off, ErrTruncated)
	}
	tot := int(binary.BigEndian.Uint16(b[off+2:]))
	if tot == 0 {
		// Segmentation offload hands the capture oversized packets with a
		// zero total length: the packet is what was captured.
		tot = len(b) - off
	} else if tot < hl {
		return d.fail("ipv4", off+2, ErrMalformed)
	}
	end := min(off+tot, d.lim) // a tunnelled packet ends with its carrier
	if end < len(b) {
		b = b[:end] // link-layer padding
	}
	m.IPVersion = 4
	m.Src = netip.AddrFrom4([4]byte(b[off+12 : off+16]))
	m.Dst = netip.AddrFrom4([4]byte(b[off+16 : off+20]))
	m.TTL = b[off+8]
	m.Proto = b[off+9]
	m.IPLen = tot
	m.IPID = uint32(binary.BigEndian.Uint16(b[off+4:]))
	if fo := binary.BigEndian.Uint16(b[off+6:]); fo&0x3FFF != 0 {
		return d.fragment(b, off, off+hl, end, int(fo&0x1FFF)*8, fo&0x2000 != 0, m.Proto, m, depth)
	}
	return d.transport(b, off, off+hl, end, m.Proto, m, depth)
}

// ipv6 decodes an IPv6 header at b[off:] and what it carries.
func (d *Decoder) ipv6(b []byte, off int, m *Meta, depth int) error {
	if len(b)-off < 40 {
		return d.fail("ipv6", off, ErrTruncated)
	}
	if b[off]>>4 != 6 {
		return d.fail("ipv6", off, ErrMalformed)
	}
	tot := 40 + int(binary.BigEndian.Uint16(b[off+4:]))
	if tot == 40 && b[off+6] == protoHopByHop && len(b)-off > 40 {
		// Jumbogram (RFC 2675, also used by big TCP offload): the length
		// is in a hop-by-hop option; take the packet as captured.
		tot = len(b) - off
	}
	end := min(off+tot, d.lim)
	if end < len(b) {
		b = b[:end]
	}
	m.IPVersion = 6
	m.Src = netip.AddrFrom16([16]byte(b[off+8 : off+24]))
	m.Dst = netip.AddrFrom16([16]byte(b[off+24 : off+40]))
	m.TTL = b[off+7]
	m.IPLen = tot
	return d.transport(b, off, off+40, end, b[off+6], m, depth)
}

// transport decodes what follows an IP header: IPv6 extension headers and
// AH, then TCP, UDP, ICMP or a tunnel. b is trimmed to the IP packet; ip is
// the offset of the IP header, off of the next header, end the announced
// end of the IP packet (it may lie past len(b) in a truncated capture).
func (d *Decoder) transport(b []byte, ip, off, end int, proto uint8, m *Meta, depth int) error {
	for range 16 { // bounds the extension-header chain
		m.Proto = proto
		switch proto {
		case ProtoTCP:
			return d.tcp(b, off, end, m)
		case ProtoUDP:
			return d.udp(b, off, end, m, depth)
		case ProtoICMP, ProtoICMPv6:
			return d.icmp(b, off, end, m)
		case protoIPIP:
			if d.enter(m, TunnelIPIP, 0, depth, end) {
				return d.ipv4(b, off, m, depth+1)
			}
		case protoIPv6:
			if d.enter(m, TunnelIP6inIP, 0, depth, end) {
				return d.ipv6(b, off, m, depth+1)
			}
		case protoGRE:
			return d.gre(b, off, end, m, depth)
		case protoHopByHop, protoRouting, protoDstOpts, protoAH:
			if m.IPVersion != 6 && proto != protoAH {
				break
			}
			if len(b)-off < 2 {
				m.Truncated = true
				return nil
			}
			var n int
			if proto == protoAH {
				n = (int(b[off+1]) + 2) * 4
			} else {
				n = (int(b[off+1]) + 1) * 8
			}
			if off+n > end {
				if proto == protoAH {
					return d.fail("ah", off, ErrMalformed)
				}
				return d.fail("ipv6-ext", off, ErrMalformed)
			}
			proto = b[off]
			off += n
			continue
		case protoFragment:
			if m.IPVersion != 6 || m.IsFragment {
				break
			}
			if len(b)-off < 8 {
				m.Truncated = true
				return nil
			}
			next := b[off]
			fo := binary.BigEndian.Uint16(b[off+2:])
			m.IPID = binary.BigEndian.Uint32(b[off+4:])
			if fo&^6 == 0 {
				// Atomic fragment (RFC 6946): a whole datagram.
				proto = next
				off += 8
				continue
			}
			m.Proto = next
			return d.fragment(b, ip, off+8, end, int(fo&^7), fo&1 != 0, next, m, depth)
		}
		break
	}
	// Not decoded past IP: ESP, no next header, unknown protocols.
	return d.notDecoded(b, off, end, m)
}

// setPayload points m.Payload at b[start:aend], as much of it as was
// captured, and records the announced length.
func (m *Meta) setPayload(b []byte, start, aend int) {
	if aend < start {
		aend = start
	}
	m.PayloadLen = aend - start
	if start > len(b) {
		start = len(b)
	}
	m.Payload = b[start:min(aend, len(b))]
	if len(m.Payload) < m.PayloadLen {
		m.Truncated = true
	}
}

// enter strips one tunnel layer: it keeps the outermost tunnel identity and
// the link-layer fields, and clears the rest for the inner packet, which
// cannot extend past end, the carrier's announced end. It returns false,
// leaving m alone, when the tunnel is nested too deep.
func (d *Decoder) enter(m *Meta, t TunnelType, id uint32, depth, end int) bool {
	if depth >= d.maxDepth {
		d.stats.TunnelTooDeep++
		return false
	}
	d.stats.Tunnels[t]++
	d.lim = end
	if m.Tunnel.Type == TunnelNone {
		m.Tunnel = Tunnel{Type: t, ID: id, Src: m.Src, Dst: m.Dst}
	}
	// Clear what the carrier's IP and UDP headers set (GRE and IP-in-IP
	// set nothing more); Reassembled stays, since the inner packet lives
	// in the reassembly buffer.
	m.IPVersion, m.Src, m.Dst, m.Proto, m.TTL, m.IPLen, m.IPID = 0, netip.Addr{}, netip.Addr{}, 0, 0, 0, 0
	m.IsFragment, m.FragOffset, m.L4Decoded, m.SrcPort, m.DstPort = false, 0, false, 0, 0
	m.Payload, m.PayloadLen, m.Truncated = nil, 0, false
	return true
}

func (d *Decoder) tcp(b []byte, off, end int, m *Meta) error {
	if len(b)-off < 20 {
		m.Truncated = true
		return nil
	}
	h := b[off : off+20]
	doff := int(h[12]>>4) * 4
	if doff < 20 || off+doff > end {
		return d.fail("tcp", off+12, ErrMalformed)
	}
	m.SrcPort = binary.BigEndian.Uint16(h[0:])
	m.DstPort = binary.BigEndian.Uint16(h[2:])
	m.Seq = binary.BigEndian.Uint32(h[4:])
	m.Ack = binary.BigEndian.Uint32(h[8:])
	m.TCPFlags = h[13]
	m.Window = binary.BigEndian.Uint16(h[14:])
	m.L4Decoded = true
	if doff > 20 {
		oend := off + doff
		cut := oend > len(b)
		if cut {
			oend = len(b)
			m.Truncated = true
		}
		if !tcpOptions(b[off+20:oend], m) && !cut {
			d.stats.TCPBadOptions++
		}
	}
	m.setPayload(b, off+doff, end)
	return nil
}

// tcpOptions fills the option fields of m from o. It returns false when the
// list is malformed; options parsed before the damage are kept.
func tcpOptions(o []byte, m *Meta) bool {
	for i := 0; i < len(o); {
		switch o[i] {
		case 0: // end of list
			return true
		case 1: // no-op
			i++
			continue
		}
		if i+1 >= len(o) {
			return false
		}
		n := int(o[i+1])
		if n < 2 || i+n > len(o) {
			return false
		}
		v := o[i+2 : i+n]
		switch o[i] {
		case 2:
			if n != 4 {
				return false
			}
			m.MSS = binary.BigEndian.Uint16(v)
		case 3:
			if n != 3 {
				return false
			}
			m.WinScale = int8(min(v[0], 14)) // RFC 7323: larger shifts mean 14
		case 4:
			if n != 2 {
				return false
			}
			m.SACKPerm = true
		case 5:
			if (n-2)%8 != 0 {
				return false
			}
			m.NSACK = 0
			for j := 0; j+8 <= len(v) && int(m.NSACK) < len(m.SACK); j += 8 {
				m.SACK[m.NSACK] = [2]uint32{binary.BigEndian.Uint32(v[j:]), binary.BigEndian.Uint32(v[j+4:])}
				m.NSACK++
			}
		case 8:
			if n != 10 {
				return false
			}
			m.HasTS = true
			m.TSVal = binary.BigEndian.Uint32(v)
			m.TSEcr = binary.BigEndian.Uint32(v[4:])
		}
		i += n
	}
	return true
}

func (d *Decoder) udp(b []byte, off, end int, m *Meta, depth int) error {
	if len(b)-off < 8 {
		m.Truncated = true
		return nil
	}
	m.SrcPort = binary.BigEndian.Uint16(b[off:])
	m.DstPort = binary.BigEndian.Uint16(b[off+2:])
	m.L4Decoded = true
	if ulen := int(binary.BigEndian.Uint16(b[off+4:])); ulen >= 8 && off+ulen <= end {
		end = off + ulen
		if end < len(b) {
			b = b[:end]
		}
	} // else a jumbogram (0) or a bad length: the IP packet bounds it
	m.setPayload(b, off+8, end)
	if m.IsFragment && !m.Reassembled {
		return nil // a partial datagram cannot be decapsulated
	}
	if d.tunPorts[m.DstPort/64]&(1<<(m.DstPort%64)) != 0 {
		if done, err := d.udpTunnel(b, off+8, end, m, m.DstPort, depth); done {
			return err
		}
	}
	if d.tunPorts[m.SrcPort/64]&(1<<(m.SrcPort%64)) != 0 {
		if done, err := d.udpTunnel(b, off+8, end, m, m.SrcPort, depth); done {
			return err
		}
	}
	return nil
}

func (d *Decoder) icmp(b []byte, off, end int, m *Meta) error {
	if len(b)-off < 4 {
		m.Truncated = true
		return nil
	}
	m.ICMPType, m.ICMPCode = b[off], b[off+1]
	m.L4Decoded = true
	echo := false
	if m.Proto == ProtoICMP {
		echo = m.ICMPType == 0 || m.ICMPType == 8
	} else {
		echo = m.ICMPType == 128 || m.ICMPType == 129
	}
	if echo && len(b)-off >= 8 {
		m.ICMPID = binary.BigEndian.Uint16(b[off+4:])
		m.ICMPSeq = binary.BigEndian.Uint16(b[off+6:])
		m.SrcPort, m.DstPort = m.ICMPID, m.ICMPID
	}
	// An error message quotes the offending packet's headers in its body;
	// that packet is not this one and is left undecoded.
	m.setPayload(b, off+8, end)
	return nil
}
