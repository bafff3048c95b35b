package flow_test

import (
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
)

// A table fed with decoded packets (here built by hand) emits one
// l4_flow_log record per flow.
func ExampleTable() {
	tab := flow.NewTable(flow.Config{OnRecord: func(r *flow.Record) {
		fmt.Printf("%s\n", r.AppendText(nil))
	}})
	cli, srv := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.80")
	pkt := func(ts int64, fromClient bool, flags uint8, seq, ack uint32) {
		m := decode.Meta{Timestamp: ts, IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true,
			Src: cli, Dst: srv, SrcPort: 40000, DstPort: 80, TCPFlags: flags, Seq: seq, Ack: ack,
			Window: 1000, WireLen: 60}
		if !fromClient {
			m.Src, m.Dst, m.SrcPort, m.DstPort = srv, cli, 80, 40000
		}
		tab.Packet(&m)
	}
	pkt(1_000_000, true, decode.TCPSyn, 1, 0)
	pkt(1_200_000, false, decode.TCPSyn|decode.TCPAck, 9, 2)
	pkt(1_500_000, true, decode.TCPAck, 2, 10)
	pkt(2_000_000, true, decode.TCPFin|decode.TCPAck, 2, 10)
	pkt(2_100_000, false, decode.TCPFin|decode.TCPAck, 10, 3)
	pkt(2_200_000, true, decode.TCPAck, 3, 11)
	tab.Flush()
	// Output:
	// flow 1 TCP 192.0.2.10:40000 -> 192.0.2.80:80 Finish 1.2ms tx 4/240B rx 2/120B rtt 500us
}
