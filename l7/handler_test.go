package l7_test

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// TestEngine_HandlerAllocs drives the engine through a flow.Table with
// decoded packets of one keep-alive connection and checks that a request
// and its response cost no allocation in steady state, and that the l4
// record gets the l7 counters.
func TestEngine_HandlerAllocs(t *testing.T) {
	reg := mustRegistry(t)
	var n int
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(*l7.Record) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	var l4 []flow.Record
	tab := flow.NewTable(flow.Config{Handler: eng, OnRecord: func(r *flow.Record) { l4 = append(l4, *r) }})
	c, s := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	m := decode.Meta{IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true, TTL: 64, WinScale: -1}
	ts := int64(1_700_000_000e9)
	cseq, sseq := uint32(1000), uint32(5000)
	send := func(fromClient bool, flags uint8, payload []byte) {
		ts += 10_000
		m.Timestamp = ts
		m.TCPFlags = flags
		m.Payload = payload
		m.PayloadLen = len(payload)
		m.WireLen = 54 + len(payload)
		m.IPLen = 40 + len(payload)
		m.Window = 1000
		if fromClient {
			m.Src, m.Dst, m.SrcPort, m.DstPort = c, s, 40000, 7000
			m.Seq, m.Ack = cseq, sseq
			cseq += uint32(len(payload))
		} else {
			m.Src, m.Dst, m.SrcPort, m.DstPort = s, c, 7000, 40000
			m.Seq, m.Ack = sseq, cseq
			sseq += uint32(len(payload))
		}
		if flags&decode.TCPSyn != 0 {
			if fromClient {
				cseq++
			} else {
				sseq++
			}
		}
		tab.Packet(&m)
	}
	send(true, decode.TCPSyn, nil)
	send(false, decode.TCPSyn|decode.TCPAck, nil)
	send(true, decode.TCPAck, nil)
	req, resp := []byte("GET /x\n"), []byte("+ok\n")
	step := func() {
		send(true, decode.TCPAck|decode.TCPPsh, req)
		send(false, decode.TCPAck|decode.TCPPsh, resp)
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocs per request/response through flow.Table, want 0", a)
	}
	tab.Flush()
	if len(l4) != 1 {
		t.Fatalf("%d l4 records, want 1", len(l4))
	}
	r := l4[0]
	want := uint32(100 + 1001)
	if r.L7Protocol != "LINE" || r.L7Request != want || r.L7Response != want || n != int(want) {
		t.Errorf("l4 record l7 %q req %d resp %d, l7 records %d; want LINE %d %d %d", r.L7Protocol, r.L7Request, r.L7Response, n, want, want, want)
	}
}
