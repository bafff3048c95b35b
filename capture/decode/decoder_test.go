package decode

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
)

func pkt(lt capture.LinkType, data []byte) *capture.Packet {
	return &capture.Packet{Timestamp: time.Unix(1700000000, 5), Data: data, Length: len(data), LinkType: lt}
}

func decodeOK(t *testing.T, d *Decoder, p *capture.Packet) *Meta {
	t.Helper()
	var m Meta
	if err := d.Decode(p, &m); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return &m
}

var (
	a4, b4 = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
)

// want is the subset of Meta a table case checks.
type want struct {
	ver              uint8
	src, dst         netip.Addr
	proto            uint8
	sport, dport     uint16
	l4               bool
	payload          string
	vlans            []uint16
	tunnel           TunnelType
	tunID            uint32
	tunSrc, tunDst   netip.Addr
	truncated        bool
	payloadLen       int // checked when non-zero
	icmpType, icmpCd uint8
}

func (w *want) check(t *testing.T, m *Meta) {
	t.Helper()
	if m.IPVersion != w.ver || m.Src != w.src || m.Dst != w.dst || m.Proto != w.proto {
		t.Errorf("L3: got v%d %v -> %v proto %d, want v%d %v -> %v proto %d",
			m.IPVersion, m.Src, m.Dst, m.Proto, w.ver, w.src, w.dst, w.proto)
	}
	if m.L4Decoded != w.l4 || m.SrcPort != w.sport || m.DstPort != w.dport {
		t.Errorf("L4: got decoded=%v %d -> %d, want decoded=%v %d -> %d",
			m.L4Decoded, m.SrcPort, m.DstPort, w.l4, w.sport, w.dport)
	}
	if string(m.Payload) != w.payload {
		t.Errorf("payload: got %q, want %q", m.Payload, w.payload)
	}
	if int(m.NVLAN) != len(w.vlans) {
		t.Errorf("NVLAN: got %d, want %d", m.NVLAN, len(w.vlans))
	} else if len(w.vlans) > 0 {
		if m.VLAN != w.vlans[len(w.vlans)-1] {
			t.Errorf("VLAN: got %d, want %d", m.VLAN, w.vlans[len(w.vlans)-1])
		}
		for i := 0; i < len(w.vlans) && i < len(m.VLANs); i++ {
			if m.VLANs[i] != w.vlans[i] {
				t.Errorf("VLANs: got %v, want %v", m.VLANs, w.vlans)
			}
		}
	} else if m.VLAN != 0 {
		t.Errorf("VLAN: got %d, want 0", m.VLAN)
	}
	if m.Tunnel.Type != w.tunnel || m.Tunnel.ID != w.tunID {
		t.Errorf("tunnel: got %v id %d, want %v id %d", m.Tunnel.Type, m.Tunnel.ID, w.tunnel, w.tunID)
	}
	if w.tunnel != TunnelNone && (m.Tunnel.Src != w.tunSrc || m.Tunnel.Dst != w.tunDst) {
		t.Errorf("tunnel ends: got %v -> %v, want %v -> %v", m.Tunnel.Src, m.Tunnel.Dst, w.tunSrc, w.tunDst)
	}
	if m.Truncated != w.truncated {
		t.Errorf("Truncated: got %v, want %v", m.Truncated, w.truncated)
	}
	if w.payloadLen != 0 && m.PayloadLen != w.payloadLen {
		t.Errorf("PayloadLen: got %d, want %d", m.PayloadLen, w.payloadLen)
	}
	if m.ICMPType != w.icmpType || m.ICMPCode != w.icmpCd {
		t.Errorf("ICMP: got %d/%d, want %d/%d", m.ICMPType, m.ICMPCode, w.icmpType, w.icmpCd)
	}
}

var (
	wantTCP4 = want{ver: 4, src: a4, dst: b4, proto: ProtoTCP, sport: 40000, dport: 80, l4: true, payload: "hello, world"}
	wantUDP4 = want{ver: 4, src: a4, dst: b4, proto: ProtoUDP, sport: 5353, dport: 53, l4: true, payload: "hello, world"}
	wantUDP6 = want{ver: 6, src: a6, dst: b6, proto: ProtoUDP, sport: 5353, dport: 53, l4: true, payload: "hello, world"}
)

