package l7test_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// A scripted conversation becomes a pcap file with a handshake, sequence
// and acknowledgement numbers that follow the bytes, a lost segment and a
// FIN exchange.
func ExampleConversation() {
	c := l7test.NewConversation(
		netip.MustParseAddrPort("192.0.2.1:40000"),
		netip.MustParseAddrPort("192.0.2.2:7000"),
		l7.TCP,
	).
		Request([]byte("GET alpha\n")).
		Segment(4).Response([]byte("+value\n")).
		Gap(l7.ToServer, 8). // "GET beta" is lost
		Request([]byte("\nQUIT\n"))

	var pcap bytes.Buffer
	if err := c.WritePcap(&pcap); err != nil {
		panic(err)
	}
	src, err := capture.NewFileSource(&pcap)
	if err != nil {
		panic(err)
	}
	dec := decode.NewDecoder(decode.Config{})
	var p capture.Packet
	var m decode.Meta
	for src.ReadPacket(&p) == nil {
		if dec.Decode(&p, &m) == nil {
			fmt.Printf("%5d > %-5d flags %#02x seq %d ack %d %q\n", m.SrcPort, m.DstPort, m.TCPFlags, m.Seq, m.Ack, m.Payload)
		}
	}
	// Output:
	// 40000 > 7000  flags 0x02 seq 999999 ack 0 ""
	//  7000 > 40000 flags 0x12 seq 4999999 ack 1000000 ""
	// 40000 > 7000  flags 0x10 seq 1000000 ack 5000000 ""
	// 40000 > 7000  flags 0x18 seq 1000000 ack 5000000 "GET alpha\n"
	//  7000 > 40000 flags 0x18 seq 5000000 ack 1000010 "+val"
	//  7000 > 40000 flags 0x18 seq 5000004 ack 1000010 "ue\n"
	// 40000 > 7000  flags 0x18 seq 1000018 ack 5000007 "\nQUI"
	// 40000 > 7000  flags 0x18 seq 1000022 ack 5000007 "T\n"
	// 40000 > 7000  flags 0x11 seq 1000024 ack 5000007 ""
	//  7000 > 40000 flags 0x11 seq 5000007 ack 1000025 ""
	// 40000 > 7000  flags 0x10 seq 1000025 ack 5000008 ""
}
