package decode

import (
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

func TestDecode_Basic(t *testing.T) {
	d := NewDecoder(Config{})
	m := decodeOK(t, d, pkt(capture.LinkEthernet, tcp4Frame()))
	if m.Src != netip.MustParseAddr("10.0.0.1") || m.Dst != netip.MustParseAddr("10.0.0.2") ||
		m.SrcPort != 40000 || m.DstPort != 80 || m.Proto != ProtoTCP || !m.L4Decoded ||
		string(m.Payload) != "hello, world" || m.Seq != 1000 || m.Ack != 2000 || m.TCPFlags != TCPAck|TCPPsh {
		t.Fatalf("got %+v", m)
	}
	if m.Timestamp != 1700000000*1e9+5 || m.WireLen != len(tcp4Frame()) || m.WinScale != -1 {
		t.Fatalf("got %+v", m)
	}
	f := eth(0x8100, vlanTag(100, 0x86DD, ip6(ProtoUDP, "2001:db8::1", "2001:db8::2", udpDgram(1, 2, payloadHello))))
	m = decodeOK(t, d, pkt(capture.LinkEthernet, f))
	if m.VLAN != 100 || m.NVLAN != 1 || m.IPVersion != 6 || m.SrcPort != 1 || m.DstPort != 2 || string(m.Payload) != "hello, world" {
		t.Fatalf("got %+v", m)
	}
	var mm Meta
	err := d.Decode(pkt(capture.LinkEthernet, eth(0x0806, make([]byte, 28))), &mm)
	if !errors.Is(err, ErrNotIP) {
		t.Fatalf("ARP: %v", err)
	}
}