func tcp4() []byte {
	return ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(40000, 80, 1, 2, TCPAck, nil, payloadHello))
}
func udp4() []byte { return ip4(ProtoUDP, "10.0.0.1", "10.0.0.2", udpDgram(5353, 53, payloadHello)) }
func udp6() []byte {
	return ip6(ProtoUDP, "2001:db8::1", "2001:db8::2", udpDgram(5353, 53, payloadHello))
}

func with(w want, f func(*want)) want { f(&w); return w }

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func TestDecode_LinkTypes(t *testing.T) {
	sll := func(proto uint16, payload []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], macA)
		binary.BigEndian.PutUint16(h[14:], proto)
		return cat(h, payload)
	}
	sll2 := func(proto uint16, payload []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], proto)
		binary.BigEndian.PutUint32(h[4:], 2) // ifindex
		binary.BigEndian.PutUint16(h[8:], 1)
		h[11] = 6
		copy(h[12:], macA)
		return cat(h, payload)
	}
	cases := []struct {
		name string
		lt   capture.LinkType
		data []byte
		want want
	}{
		{"ethernet", capture.LinkEthernet, eth(0x0800, udp4()), wantUDP4},
		{"ethernet padded", capture.LinkEthernet, cat(eth(0x0800, udp4()), make([]byte, 20)), wantUDP4},
		{"sll", capture.LinkLinuxSLL, sll(0x0800, udp4()), wantUDP4},
		{"sll ipv6", capture.LinkLinuxSLL, sll(0x86DD, udp6()), wantUDP6},
		{"sll vlan", capture.LinkLinuxSLL, sll(0x8100, vlanTag(7, 0x0800, udp4())), with(wantUDP4, func(w *want) { w.vlans = []uint16{7} })},
		{"sll2", capture.LinkLinuxSLL2, sll2(0x0800, udp4()), wantUDP4},
		{"raw v4", capture.LinkRaw, udp4(), wantUDP4},
		{"raw v6", capture.LinkRaw, udp6(), wantUDP6},
		{"ipv4", capture.LinkIPv4, udp4(), wantUDP4},
		{"ipv6", capture.LinkIPv6, udp6(), wantUDP6},
		{"null le inet", capture.LinkNull, cat(le32(2), udp4()), wantUDP4},
		{"null be inet", capture.LinkNull, cat(be32(2), udp4()), wantUDP4},
		{"null le inet6 24", capture.LinkNull, cat(le32(24), udp6()), wantUDP6},
		{"null le inet6 28", capture.LinkNull, cat(le32(28), udp6()), wantUDP6},
		{"null be inet6 30", capture.LinkNull, cat(be32(30), udp6()), wantUDP6},
		{"loop inet", capture.LinkLoop, cat(be32(2), udp4()), wantUDP4},
		{"loop inet6", capture.LinkLoop, cat(be32(24), udp6()), wantUDP6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := decodeOK(t, NewDecoder(Config{}), pkt(tc.lt, tc.data))
			tc.want.check(t, m)
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	stp := cat(macA, macB, be16(38), []byte{0x42, 0x42, 0x03}, make([]byte, 35))
	cases := []struct {
		name   string
		lt     capture.LinkType
		data   []byte
		err    error
		layer  string
		offset int
	}{
		{"arp", capture.LinkEthernet, eth(0x0806, make([]byte, 28)), ErrNotIP, "ethernet", 12},
		{"lldp", capture.LinkEthernet, eth(0x88CC, make([]byte, 28)), ErrNotIP, "ethernet", 12},
		{"stp llc", capture.LinkEthernet, stp, ErrNotIP, "ethernet", 12},
		{"arp in vlan", capture.LinkEthernet, eth(0x8100, vlanTag(5, 0x0806, make([]byte, 28))), ErrNotIP, "ethernet", 16},
		{"short ethernet", capture.LinkEthernet, make([]byte, 13), ErrTruncated, "ethernet", 0},
		{"short vlan", capture.LinkEthernet, eth(0x8100, []byte{0, 1}), ErrTruncated, "vlan", 14},
		{"short ipv4", capture.LinkEthernet, eth(0x0800, udp4()[:19]), ErrTruncated, "ipv4", 14},
		{"short ipv4 options", capture.LinkEthernet, eth(0x0800, ipv4Hdr(ProtoUDP, "1.1.1.1", "2.2.2.2", ip4opt{options: make([]byte, 8)}, nil)[:24]), ErrTruncated, "ipv4", 14},
		{"bad ipv4 ihl", capture.LinkRaw, append([]byte{0x44}, udp4()[1:]...), ErrMalformed, "ipv4", 0},
		{"bad ipv4 version", capture.LinkIPv4, udp6(), ErrMalformed, "ipv4", 0},
		{"ipv4 total < ihl", capture.LinkIPv4, ipv4Hdr(ProtoUDP, "1.1.1.1", "2.2.2.2", ip4opt{totLen: 10}, nil), ErrMalformed, "ipv4", 2},
		{"short ipv6", capture.LinkIPv6, udp6()[:39], ErrTruncated, "ipv6", 0},
		{"bad ipv6 version", capture.LinkIPv6, append(udp4(), make([]byte, 40)...), ErrMalformed, "ipv6", 0},
		{"raw not ip", capture.LinkRaw, []byte{0x10, 0, 0}, ErrNotIP, "raw", 0},
		{"empty raw", capture.LinkRaw, nil, ErrTruncated, "raw", 0},
		{"null other family", capture.LinkNull, cat(le32(7), udp4()), ErrNotIP, "null", 0},
		{"short null", capture.LinkNull, []byte{2, 0}, ErrTruncated, "null", 0},
		{"sll llc", capture.LinkLinuxSLL, cat(make([]byte, 14), be16(4), make([]byte, 10)), ErrNotIP, "sll", 14},
		{"short sll2", capture.LinkLinuxSLL2, make([]byte, 19), ErrTruncated, "sll2", 0},
		{"unknown link", capture.LinkType(147), udp4(), ErrUnsupported, "link", 0},
		{"mpls to non-ip", capture.LinkEthernet, eth(0x8847, cat([]byte{0, 0, 0x11, 64}, make([]byte, 20))), ErrUnsupported, "mpls", 18},
		{"short mpls", capture.LinkEthernet, eth(0x8847, []byte{0, 0, 0x10, 64}), ErrTruncated, "mpls", 18},
		{"tcp data offset < 5", capture.LinkIPv4, ip4(ProtoTCP, "1.1.1.1", "2.2.2.2", func() []byte { s := tcpSeg(1, 2, 0, 0, 0, nil, nil); s[12] = 0x40; return s }()), ErrMalformed, "tcp", 32},
		{"ipv6 ext past end", capture.LinkIPv6, ip6(protoDstOpts, "::1", "::2", []byte{ProtoUDP, 4, 0, 0, 0, 0, 0, 0}), ErrMalformed, "ipv6-ext", 40},
		{"vxlan inner arp", capture.LinkIPv4, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(1, 4789, vxlanHdr(1, eth(0x0806, make([]byte, 28))))), ErrNotIP, "ethernet", 48},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(Config{})
			var m Meta
			err := d.Decode(pkt(tc.lt, tc.data), &m)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Layer != tc.layer || de.Offset != tc.offset {
				t.Fatalf("got %#v, want layer %q offset %d", err, tc.layer, tc.offset)
			}
			st := d.Stats()
			counted := map[error]uint64{ErrNotIP: st.NotIP, ErrTruncated: st.Truncated, ErrMalformed: st.Malformed, ErrUnsupported: st.Unsupported}
			if counted[tc.err] != 1 || st.Packets != 1 || st.Decoded != 0 {
				t.Fatalf("stats %+v", st)
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestDecode_VLANAndFriends(t *testing.T) {
	pppoe := func(proto uint16, payload []byte) []byte {
		return cat([]byte{0x11, 0, 0, 1}, be16(uint16(2+len(payload))), be16(proto), payload)
	}
	mpls := func(labels int, payload []byte) []byte {
		var h []byte
		for i := range labels {
			e := uint32(100+i)<<12 | 64
			if i == labels-1 {
				e |= 1 << 8
			}
			h = append(h, be32(e)...)
		}
		return cat(h, payload)
	}
	cases := []struct {
		name string
		data []byte
		want want
	}{
		{"802.1Q", eth(0x8100, vlanTag(10, 0x0800, udp4())), with(wantUDP4, func(w *want) { w.vlans = []uint16{10} })},
		{"802.1ad QinQ", eth(0x88A8, vlanTag(10, 0x8100, vlanTag(20, 0x0800, udp4()))), with(wantUDP4, func(w *want) { w.vlans = []uint16{10, 20} })},
		{"triple", eth(0x88A8, vlanTag(10, 0x8100, vlanTag(20, 0x8100, vlanTag(30, 0x86DD, udp6())))), with(wantUDP6, func(w *want) { w.vlans = []uint16{10, 20, 30} })},
		{"four tags", eth(0x9100, vlanTag(1, 0x9100, vlanTag(2, 0x8100, vlanTag(3, 0x8100, vlanTag(4, 0x0800, udp4()))))), with(wantUDP4, func(w *want) { w.vlans = []uint16{1, 2, 3, 4} })},
		{"priority bits masked", eth(0x8100, vlanTag(0xE000|42, 0x0800, udp4())), with(wantUDP4, func(w *want) { w.vlans = []uint16{42} })},
		{"mpls one label", eth(0x8847, mpls(1, udp4())), wantUDP4},
		{"mpls three labels ipv6", eth(0x8847, mpls(3, udp6())), wantUDP6},
		{"vlan mpls", eth(0x8100, vlanTag(9, 0x8847, mpls(2, udp4()))), with(wantUDP4, func(w *want) { w.vlans = []uint16{9} })},
		{"pppoe ipv4", eth(0x8864, pppoe(0x0021, udp4())), wantUDP4},
		{"pppoe ipv6", eth(0x8864, pppoe(0x0057, udp6())), wantUDP6},
		{"llc snap", cat(macA, macB, be16(uint16(8+len(udp4()))), []byte{0xAA, 0xAA, 0x03, 0, 0, 0}, be16(0x0800), udp4()), wantUDP4},
		{"cisco metadata", eth(0x8909, cat([]byte{1, 1, 0, 1, 0, 0}, be16(0x0800), udp4())), wantUDP4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkEthernet, tc.data)))
		})
	}
}

