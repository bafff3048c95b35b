package decode

import "net/netip"

// TunnelType names the outermost tunnel a packet arrived in.
type TunnelType uint8

// Tunnel types.
const (
	TunnelNone TunnelType = iota
	TunnelVXLAN
	TunnelGENEVE
	TunnelGRE     // GRE carrying IP
	TunnelTEB     // GRE transparent Ethernet bridging
	TunnelERSPAN  // ERSPAN type I, II or III over GRE
	TunnelIPIP    // IPv4 in IPv4
	TunnelIP6inIP // IPv6 in IPv4 (6in4) or IPv6 in IPv6
)

// String returns the tag value used in records ("VXLAN", "GRE", ...), or
// "" for TunnelNone.
func (t TunnelType) String() string {
	switch t {
	case TunnelVXLAN:
		return "VXLAN"
	case TunnelGENEVE:
		return "GENEVE"
	case TunnelGRE:
		return "GRE"
	case TunnelTEB:
		return "TEB"
	case TunnelERSPAN:
		return "ERSPAN"
	case TunnelIPIP:
		return "IPIP"
	case TunnelIP6inIP:
		return "IP6IP"
	}
	return ""
}

// Tunnel is the outer tunnel identity, kept as tags of the inner flow.
type Tunnel struct {
	Type TunnelType
	ID   uint32     // VNI (VXLAN, GENEVE), GRE key, or ERSPAN session id; 0 when absent
	Src  netip.Addr // outer source address
	Dst  netip.Addr // outer destination address
}

// IP protocol numbers used in Meta.Proto.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// TCP flag bits in Meta.TCPFlags.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// Meta is the flat result of decoding one packet down to L4. The caller
// owns it and reuses it; Decode overwrites every field. Payload aliases the
// packet's data (or, for a reassembled IP datagram, the Decoder's buffer)
// and is valid until the next Decode or until the packet data changes.
type Meta struct {
	Timestamp int64 // capture time, Unix nanoseconds
	WireLen   int   // original frame length on the wire (bytes)

	VLAN   uint16    // innermost 802.1Q VLAN id; 0 when untagged
	VLANs  [3]uint16 // VLAN ids from outer to inner
	NVLAN  uint8     // number of VLAN tags seen (may exceed len(VLANs))
	Tunnel Tunnel    // outermost tunnel; Type TunnelNone when not tunnelled

	IPVersion uint8 // 4 or 6 for the (inner) IP header
	Src, Dst  netip.Addr
	Proto     uint8  // IP protocol of the L4 header (after IPv6 extension headers)
	TTL       uint8  // TTL or hop limit
	IPLen     int    // length of the (inner) IP packet per its header; of the whole datagram when Reassembled
	IPID      uint32 // IPv4 identification, or IPv6 fragment identification

	// Fragments (see the package documentation): every fragment has
	// IsFragment set, with addresses and Proto filled in. With reassembly
	// on, L4Decoded is false for each fragment except the one completing
	// its datagram, which has Reassembled set and L4 fields describing the
	// full datagram. With Config.NoReassembly, a first fragment is decoded
	// down to L4 and later ones have L4Decoded false.
	IsFragment  bool
	Reassembled bool
	FragOffset  uint16 // fragment offset in bytes
	L4Decoded   bool   // the L4 header (ports, TCP fields, ICMP type) was decoded; false for other protocols, cut headers and fragments

	SrcPort, DstPort uint16 // TCP/UDP ports; for ICMP echo, the identifier in both

	// TCP.
	Seq, Ack uint32
	TCPFlags uint8
	Window   uint16 // raw window field (not scaled)
	WinScale int8   // window-scale option shift; -1 when absent
	MSS      uint16 // MSS option; 0 when absent
	SACKPerm bool   // SACK-permitted option
	NSACK    uint8  // number of SACK blocks in SACK
	SACK     [4][2]uint32
	HasTS    bool // timestamps option present
	TSVal    uint32
	TSEcr    uint32

	// ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16 // echo identifier and sequence

	// L4 payload (TCP/UDP data, ICMP body after the 8-byte header), or for
	// an IP protocol not decoded (L4Decoded false), the bytes after the
	// last decoded header; nil for a fragment held in reassembly.
	Payload []byte
	// Truncated reports that the capture holds fewer payload bytes than the
	// headers announce (snaplen); PayloadLen is the announced length.
	Truncated  bool
	PayloadLen int
}
