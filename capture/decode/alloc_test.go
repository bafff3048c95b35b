package decode

import (
	"errors"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
)

// allocCases are the hot paths that must not allocate once warm.
func allocCases() []struct {
	name   string
	frames [][]byte
} {
	return []struct {
		name   string
		frames [][]byte
	}{
		{"tcp", [][]byte{eth(0x0800, ip4(ProtoTCP, "10.0.0.1", "10.0.0.2",
			tcpSeg(1, 2, 3, 4, TCPAck, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, payloadHello)))}},
		{"udp", [][]byte{udp4Frame()}},
		{"ipv6 vlan ext", [][]byte{eth(0x8100, vlanTag(3, 0x86DD, ip6(protoHopByHop, "2001:db8::1", "2001:db8::2",
			ext6(ProtoUDP, udpDgram(1, 2, payloadHello)))))}},
		{"vxlan", [][]byte{eth(0x0800, ip4(ProtoUDP, "192.168.0.1", "192.168.0.2", udpDgram(1, 4789, vxlanHdr(5, tcp4Frame()))))}},
		{"gre erspan", [][]byte{eth(0x0800, ip4(protoGRE, "192.168.0.1", "192.168.0.2",
			greHdr(greSeq, 0x88BE, 0, 1, cat([]byte{0x10, 0x05, 0x03, 0xff, 0, 0, 0, 0}, tcp4Frame()))))}},
		{"ipv4 fragments", frags4(ProtoUDP, 42, udpDgram(5353, 53, bigPayload(3000)), 1480)},
		{"ipv6 fragments", frags6(ProtoUDP, 42, udpDgram(5353, 53, bigPayload(3000)), 1232)},
		{"not ip", [][]byte{eth(0x0806, make([]byte, 28))}},
	}
}

func TestDecode_Allocs(t *testing.T) {
	for _, tc := range allocCases() {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(Config{})
			p := pkt(capture.LinkEthernet, nil)
			var m Meta
			run := func() {
				for _, f := range tc.frames {
					p.Data, p.Length = f, len(f)
					if err := d.Decode(p, &m); err != nil && !errors.Is(err, ErrNotIP) {
						t.Fatal(err)
					}
				}
			}
			run() // warm the reassembly buffers
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Fatalf("%v allocations per run", n)
			}
		})
	}
}