func TestDecode_IPv4Options(t *testing.T) {
	opts := []byte{7, 7, 4, 0, 0, 0, 0, 1} // record route + EOL padding
	f := eth(0x0800, ipv4Hdr(ProtoTCP, "10.0.0.1", "10.0.0.2", ip4opt{id: 77, ttl: 3, options: opts},
		tcpSeg(40000, 80, 1, 2, TCPAck, nil, payloadHello)))
	m := decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkEthernet, f))
	wantTCP4.check(t, m)
	if m.TTL != 3 || m.IPID != 77 || m.IPLen != 20+8+20+len(payloadHello) {
		t.Fatalf("TTL %d IPID %d IPLen %d", m.TTL, m.IPID, m.IPLen)
	}
}

func TestDecode_IPv6Extensions(t *testing.T) {
	espBody := []byte{0, 0, 1, 0, 0, 0, 0, 1, 0xde, 0xad}
	cases := []struct {
		name string
		data []byte
		want want
	}{
		{"hop-by-hop", ip6(protoHopByHop, "2001:db8::1", "2001:db8::2", ext6(ProtoUDP, udpDgram(5353, 53, payloadHello))), wantUDP6},
		{"routing", ip6(protoRouting, "2001:db8::1", "2001:db8::2", ext6(ProtoUDP, udpDgram(5353, 53, payloadHello))), wantUDP6},
		{"destination options", ip6(protoDstOpts, "2001:db8::1", "2001:db8::2", ext6(ProtoUDP, udpDgram(5353, 53, payloadHello))), wantUDP6},
		{"chain", ip6(protoHopByHop, "2001:db8::1", "2001:db8::2", ext6(protoRouting, ext6(protoDstOpts, ext6(ProtoUDP, udpDgram(5353, 53, payloadHello))))), wantUDP6},
		{"atomic fragment", ip6(protoFragment, "2001:db8::1", "2001:db8::2", frag6(ProtoUDP, 0, false, 9, udpDgram(5353, 53, payloadHello))), wantUDP6},
		{"ah", ip6(protoAH, "2001:db8::1", "2001:db8::2", ah(ProtoUDP, udpDgram(5353, 53, payloadHello))), wantUDP6},
		{"ah then esp", ip6(protoAH, "2001:db8::1", "2001:db8::2", ah(protoESP, espBody)), want{ver: 6, src: a6, dst: b6, proto: protoESP, payload: string(espBody)}},
		{"esp", ip6(protoESP, "2001:db8::1", "2001:db8::2", espBody), want{ver: 6, src: a6, dst: b6, proto: protoESP, payload: string(espBody)}},
		{"no next header", ip6(protoNoNext, "2001:db8::1", "2001:db8::2", nil), want{ver: 6, src: a6, dst: b6, proto: protoNoNext}},
		{"ipv4 ah", ip4(protoAH, "10.0.0.1", "10.0.0.2", ah(ProtoUDP, udpDgram(5353, 53, payloadHello))), wantUDP4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkRaw, tc.data)))
		})
	}
}

