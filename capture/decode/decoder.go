package decode

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/metaflow-go/metaflow/capture"
)

// Config tunes a Decoder. The zero value means defaults.
type Config struct {
	// NoReassembly turns IP fragment reassembly off: a first fragment is
	// then decoded down to L4 and later fragments are only counted.
	// Default false (reassembly on).
	NoReassembly bool
	// MaxDatagrams bounds the datagrams held in reassembly at once; when
	// full, the oldest is dropped. Default 1024, limit 1<<20.
	MaxDatagrams int
	// MaxDatagramSize bounds the reassembled size of one datagram (the IP
	// payload after the fragment header); larger ones are dropped. Default
	// 65536 (64 KiB), limit 1<<20.
	MaxDatagramSize int
	// FragmentTimeout drops a datagram whose first fragment is older than
	// this, measured in packet time. Default 30s.
	FragmentTimeout time.Duration
	// VXLANPorts are the UDP ports decoded as VXLAN (either port of the
	// datagram). Default {4789, 8472}. Port 0 entries are ignored, so
	// []uint16{0} turns VXLAN decoding off. At most 8 ports.
	VXLANPorts []uint16
	// GENEVEPorts are the UDP ports decoded as GENEVE. Default {6081}; the
	// same rules as VXLANPorts.
	GENEVEPorts []uint16
	// MaxTunnelDepth bounds how many tunnel layers are stripped; a packet
	// nested deeper is decoded as its last stripped layer shows it (for
	// example as UDP to port 4789) and counted in Stats.TunnelTooDeep.
	// Default 4, limit 16.
	MaxTunnelDepth int
}

// Stats counts what a Decoder saw. Counters only grow.
type Stats struct {
	Packets uint64 // Decode calls
	Decoded uint64 // Decode calls that returned nil

	// Errors by kind (the sentinel the error matches).
	NotIP       uint64 // non-IP frames skipped (ARP, LLDP, STP, ...)
	Truncated   uint64 // capture ended inside a link or IP header
	Malformed   uint64 // impossible header fields
	Unsupported uint64 // link types and encapsulations not decoded

	// Packets decoded with Meta.Truncated set (snaplen shorter than the
	// headers announce).
	SnapTruncated uint64
	// TCP option lists that were malformed; parsing stopped there and the
	// packet was decoded anyway.
	TCPBadOptions uint64
	// IP packets whose protocol is not decoded past IP (ESP, SCTP, OSPF,
	// unknown GRE payloads...): Meta.L4Decoded is false.
	OtherProto uint64

	// Tunnel layers stripped, indexed by TunnelType (Tunnels[TunnelVXLAN],
	// ...). A packet nested in two tunnels counts twice.
	Tunnels [TunnelIP6inIP + 1]uint64
	// Packets whose tunnels are nested deeper than Config.MaxTunnelDepth.
	TunnelTooDeep uint64

	// IP fragments.
	FragSeen        uint64 // fragments decoded (IPv4 and IPv6)
	FragReassembled uint64 // datagrams completed by reassembly
	FragExpired     uint64 // datagrams dropped incomplete after FragmentTimeout
	FragDropped     uint64 // datagrams or fragments dropped for limits or inconsistency (table full, too large, overlap past the end, captured short)
}

const (
	defaultMaxDatagrams    = 1024
	defaultMaxDatagramSize = 65536
	defaultFragTimeout     = 30 * time.Second
	defaultTunnelDepth     = 4
	maxPorts               = 8
)

// Decoder decodes frames into Meta. It keeps fragment reassembly state and
// counters; it is not safe for concurrent use (Stats included).
type Decoder struct {
	maxDepth int
	vxlan    [maxPorts]uint16
	geneve   [maxPorts]uint16
	nvxlan   int
	ngeneve  int
	tunPorts [65536 / 64]uint64 // bitmap: port is a VXLAN or GENEVE port

	reasm *reassembler // nil when reassembly is off
	lim   int          // announced end of the packet carrying the current one
	err   DecodeError  // returned by Decode on failure; see DecodeError
	stats Stats
}

// NewDecoder returns a Decoder configured by cfg (zero value: defaults).
func NewDecoder(cfg Config) *Decoder {
	d := &Decoder{maxDepth: cfg.MaxTunnelDepth}
	if d.maxDepth <= 0 {
		d.maxDepth = defaultTunnelDepth
	}
	d.maxDepth = min(d.maxDepth, 16)
	vx := cfg.VXLANPorts
	if vx == nil {
		vx = []uint16{4789, 8472}
	}
	gn := cfg.GENEVEPorts
	if gn == nil {
		gn = []uint16{6081}
	}
	d.nvxlan = d.setPorts(&d.vxlan, vx)
	d.ngeneve = d.setPorts(&d.geneve, gn)
	if !cfg.NoReassembly {
		d.reasm = newReassembler(cfg)
	}
	return d
}

