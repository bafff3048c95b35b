package decode

import (
	"encoding/binary"

	"github.com/metaflow-go/metaflow/capture"
)

// PeekAddrs reads the addresses and IP protocol of a common frame without
// decoding it and without counting it: an Ethernet or Linux cooked (SLL,
// SLL2) header, with or without 802.1Q/802.1ad tags, or raw IP; then IPv4
// without fragmentation or IPv6 without extension headers, carrying TCP,
// ICMP, ICMPv6, or UDP on ports not configured for a tunnel. For such a
// frame it writes the source and destination addresses in 16-byte form
// (netip.Addr.As16: IPv4 as IPv4-mapped IPv6) and returns the protocol and
// true; Decode gives the same Src, Dst and Proto for it, or fails. For
// every other frame (tunnels, fragments, other link types, damaged
// headers) ok is false and Decode is the way to learn its addresses. Like
// Decode, it gives up the fragments held in reassembly past
// Config.FragmentTimeout by p's time.
//
// A pipeline uses it to choose a frame's shard on one goroutine and leave
// the decoding to the shard.
func (d *Decoder) PeekAddrs(p *capture.Packet, src, dst *[16]byte) (proto uint8, ok bool) {
	if d.reasm != nil && d.reasm.n > 0 {
		d.reasm.expire(p.Timestamp.UnixNano(), &d.stats)
	}
	b := p.Data
	off := 0
	var et uint16
	switch p.LinkType {
	case capture.LinkEthernet:
		if len(b) < 14 {
			return 0, false
		}
		et, off = binary.BigEndian.Uint16(b[12:]), 14
	case capture.LinkLinuxSLL:
		if len(b) < 16 || binary.BigEndian.Uint16(b[2:]) == arphrdNetlink {
			return 0, false
		}
		et, off = binary.BigEndian.Uint16(b[14:]), 16
	case capture.LinkLinuxSLL2:
		if len(b) < 20 || binary.BigEndian.Uint16(b[8:]) == arphrdNetlink {
			return 0, false
		}
		et, off = binary.BigEndian.Uint16(b), 20
	case capture.LinkRaw, capture.LinkIPv4, capture.LinkIPv6:
		if len(b) == 0 {
			return 0, false
		}
		switch b[0] >> 4 {
		case 4:
			return d.peek4(b, 0, src, dst)
		case 6:
			return d.peek6(b, 0, src, dst)
		}
		return 0, false
	default:
		return 0, false
	}
	for et == 0x8100 || et == 0x88A8 {
		if len(b)-off < 4 {
			return 0, false
		}
		et = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	switch et {
	case ethertypeIPv4:
		return d.peek4(b, off, src, dst)
	case ethertypeIPv6:
		return d.peek6(b, off, src, dst)
	}
	return 0, false
}

func (d *Decoder) peek4(b []byte, off int, src, dst *[16]byte) (uint8, bool) {
	if len(b)-off < 20 || b[off] != 0x45 {
		return 0, false // short, or with options: leave it to Decode
	}
	if binary.BigEndian.Uint16(b[off+6:])&0x3FFF != 0 {
		return 0, false // a fragment
	}
	proto := b[off+9]
	if !d.peekL4(b, off+20, proto) {
		return 0, false
	}
	*src = [16]byte{10: 0xFF, 11: 0xFF}
	*dst = [16]byte{10: 0xFF, 11: 0xFF}
	copy(src[12:], b[off+12:off+16])
	copy(dst[12:], b[off+16:off+20])
	return proto, true
}

func (d *Decoder) peek6(b []byte, off int, src, dst *[16]byte) (uint8, bool) {
	if len(b)-off < 40 || b[off]>>4 != 6 {
		return 0, false
	}
	proto := b[off+6]
	if proto != ProtoTCP && proto != ProtoUDP && proto != ProtoICMPv6 {
		return 0, false // extension headers, tunnels, others
	}
	if !d.peekL4(b, off+40, proto) {
		return 0, false
	}
	*src = [16]byte(b[off+8 : off+24])
	*dst = [16]byte(b[off+24 : off+40])
	return proto, true
}

// peekL4 reports whether an L4 header at b[off:] of protocol proto is
// decoded as itself: TCP, ICMP, or UDP with neither port a tunnel's (a
// UDP header not captured whole cannot be decapsulated either).
func (d *Decoder) peekL4(b []byte, off int, proto uint8) bool {
	switch proto {
	case ProtoTCP, ProtoICMP, ProtoICMPv6:
		return true
	case ProtoUDP:
		if len(b)-off < 8 {
			return true
		}
		sp := binary.BigEndian.Uint16(b[off:])
		dp := binary.BigEndian.Uint16(b[off+2:])
		return d.tunPorts[sp/64]&(1<<(sp%64)) == 0 && d.tunPorts[dp/64]&(1<<(dp%64)) == 0
	}
	return false
}