func TestDecode_TCPOptions(t *testing.T) {
	opts := cat(
		[]byte{2, 4, 0x05, 0xb4}, // MSS 1460
		[]byte{1},                // NOP
		[]byte{3, 3, 7},          // window scale 7
		[]byte{4, 2},             // SACK permitted
		[]byte{8, 10}, be32(111), be32(222),
		[]byte{5, 18}, be32(10), be32(20), be32(30), be32(40),
		[]byte{0}, // EOL
	)
	f := eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(40000, 80, 7, 8, TCPSyn|TCPAck|TCPEce, opts, payloadHello)))
	d := NewDecoder(Config{})
	m := decodeOK(t, d, pkt(capture.LinkEthernet, f))
	wantTCP4.check(t, m)
	if m.MSS != 1460 || m.WinScale != 7 || !m.SACKPerm || !m.HasTS || m.TSVal != 111 || m.TSEcr != 222 ||
		m.NSACK != 2 || m.SACK[0] != [2]uint32{10, 20} || m.SACK[1] != [2]uint32{30, 40} ||
		m.Seq != 7 || m.Ack != 8 || m.TCPFlags != TCPSyn|TCPAck|TCPEce || m.Window != 65535 {
		t.Fatalf("got %+v", m)
	}
	if st := d.Stats(); st.TCPBadOptions != 0 {
		t.Fatalf("bad options counted: %+v", st)
	}

	bad := []struct {
		name string
		opts []byte
	}{
		{"zero length", []byte{2, 0, 1, 1}},
		{"length past end", []byte{1, 1, 8, 30}},
		{"kind without length", []byte{1, 1, 1, 2}},
		{"mss wrong length", []byte{2, 3, 5, 1}},
		{"sack odd length", []byte{5, 6, 0, 0, 0, 0, 1, 1}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(Config{})
			opts := cat([]byte{3, 3, 2, 1}, tc.opts) // a good window scale first
			f := eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(40000, 80, 1, 2, TCPAck, opts, payloadHello)))
			m := decodeOK(t, d, pkt(capture.LinkEthernet, f))
			wantTCP4.check(t, m)
			if m.WinScale != 2 {
				t.Errorf("option before the damage lost: WinScale %d", m.WinScale)
			}
			if st := d.Stats(); st.TCPBadOptions != 1 {
				t.Errorf("TCPBadOptions %d", st.TCPBadOptions)
			}
		})
	}
	t.Run("window scale capped", func(t *testing.T) {
		f := eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(40000, 80, 1, 2, TCPSyn, []byte{3, 3, 200}, nil)))
		if m := decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkEthernet, f)); m.WinScale != 14 {
			t.Fatalf("WinScale %d", m.WinScale)
		}
	})
}