func (d *Decoder) setPorts(dst *[maxPorts]uint16, ports []uint16) int {
	n := 0
	for _, p := range ports {
		if p == 0 || n == maxPorts {
			continue
		}
		dst[n] = p
		n++
		d.tunPorts[p/64] |= 1 << (p % 64)
	}
	return n
}

// Stats returns the counters since NewDecoder.
func (d *Decoder) Stats() Stats { return d.stats }

// Decode decodes p into m, overwriting every field of m. On error m must
// not be used; the error is a *DecodeError matching one of the sentinels
// (errors.Is), and is owned by d until the next Decode. m.Payload aliases
// p.Data, or the Decoder's reassembly buffer when m.Reassembled is set; it
// is valid until the next Decode or until p.Data changes.
func (d *Decoder) Decode(p *capture.Packet, m *Meta) error {
	d.stats.Packets++
	*m = Meta{Timestamp: p.Timestamp.UnixNano(), WireLen: p.Length, WinScale: -1}
	d.lim = math.MaxInt
	if d.reasm != nil && d.reasm.n > 0 {
		d.reasm.expire(m.Timestamp, &d.stats)
	}
	if err := d.link(p.Data, p.LinkType, m); err != nil {
		return err
	}
	d.stats.Decoded++
	if m.Truncated {
		d.stats.SnapTruncated++
	}
	return nil
}

// fail records a decode error in d.err, counts it and returns it.
func (d *Decoder) fail(layer string, off int, err error) error {
	switch err {
	case ErrNotIP:
		d.stats.NotIP++
	case ErrTruncated:
		d.stats.Truncated++
	case ErrMalformed:
		d.stats.Malformed++
	case ErrUnsupported:
		d.stats.Unsupported++
	}
	d.err = DecodeError{Layer: layer, Offset: off, Err: err}
	return &d.err
}

// BSD address-family values for IPv6 in DLT_NULL / DLT_LOOP headers.
const (
	afINET          = 2
	afINET6NetBSD   = 24 // also OpenBSD
	afINET6FreeBSD  = 28
	afINET6Darwin   = 30
	ethertypeIPv4   = 0x0800
	ethertypeIPv6   = 0x86DD
	ethertypeTEB    = 0x6558
	ethertypeERSPAN = 0x88BE
	ethertypeERSP3  = 0x22EB
	ethertypeCMD    = 0x8909 // Cisco MetaData
)

func (d *Decoder) link(b []byte, lt capture.LinkType, m *Meta) error {
	switch lt {
	case capture.LinkEthernet:
		return d.ether(b, 0, m, 0)
	case capture.LinkRaw:
		return d.ipAny(b, 0, m, 0, "raw")
	case capture.LinkIPv4:
		return d.ipv4(b, 0, m, 0)
	case capture.LinkIPv6:
		return d.ipv6(b, 0, m, 0)
	case capture.LinkNull, capture.LinkLoop:
		if len(b) < 4 {
			return d.fail("null", 0, ErrTruncated)
		}
		var af uint32
		if lt == capture.LinkLoop {
			af = binary.BigEndian.Uint32(b)
		} else {
			// Host byte order of the capturing machine: one of the two
			// readings is a small number.
			af = binary.LittleEndian.Uint32(b)
			if af > 0xFFFF {
				af = binary.BigEndian.Uint32(b)
			}
		}
		switch af {
		case afINET:
			return d.ipv4(b, 4, m, 0)
		case afINET6NetBSD, afINET6FreeBSD, afINET6Darwin:
			return d.ipv6(b, 4, m, 0)
		}
		return d.fail("null", 0, ErrNotIP)
	case capture.LinkLinuxSLL:
		if len(b) < 16 {
			return d.fail("sll", 0, ErrTruncated)
		}
		return d.sllProto(b, 16, binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[14:]), m)
	case capture.LinkLinuxSLL2:
		if len(b) < 20 {
			return d.fail("sll2", 0, ErrTruncated)
		}
		return d.sllProto(b, 20, binary.BigEndian.Uint16(b[8:]), binary.BigEndian.Uint16(b), m)
	}
	return d.fail("link", 0, ErrUnsupported)
}

// arphrdNetlink is the ARPHRD type of netlink captures (nlmon), whose
// protocol field is a netlink family rather than an EtherType.
const arphrdNetlink = 824

func (d *Decoder) sllProto(b []byte, off int, hatype, proto uint16, m *Meta) error {
	if hatype == arphrdNetlink || proto < 0x0600 {
		// Netlink, or one of the Linux pseudo-protocols (802.2 LLC, Novell
		// 802.3, CAN...), none of which is IP.
		return d.fail("sll", off-2, ErrNotIP)
	}
	return d.ethertype(b, off, proto, m, 0)
}

