package decode

import (
	"encoding/binary"
	"net/netip"
)

// Packet builders for hand-made test frames. Each returns a fresh slice
// with the header prepended to its payload.

var (
	macA = []byte{0x02, 0, 0, 0, 0, 1}
	macB = []byte{0x02, 0, 0, 0, 0, 2}
)

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func eth(et uint16, payload []byte) []byte {
	return cat(macA, macB, be16(et), payload)
}

// vlanTag is the 4 bytes after a VLAN TPID: TCI and the next EtherType.
func vlanTag(id uint16, et uint16, payload []byte) []byte {
	return cat(be16(id), be16(et), payload)
}

type ip4opt struct {
	id      uint16
	frag    uint16 // flags and offset field, as on the wire
	ttl     uint8
	options []byte
	totLen  int // 0: computed
}

func ipv4Hdr(proto uint8, src, dst string, o ip4opt, payload []byte) []byte {
	hl := 20 + len(o.options)
	h := make([]byte, 20)
	h[0] = 0x40 | byte(hl/4)
	tot := hl + len(payload)
	if o.totLen != 0 {
		tot = o.totLen
	}
	binary.BigEndian.PutUint16(h[2:], uint16(tot))
	binary.BigEndian.PutUint16(h[4:], o.id)
	binary.BigEndian.PutUint16(h[6:], o.frag)
	h[8] = o.ttl
	if h[8] == 0 {
		h[8] = 64
	}
	h[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return cat(h, o.options, payload)
}

func ip4(proto uint8, src, dst string, payload []byte) []byte {
	return ipv4Hdr(proto, src, dst, ip4opt{}, payload)
}

func ip6(next uint8, src, dst string, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return cat(h, payload)
}

// ext6 builds a hop-by-hop, routing or destination-options header padded
// to 8 bytes.
func ext6(next uint8, payload []byte) []byte {
	body := make([]byte, 6)
	n := 8
	for n < 2+len(body) {
		n += 8
	}
	h := make([]byte, n)
	h[0] = next
	h[1] = byte(n/8 - 1)
	return cat(h, payload)
}

func frag6(next uint8, off int, more bool, id uint32, payload []byte) []byte {
	h := make([]byte, 8)
	h[0] = next
	fo := uint16(off)
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(h[2:], fo)
	binary.BigEndian.PutUint32(h[4:], id)
	return cat(h, payload)
}

func ah(next uint8, payload []byte) []byte {
	h := make([]byte, 16) // 12 fixed + 4 ICV; length field = 16/4-2 = 2
	h[0] = next
	h[1] = 2
	return cat(h, payload)
}

func tcpSeg(sp, dp uint16, seq, ack uint32, flags uint8, opts []byte, payload []byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ack)
	h[12] = byte((20 + len(opts)) / 4 << 4)
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return cat(h, opts, payload)
}

func udpDgram(sp, dp uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return cat(h, payload)
}

func icmpMsg(typ, code uint8, id, seq uint16, payload []byte) []byte {
	h := []byte{typ, code, 0, 0}
	h = append(h, be16(id)...)
	h = append(h, be16(seq)...)
	return cat(h, payload)
}

func vxlanHdr(vni uint32, inner []byte) []byte {
	return cat([]byte{0x08, 0, 0, 0}, be32(vni<<8), inner)
}

func geneveHdr(vni uint32, proto uint16, opts []byte, inner []byte) []byte {
	h := []byte{byte(len(opts) / 4), 0}
	h = append(h, be16(proto)...)
	h = append(h, be32(vni<<8)...)
	return cat(h, opts, inner)
}

func greHdr(flags, proto uint16, key, seq uint32, inner []byte) []byte {
	h := cat(be16(flags), be16(proto))
	if flags&greChecksum != 0 {
		h = append(h, 0, 0, 0, 0)
	}
	if flags&greKey != 0 {
		h = append(h, be32(key)...)
	}
	if flags&greSeq != 0 {
		h = append(h, be32(seq)...)
	}
	return cat(h, inner)
}

var payloadHello = []byte("hello, world")

// tcp4Frame is a small Ethernet/IPv4/TCP frame with a payload.
func tcp4Frame() []byte {
	return eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2",
		tcpSeg(40000, 80, 1000, 2000, TCPAck|TCPPsh, nil, payloadHello)))
}

// udp4Frame is a small Ethernet/IPv4/UDP frame with a payload.
func udp4Frame() []byte {
	return eth(0x0800, ip4(ProtoUDP, "10.0.0.1", "10.0.0.2",
		udpDgram(5353, 53, payloadHello)))
}