func TestDecode_ICMP(t *testing.T) {
	quoted := ip4(ProtoUDP, "10.0.0.2", "8.8.8.8", udpDgram(1111, 53, nil))
	cases := []struct {
		name string
		data []byte
		want want
	}{
		{"echo request", ip4(ProtoICMP, "10.0.0.1", "10.0.0.2", icmpMsg(8, 0, 0x1234, 1, payloadHello)),
			want{ver: 4, src: a4, dst: b4, proto: ProtoICMP, sport: 0x1234, dport: 0x1234, l4: true, payload: "hello, world", icmpType: 8}},
		{"echo reply", ip4(ProtoICMP, "10.0.0.2", "10.0.0.1", icmpMsg(0, 0, 0x1234, 1, nil)),
			want{ver: 4, src: b4, dst: a4, proto: ProtoICMP, sport: 0x1234, dport: 0x1234, l4: true}},
		{"port unreachable quotes a UDP packet", ip4(ProtoICMP, "10.0.0.1", "10.0.0.2", icmpMsg(3, 3, 0, 0, quoted)),
			want{ver: 4, src: a4, dst: b4, proto: ProtoICMP, l4: true, payload: string(quoted), icmpType: 3, icmpCd: 3}},
		{"icmpv6 echo", ip6(ProtoICMPv6, "2001:db8::1", "2001:db8::2", icmpMsg(128, 0, 77, 2, nil)),
			want{ver: 6, src: a6, dst: b6, proto: ProtoICMPv6, sport: 77, dport: 77, l4: true, icmpType: 128}},
		{"icmpv6 neighbour solicitation", ip6(ProtoICMPv6, "2001:db8::1", "2001:db8::2", icmpMsg(135, 0, 0, 0, make([]byte, 16))),
			want{ver: 6, src: a6, dst: b6, proto: ProtoICMPv6, l4: true, payload: string(make([]byte, 16)), icmpType: 135}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkRaw, tc.data))
			tc.want.check(t, m)
		})
	}
}

