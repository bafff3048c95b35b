package decode

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// benchCase is a list of frames replayed from memory, one frame per
// benchmark iteration.
type benchCase struct {
	name   string
	link   capture.LinkType
	frames [][]byte
	corpus string // corpus file to load instead of frames
}

func benchCases() []benchCase {
	return []benchCase{
		{name: "tcp4", link: capture.LinkEthernet, frames: [][]byte{eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2",
			tcpSeg(40000, 80, 1, 2, TCPAck, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, nil)))}},
		{name: "udp4", link: capture.LinkEthernet, frames: [][]byte{udp4Frame()}},
		{name: "tcp6-vlan", link: capture.LinkEthernet, frames: [][]byte{eth(0x8100, vlanTag(3, 0x86DD,
			ip6(ProtoTCP, "2001:db8::1", "2001:db8::2", tcpSeg(40000, 443, 1, 2, TCPAck, nil, payloadHello))))}},
		{name: "vxlan", link: capture.LinkEthernet, frames: [][]byte{eth(0x0800, ip4(ProtoUDP, "192.168.0.1", "192.168.0.2",
			udpDgram(1, 4789, vxlanHdr(5, tcp4Frame()))))}},
		{name: "ipv4-fragments", link: capture.LinkEthernet, frames: frags4(ProtoUDP, 42, udpDgram(5353, 53, bigPayload(3000)), 1480)},
		{name: "pcap-tcp", corpus: "mixed/zeek_206_example_b.pcap"},
		{name: "pcap-vxlan", corpus: "mixed/ndpi_vxlan.pcap"},
		{name: "pcap-dns-fragmented", corpus: "dns/ndpi_dns_fragmented.pcap"},
	}
}

// load fills in the frames of a corpus case, or skips.
func (c *benchCase) load(b *testing.B) {
	if c.corpus == "" {
		return
	}
	path := filepath.Join(testutil.SharedPcaps(b, ""), c.corpus)
	src, err := capture.OpenFile(path)
	if err != nil {
		b.Skipf("open %s: %v", path, err)
	}
	defer src.Close()
	var p capture.Packet
	for {
		if err := src.ReadPacket(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		c.link = p.LinkType
		c.frames = append(c.frames, append([]byte(nil), p.Data...))
	}
}

func (c *benchCase) bytes() int {
	n := 0
	for _, f := range c.frames {
		n += len(f)
	}
	return n / len(c.frames)
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			c.load(b)
			d := NewDecoder(Config{})
			p := &capture.Packet{LinkType: c.link}
			var m Meta
			b.ReportAllocs()
			b.SetBytes(int64(c.bytes()))
			i := 0
			for b.Loop() {
				f := c.frames[i]
				if i++; i == len(c.frames) {
					i = 0
				}
				p.Data, p.Length = f, len(f)
				d.Decode(p, &m)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkGopacketDLP decodes the same frames with gopacket's
// DecodingLayerParser (Ethernet, Dot1Q, IPv4, IPv6, TCP, UDP), for
// comparison. It does less than Decode: no tunnels, no reassembly, no
// TCP option interpretation, no flat result.
func BenchmarkGopacketDLP(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			c.load(b)
			if c.link != capture.LinkEthernet {
				b.Skip("DecodingLayerParser case set up for Ethernet only")
			}
			var (
				eth     layers.Ethernet
				dot1q   layers.Dot1Q
				ip4     layers.IPv4
				ip6     layers.IPv6
				tcp     layers.TCP
				udp     layers.UDP
				payload gopacket.Payload
			)
			parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &payload)
			parser.IgnoreUnsupported = true
			decoded := make([]gopacket.LayerType, 0, 8)
			b.ReportAllocs()
			b.SetBytes(int64(c.bytes()))
			i := 0
			for b.Loop() {
				f := c.frames[i]
				if i++; i == len(c.frames) {
					i = 0
				}
				_ = parser.DecodeLayers(f, &decoded)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
