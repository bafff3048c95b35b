package decode

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// peekAgrees checks the PeekAddrs contract on one frame: when it reads
// addresses, a Decoder without reassembly either fails on the frame or
// gives the same addresses and protocol, with no tunnel and no fragment.
// It returns whether PeekAddrs read the frame.
func peekAgrees(t *testing.T, peeker, dec *Decoder, p *capture.Packet) bool {
	t.Helper()
	var src, dst [16]byte
	proto, ok := peeker.PeekAddrs(p, &src, &dst)
	if !ok {
		return false
	}
	var m Meta
	if dec.Decode(p, &m) != nil {
		return true
	}
	if m.Src.As16() != src || m.Dst.As16() != dst || m.Proto != proto {
		t.Fatalf("PeekAddrs %v %v %d, Decode %v %v %d", src, dst, proto, m.Src, m.Dst, m.Proto)
	}
	if m.Tunnel.Type != TunnelNone || m.IsFragment {
		t.Fatalf("PeekAddrs read a frame Decode finds tunnelled (%v) or fragmented (%v)", m.Tunnel.Type, m.IsFragment)
	}
	return true
}

func TestDecoder_PeekAddrs(t *testing.T) {
	vx := eth(0x0800, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(1, 4789, vxlanHdr(7, tcp4Frame()))))
	cases := []struct {
		name  string
		link  capture.LinkType
		frame []byte
		cfg   Config
		want  bool
	}{
		{"tcp4", capture.LinkEthernet, tcp4Frame(), Config{}, true},
		{"udp4", capture.LinkEthernet, udp4Frame(), Config{}, true},
		{"raw tcp4", capture.LinkRaw, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil)), Config{}, true},
		{"vlan udp6", capture.LinkEthernet, eth(0x8100, vlanTag(5, 0x86DD, ip6(ProtoUDP, "fe80::1", "fe80::2", udpDgram(1, 2, nil)))), Config{}, true},
		{"icmp", capture.LinkIPv4, ip4(ProtoICMP, "10.0.0.1", "10.0.0.2", icmpMsg(8, 0, 1, 1, nil)), Config{}, true},
		{"vxlan", capture.LinkEthernet, vx, Config{}, false},
		{"vxlan off", capture.LinkEthernet, vx, Config{VXLANPorts: []uint16{0}}, true},
		{"vxlan source port", capture.LinkEthernet, eth(0x0800, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(8472, 9, vxlanHdr(7, tcp4Frame())))), Config{}, false},
		{"own geneve port", capture.LinkEthernet, eth(0x0800, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(1, 9999, nil))), Config{GENEVEPorts: []uint16{9999}}, false},
		{"gre", capture.LinkEthernet, eth(0x0800, ip4(protoGRE, "1.1.1.1", "2.2.2.2", greHdr(0, 0x0800, 0, 0, ip4(ProtoTCP, "3.3.3.3", "4.4.4.4", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil))))), Config{}, false},
		{"ipip", capture.LinkEthernet, eth(0x0800, ip4(protoIPIP, "1.1.1.1", "2.2.2.2", ip4(ProtoTCP, "3.3.3.3", "4.4.4.4", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil)))), Config{}, false},
		{"fragment", capture.LinkEthernet, eth(0x0800, frags4(ProtoUDP, 1, udpDgram(1, 2, bigPayload(3000)), 1480)[0]), Config{}, false},
		{"ipv4 options", capture.LinkEthernet, eth(0x0800, ipv4Hdr(ProtoTCP, "1.1.1.1", "2.2.2.2", ip4opt{options: []byte{1, 1, 1, 0}}, tcpSeg(1, 2, 3, 4, TCPAck, nil, nil))), Config{}, false},
		{"ipv6 extension", capture.LinkEthernet, eth(0x86DD, ip6(protoDstOpts, "fe80::1", "fe80::2", ext6(ProtoTCP, tcpSeg(1, 2, 3, 4, TCPAck, nil, nil)))), Config{}, false},
		{"mpls", capture.LinkEthernet, eth(0x8847, cat([]byte{0, 0, 0x11, 64}, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(1, 2, nil)))), Config{}, false},
		{"sll", capture.LinkLinuxSLL, cat(make([]byte, 14), be16(0x0800), ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil))), Config{}, true},
		{"sll2 vlan", capture.LinkLinuxSLL2, cat(be16(0x8100), make([]byte, 18), vlanTag(3, 0x86DD, ip6(ProtoTCP, "fe80::1", "fe80::2", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil)))), Config{}, true},
		{"sll netlink", capture.LinkLinuxSLL, cat(be16(0), be16(824), make([]byte, 10), be16(0x0800), ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil))), Config{}, false},
		{"sll zeros", capture.LinkLinuxSLL, make([]byte, 64), Config{}, false},
		{"null", capture.LinkNull, cat(le32(2), ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil))), Config{}, false},
		{"arp", capture.LinkEthernet, eth(0x0806, make([]byte, 28)), Config{}, false},
		{"short", capture.LinkEthernet, tcp4Frame()[:20], Config{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := peekAgrees(t, NewDecoder(tc.cfg), NewDecoder(Config{NoReassembly: true, VXLANPorts: tc.cfg.VXLANPorts, GENEVEPorts: tc.cfg.GENEVEPorts}), pkt(tc.link, tc.frame))
			if got != tc.want {
				t.Fatalf("PeekAddrs ok = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDecoder_PeekAddrsCorpus checks PeekAddrs against Decode on every
// frame of the shared captures (tunnels, VLANs, fragments, IPv6 among
// them).
func TestDecoder_PeekAddrsCorpus(t *testing.T) {
	root := testutil.SharedPcaps(t, "")
	var frames, peeked int
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			return err
		}
		src, err := capture.OpenFile(path)
		if err != nil {
			return nil // not every file opens; the capture package tests that
		}
		defer src.Close()
		peeker, dec := NewDecoder(Config{}), NewDecoder(Config{NoReassembly: true})
		var p capture.Packet
		for src.ReadPacket(&p) == nil {
			frames++
			if peekAgrees(t, peeker, dec, &p) {
				peeked++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if peeked == 0 || peeked == frames {
		t.Fatalf("PeekAddrs read %d of %d frames: the corpus should have both kinds", peeked, frames)
	}
	t.Logf("PeekAddrs read %d of %d frames", peeked, frames)
}

// FuzzDecoder_PeekAddrs checks that PeekAddrs never panics and agrees
// with Decode on any frame it reads.
func FuzzDecoder_PeekAddrs(f *testing.F) {
	for _, tc := range allocCases() {
		for _, fr := range tc.frames {
			f.Add(uint8(0), fr)
		}
	}
	f.Add(uint8(0), tcp4Frame())
	f.Add(uint8(1), ip4(ProtoTCP, "10.0.0.1", "10.0.0.2", tcpSeg(1, 2, 3, 4, TCPAck, nil, nil)))
	f.Add(uint8(0), eth(0x8100, vlanTag(5, 0x86DD, ip6(ProtoUDP, "fe80::1", "fe80::2", udpDgram(1, 2, nil)))))
	f.Add(uint8(0), eth(0x0800, ip4(ProtoUDP, "1.1.1.1", "2.2.2.2", udpDgram(1, 4789, vxlanHdr(7, tcp4Frame())))))
	f.Fuzz(func(t *testing.T, link uint8, data []byte) {
		p := pkt(fuzzLinks[int(link)%len(fuzzLinks)], data)
		peekAgrees(t, NewDecoder(Config{}), NewDecoder(Config{NoReassembly: true}), p)
	})
}