// ether decodes an Ethernet header at b[off:].
func (d *Decoder) ether(b []byte, off int, m *Meta, depth int) error {
	if len(b)-off < 14 {
		return d.fail("ethernet", off, ErrTruncated)
	}
	et := binary.BigEndian.Uint16(b[off+12:])
	return d.ethertype(b, off+14, et, m, depth)
}

// ethertype dispatches on an EtherType whose payload starts at b[off:],
// following VLAN tags, MPLS label stacks and PPPoE sessions down to IP.
func (d *Decoder) ethertype(b []byte, off int, et uint16, m *Meta, depth int) error {
	for {
		switch et {
		case ethertypeIPv4:
			return d.ipv4(b, off, m, depth)
		case ethertypeIPv6:
			return d.ipv6(b, off, m, depth)
		case 0x8100, 0x88A8, 0x9100, 0x9200: // 802.1Q, 802.1ad, old QinQ
			if len(b)-off < 4 {
				return d.fail("vlan", off, ErrTruncated)
			}
			id := binary.BigEndian.Uint16(b[off:]) & 0x0FFF
			if int(m.NVLAN) < len(m.VLANs) {
				m.VLANs[m.NVLAN] = id
			}
			if m.NVLAN < 255 {
				m.NVLAN++
			}
			m.VLAN = id
			et = binary.BigEndian.Uint16(b[off+2:])
			off += 4
		case 0x8847, 0x8848: // MPLS unicast, multicast
			for {
				if len(b)-off < 4 {
					return d.fail("mpls", off, ErrTruncated)
				}
				bottom := b[off+2]&1 != 0
				off += 4
				if bottom {
					break
				}
			}
			if len(b)-off < 1 {
				return d.fail("mpls", off, ErrTruncated)
			}
			// No protocol field: guess from the first nibble, as
			// forwarding hardware does.
			switch b[off] >> 4 {
			case 4:
				return d.ipv4(b, off, m, depth)
			case 6:
				return d.ipv6(b, off, m, depth)
			}
			return d.fail("mpls", off, ErrUnsupported)
		case ethertypeCMD:
			// Cisco MetaData: version, length, options, SGT, EtherType.
			if len(b)-off < 8 {
				return d.fail("cmd", off, ErrTruncated)
			}
			et = binary.BigEndian.Uint16(b[off+6:])
			off += 8
		case 0x8864: // PPPoE session
			if len(b)-off < 8 {
				return d.fail("pppoe", off, ErrTruncated)
			}
			switch binary.BigEndian.Uint16(b[off+6:]) {
			case 0x0021:
				return d.ipv4(b, off+8, m, depth)
			case 0x0057:
				return d.ipv6(b, off+8, m, depth)
			}
			return d.fail("pppoe", off+6, ErrNotIP)
		default:
			if et < 0x0600 {
				// IEEE 802.3 length field: IP only behind LLC/SNAP.
				if len(b)-off >= 8 && b[off] == 0xAA && b[off+1] == 0xAA && b[off+2] == 0x03 {
					et = binary.BigEndian.Uint16(b[off+6:])
					off += 8
					if et >= 0x0600 {
						continue
					}
				}
			}
			return d.fail("ethernet", off-2, ErrNotIP)
		}
	}
}

// ipAny decodes an IP packet whose version is given by its first nibble.
func (d *Decoder) ipAny(b []byte, off int, m *Meta, depth int, layer string) error {
	if len(b)-off < 1 {
		return d.fail(layer, off, ErrTruncated)
	}
	switch b[off] >> 4 {
	case 4:
		return d.ipv4(b, off, m, depth)
	case 6:
		return d.ipv6(b, off, m, depth)
	}
	return d.fail(layer, off, ErrNotIP)
}

// Add adds o's counters to s, so that the Stats of several decoders (a
// pipeline's reader and shards) can be merged.
func (s *Stats) Add(o *Stats) {
	s.Packets += o.Packets
	s.Decoded += o.Decoded
	s.NotIP += o.NotIP
	s.Truncated += o.Truncated
	s.Malformed += o.Malformed
	s.Unsupported += o.Unsupported
	s.SnapTruncated += o.SnapTruncated
	s.TCPBadOptions += o.TCPBadOptions
	s.OtherProto += o.OtherProto
	for i := range s.Tunnels {
		s.Tunnels[i] += o.Tunnels[i]
	}
	s.TunnelTooDeep += o.TunnelTooDeep
	s.FragSeen += o.FragSeen
	s.FragReassembled += o.FragReassembled
	s.FragExpired += o.FragExpired
	s.FragDropped += o.FragDropped
}
