package builtin_test

import (
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// FuzzPipeline feeds Ethernet frames through decode, the flow table and
// the engine with every built-in decoder. The input is a sequence of
// frames, each preceded by a 2-byte big-endian length; seeds are the frames
// of recorded captures, so mutations start from real conversations.
// Contract: no panic, and the table accounts for every packet.
func FuzzPipeline(f *testing.F) {
	for _, name := range []string{"l7/http-nginx.pcap", "l7/redis.pcap", "l7/dns.pcap", "l7/mysql.pcap"} {
		src, err := capture.OpenFile(testutil.Testdata(f, name))
		if err != nil {
			f.Fatal(err)
		}
		var seed []byte
		var p capture.Packet
		for i := 0; i < 40 && src.ReadPacket(&p) == nil; i++ {
			seed = append(seed, byte(len(p.Data)>>8), byte(len(p.Data)))
			seed = append(seed, p.Data...)
		}
		src.Close()
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		reg, err := builtin.Registry()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := l7.NewEngine(l7.Config{Registry: reg, InferCacheSize: 256, OnRecord: func(*l7.Record) {}})
		if err != nil {
			t.Fatal(err)
		}
		tab := flow.NewTable(flow.Config{Handler: eng, MaxFlows: 64, OnRecord: func(*flow.Record) {}})
		dec := decode.NewDecoder(decode.Config{})
		var m decode.Meta
		ts := time.Unix(1_700_000_000, 0)
		fed := uint64(0)
		for len(in) >= 2 {
			n := int(in[0])<<8 | int(in[1])
			in = in[2:]
			n = min(n, len(in))
			p := capture.Packet{Timestamp: ts, Data: in[:n], Length: n, LinkType: capture.LinkEthernet}
			in = in[n:]
			ts = ts.Add(time.Millisecond)
			if dec.Decode(&p, &m) == nil {
				tab.Packet(&m)
				fed++
			}
		}
		tab.Flush()
		st := tab.Stats()
		if st.Packets != fed || st.Counted+st.NotL4+st.DroppedFlows+st.FragUnmatched != fed {
			t.Fatalf("table stats %+v do not account for %d packets", st, fed)
		}
		if es := eng.Stats(); es.PendingSessions != 0 || es.OpenConns != 0 {
			t.Fatalf("engine holds %d sessions, %d conns after Flush", es.PendingSessions, es.OpenConns)
		}
	})
}