func TestDecode_Truncated(t *testing.T) {
	full := tcp4Frame()
	t.Run("payload cut", func(t *testing.T) {
		d := NewDecoder(Config{})
		p := pkt(capture.LinkEthernet, full[:len(full)-5])
		p.Length = len(full)
		m := decodeOK(t, d, p)
		if !m.Truncated || m.PayloadLen != 12 || string(m.Payload) != "hello, " || !m.L4Decoded || m.WireLen != len(full) {
			t.Fatalf("got %+v", m)
		}
		if d.Stats().SnapTruncated != 1 {
			t.Fatalf("stats %+v", d.Stats())
		}
	})
	t.Run("tcp header cut", func(t *testing.T) {
		m := decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkEthernet, full[:14+20+10]))
		if !m.Truncated || m.L4Decoded || m.Src != a4 || m.Proto != ProtoTCP {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("tcp options cut", func(t *testing.T) {
		f := eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(1, 2, 3, 4, TCPSyn, []byte{2, 4, 5, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, nil)))
		d := NewDecoder(Config{})
		m := decodeOK(t, d, pkt(capture.LinkEthernet, f[:len(f)-8]))
		if !m.Truncated || !m.L4Decoded || m.MSS != 1460 || m.HasTS || m.PayloadLen != 0 {
			t.Fatalf("got %+v", m)
		}
		if d.Stats().TCPBadOptions != 0 {
			t.Fatal("a cut option list counted as malformed")
		}
	})
	t.Run("udp cut", func(t *testing.T) {
		f := udp4Frame()
		m := decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkEthernet, f[:len(f)-2]))
		if !m.Truncated || m.PayloadLen != 12 || len(m.Payload) != 10 {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("vxlan inner cut", func(t *testing.T) {
		f := eth(0x0800, ip4(ProtoUDP, "192.168.0.1", "192.168.0.2", udpDgram(1, 4789, vxlanHdr(5, tcp4Frame()))))
		m := decodeOK(t, NewDecoder(Config{}), pkt(capture.LinkEthernet, f[:len(f)-4]))
		if !m.Truncated || m.Tunnel.Type != TunnelVXLAN || m.PayloadLen != 12 || string(m.Payload) != "hello, w" {
			t.Fatalf("got %+v", m)
		}
	})
}

func TestDecode_Tunnels(t *testing.T) {
	o4s, o4d := netip.MustParseAddr("192.168.0.1"), netip.MustParseAddr("192.168.0.2")
	o6s, o6d := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	outer4 := func(proto uint8, payload []byte) []byte {
		return eth(0x0800, ip4(proto, "192.168.0.1", "192.168.0.2", payload))
	}
	outer6 := func(proto uint8, payload []byte) []byte {
		return eth(0x86DD, ip6(proto, "fd00::1", "fd00::2", payload))
	}
	tun := func(w want, tt TunnelType, id uint32, s, d netip.Addr) want {
		w.tunnel, w.tunID, w.tunSrc, w.tunDst = tt, id, s, d
		return w
	}
	erspan2 := cat([]byte{0x10, 0x05, 0x03, 0xff}, make([]byte, 4)) // version 1, VLAN 5, session 0x3ff
	erspan3 := func(o bool) []byte {
		h := []byte{0x20, 0x05, 0x00, 0x21, 1, 2, 3, 4, 0, 0, 0, 0}
		if o {
			h[11] = 1
			h = append(h, make([]byte, 8)...)
		}
		return h
	}
	cases := []struct {
		name string
		cfg  Config
		data []byte
		want want
	}{
		{"vxlan", Config{}, outer4(ProtoUDP, udpDgram(50000, 4789, vxlanHdr(4242, eth(0x0800, udp4())))), tun(wantUDP4, TunnelVXLAN, 4242, o4s, o4d)},
		{"vxlan 8472", Config{}, outer4(ProtoUDP, udpDgram(50000, 8472, vxlanHdr(1, eth(0x0800, udp4())))), tun(wantUDP4, TunnelVXLAN, 1, o4s, o4d)},
		{"vxlan reply from port", Config{}, outer4(ProtoUDP, udpDgram(4789, 50000, vxlanHdr(1, eth(0x0800, udp4())))), tun(wantUDP4, TunnelVXLAN, 1, o4s, o4d)},
		{"vxlan over ipv6", Config{}, outer6(ProtoUDP, udpDgram(50000, 4789, vxlanHdr(7, eth(0x8100, vlanTag(3, 0x0800, tcp4()))))), with(tun(wantTCP4, TunnelVXLAN, 7, o6s, o6d), func(w *want) { w.vlans = []uint16{3} })},
		{"vxlan custom port", Config{VXLANPorts: []uint16{9999}}, outer4(ProtoUDP, udpDgram(1, 9999, vxlanHdr(1, eth(0x0800, udp4())))), tun(wantUDP4, TunnelVXLAN, 1, o4s, o4d)},
		{"vxlan off", Config{VXLANPorts: []uint16{0}}, outer4(ProtoUDP, udpDgram(1, 4789, vxlanHdr(1, eth(0x0800, udp4())))),
			want{ver: 4, src: o4s, dst: o4d, proto: ProtoUDP, sport: 1, dport: 4789, l4: true, payload: string(vxlanHdr(1, eth(0x0800, udp4())))}},
		{"vxlan without I flag stays udp", Config{}, outer4(ProtoUDP, udpDgram(1, 4789, cat([]byte{0, 0, 0, 0}, make([]byte, 30)))),
			want{ver: 4, src: o4s, dst: o4d, proto: ProtoUDP, sport: 1, dport: 4789, l4: true, payload: string(make([]byte, 34))}},
		{"geneve ethernet with options", Config{}, outer4(ProtoUDP, udpDgram(1, 6081, geneveHdr(0x1092, 0x6558, make([]byte, 8), eth(0x0800, udp4())))), tun(wantUDP4, TunnelGENEVE, 0x1092, o4s, o4d)},
		{"geneve ip", Config{}, outer4(ProtoUDP, udpDgram(1, 6081, geneveHdr(9, 0x86DD, nil, udp6()))), tun(wantUDP6, TunnelGENEVE, 9, o4s, o4d)},
		{"gre ipv4", Config{}, outer4(protoGRE, greHdr(0, 0x0800, 0, 0, udp4())), tun(wantUDP4, TunnelGRE, 0, o4s, o4d)},
		{"gre key checksum seq", Config{}, outer4(protoGRE, greHdr(greChecksum|greKey|greSeq, 0x0800, 77, 5, udp4())), tun(wantUDP4, TunnelGRE, 77, o4s, o4d)},
		{"gre ipv6 over ipv6", Config{}, outer6(protoGRE, greHdr(greKey, 0x86DD, 3, 0, udp6())), tun(wantUDP6, TunnelGRE, 3, o6s, o6d)},
		{"gre teb", Config{}, outer4(protoGRE, greHdr(greKey, 0x6558, 10, 0, eth(0x0800, tcp4()))), tun(wantTCP4, TunnelTEB, 10, o4s, o4d)},
		{"gre cisco metadata", Config{}, outer4(protoGRE, greHdr(greKey, 0x8909, 40, 0, cat(be16(0x0800), []byte{1, 1, 0, 1, 0, 0}, udp4()))), tun(wantUDP4, TunnelGRE, 40, o4s, o4d)},
		{"erspan I", Config{}, outer4(protoGRE, greHdr(0, 0x88BE, 0, 0, eth(0x0800, udp4()))), tun(wantUDP4, TunnelERSPAN, 0, o4s, o4d)},
		{"erspan II", Config{}, outer4(protoGRE, greHdr(greSeq, 0x88BE, 0, 1, cat(erspan2, eth(0x0800, udp4())))), tun(wantUDP4, TunnelERSPAN, 0x3ff, o4s, o4d)},
		{"erspan III", Config{}, outer4(protoGRE, greHdr(greSeq, 0x22EB, 0, 1, cat(erspan3(false), eth(0x0800, udp4())))), tun(wantUDP4, TunnelERSPAN, 0x21, o4s, o4d)},
		{"erspan III subheader", Config{}, outer4(protoGRE, greHdr(greSeq, 0x22EB, 0, 1, cat(erspan3(true), eth(0x86DD, udp6())))), tun(wantUDP6, TunnelERSPAN, 0x21, o4s, o4d)},
		{"gre unknown payload", Config{}, outer4(protoGRE, greHdr(0, 0x880B, 0, 0, payloadHello)),
			want{ver: 4, src: o4s, dst: o4d, proto: protoGRE, payload: string(greHdr(0, 0x880B, 0, 0, payloadHello))}},
		{"ipip", Config{}, outer4(protoIPIP, udp4()), tun(wantUDP4, TunnelIPIP, 0, o4s, o4d)},
		{"6in4", Config{}, outer4(protoIPv6, udp6()), tun(wantUDP6, TunnelIP6inIP, 0, o4s, o4d)},
		{"6in6", Config{}, outer6(protoIPv6, udp6()), tun(wantUDP6, TunnelIP6inIP, 0, o6s, o6d)},
		{"4in6", Config{}, outer6(protoIPIP, udp4()), tun(wantUDP4, TunnelIPIP, 0, o6s, o6d)},
		{"vxlan in gre keeps outermost", Config{}, outer4(protoGRE, greHdr(greKey, 0x0800, 99, 0,
			ip4(ProtoUDP, "172.16.0.1", "172.16.0.2", udpDgram(1, 4789, vxlanHdr(5, eth(0x0800, tcp4())))))), tun(wantTCP4, TunnelGRE, 99, o4s, o4d)},
		{"depth limit", Config{MaxTunnelDepth: 1}, outer4(protoIPIP, ip4(protoIPIP, "172.16.0.1", "172.16.0.2", udp4())),
			want{ver: 4, src: netip.MustParseAddr("172.16.0.1"), dst: netip.MustParseAddr("172.16.0.2"), proto: protoIPIP, payload: string(udp4()),
				tunnel: TunnelIPIP, tunSrc: o4s, tunDst: o4d}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.cfg)
			m := decodeOK(t, d, pkt(capture.LinkEthernet, tc.data))
			tc.want.check(t, m)
			if st := d.Stats(); tc.want.tunnel != TunnelNone && st.Tunnels[tc.want.tunnel] == 0 {
				t.Errorf("tunnel not counted: %+v", st.Tunnels)
			}
		})
	}
	t.Run("nesting bounded", func(t *testing.T) {
		inner := udp4()
		for range 20 {
			inner = ip4(protoIPIP, "172.16.0.1", "172.16.0.2", inner)
		}
		d := NewDecoder(Config{})
		m := decodeOK(t, d, pkt(capture.LinkRaw, inner))
		if m.Tunnel.Type != TunnelIPIP || m.Proto != protoIPIP || d.Stats().TunnelTooDeep != 1 || d.Stats().Tunnels[TunnelIPIP] != 4 {
			t.Fatalf("got %+v stats %+v", m, d.Stats())
		}
	})
}
