package flow

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// concurrentFlows creates n concurrent flows of IP protocol proto (SYN from n distinct
// clients) and returns the bytes they take per flow: the heap's and the
// slabs' outside it (Stats.SlabBytes).
func concurrentFlows(tb testing.TB, n int, proto uint8) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab := NewTable(Config{MaxFlows: n})
	m := decode.Meta{IPVersion: 4, Proto: proto, L4Decoded: true,
		DstPort: 443, Dst: netip.MustParseAddr("192.0.2.1"), WireLen: 74, Timestamp: 1}
	for i := 0; i < n; i++ {
		m.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		m.SrcPort = uint16(1024 + i%60000)
		if proto == decode.ProtoTCP {
			m.TCPFlags = decode.TCPSyn
		}
		tab.Packet(&m)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if st := tab.Stats(); st.ActiveFlows != uint64(n) {
		tb.Fatalf("active flows %d, want %d", st.ActiveFlows, n)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc+tab.Stats().SlabBytes) / float64(n)
	runtime.KeepAlive(tab)
	return per
}

// TestTable_MemoryPerFlow holds 1,000,000 concurrent flows and checks the
// heap they take, slabs and index included, against the 256-byte budget
// for TCP flows and 168 for UDP ones (they have no TCP state).
func TestTable_MemoryPerFlow(t *testing.T) {
	testutil.SkipShort(t)
	for _, c := range []struct {
		name   string
		proto  uint8
		budget float64
	}{{"TCP", decode.ProtoTCP, 256}, {"UDP", decode.ProtoUDP, 168}} {
		per := concurrentFlows(t, 1_000_000, c.proto)
		t.Logf("%s: %.1f bytes per flow (1,000,000 concurrent flows, slabs + index)", c.name, per)
		if per > c.budget {
			t.Errorf("%s: %.1f bytes per flow, budget %.0f", c.name, per, c.budget)
		}
	}
}

func BenchmarkMemoryPerFlow(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(concurrentFlows(b, 1_000_000, decode.ProtoTCP), "bytes/flow")
	}
}

type frame struct {
	data []byte
	ts   time.Time
	n    int
	lt   capture.LinkType
}

func loadFrames(tb testing.TB, path string) []frame {
	tb.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	var out []frame
	var p capture.Packet
	for {
		err := src.ReadPacket(&p)
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		out = append(out, frame{append([]byte(nil), p.Data...), p.Timestamp, p.Length, p.LinkType})
	}
	return out
}

// BenchmarkTable measures decode + flow table on captures replayed from
// memory; one op is one packet. Timestamps keep advancing across loops so
// that flows time out and are recreated as in a long capture.
func BenchmarkTable(b *testing.B) {
	cases := []struct{ name, sub, file string }{
		{"http1", "http1", "deepflow_http.pcap"},
		{"dns", "dns", "zeek_dns-edns-ecs.pcap"},
		{"large-http", "http1", "zeek_http-post-large.pcap"},
		{"mixed", "mixed", "zeek_206_example_b.pcap"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(testutil.SharedPcaps(b, c.sub), c.file)
			if _, err := os.Stat(path); err != nil {
				b.Skipf("%s absent", path)
			}
			frames := loadFrames(b, path)
			if len(frames) == 0 {
				b.Skip("no frames")
			}
			var bytes int
			for _, f := range frames {
				bytes += len(f.data)
			}
			span := frames[len(frames)-1].ts.Sub(frames[0].ts) + time.Second
			b.SetBytes(int64(bytes / len(frames)))
			dec := decode.NewDecoder(decode.Config{})
			tab := NewTable(Config{OnRecord: func(*Record) {}})
			var p capture.Packet
			var m decode.Meta
			i, loop := 0, time.Duration(0)
			b.ReportAllocs()
			for b.Loop() {
				f := &frames[i]
				p.Data, p.Length, p.LinkType, p.Timestamp = f.data, f.n, f.lt, f.ts.Add(loop)
				if dec.Decode(&p, &m) == nil {
					tab.Packet(&m)
				}
				if i++; i == len(frames) {
					i, loop = 0, loop+span
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
		})
	}
	// Table only, small TCP packets of many flows, Meta prepared.
	b.Run("table-only", func(b *testing.B) {
		const nflows = 10000
		metas := make([]decode.Meta, nflows)
		for i := range metas {
			metas[i] = decode.Meta{IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true, TCPFlags: decode.TCPAck,
				Src: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("10.2.0.1"),
				SrcPort: uint16(30000 + i), DstPort: 80, WireLen: 64, PayloadLen: 10, Window: 100}
		}
		tab := NewTable(Config{OnRecord: func(*Record) {}})
		b.SetBytes(64)
		b.ReportAllocs()
		i, now := 0, int64(1)
		for b.Loop() {
			m := &metas[i]
			now += 100
			m.Timestamp = now
			m.Seq += 10
			tab.Packet(m)
			if i++; i == nflows {
				i = 0
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	})
}
