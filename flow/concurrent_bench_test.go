package flow

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
)

// many drives n concurrent TCP flows with packets made on the fly, the
// flows visited in one random order per round so that every packet lands
// on a flow (and index entry) that is cold in the caches.
type many struct {
	n    int
	perm []uint32
	m    decode.Meta
	now  int64
}

func newMany(n int) *many {
	w := &many{n: n, perm: make([]uint32, n)}
	for i := range w.perm {
		w.perm[i] = uint32(i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { w.perm[i], w.perm[j] = w.perm[j], w.perm[i] })
	w.m = decode.Meta{IPVersion: 4, Proto: decode.ProtoTCP, L4Decoded: true, Window: 512}
	w.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	return w
}

// packet sends packet i to t.
func (w *many) packet(t *Table, i int, steps []step) { t.Packet(w.next(i, steps)) }

// next makes packet i: the flow perm[i%n], step (i/n)%len(steps) of its
// life. Packet time moves 1µs per packet. The Meta is reused.
func (w *many) next(i int, steps []step) *decode.Meta {
	j := int(w.perm[i%w.n])
	s := steps[(i/w.n)%len(steps)]
	m := &w.m
	w.now += 1000
	m.Timestamp = w.now
	c := netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)})
	srv := netip.AddrFrom4([4]byte{172, 16, 0, byte(j & 15)})
	cp, sp := uint16(32768+j%28000), uint16(18000+j&15)
	d := 0
	if s.fromServer {
		d = 1
		m.Src, m.SrcPort, m.Dst, m.DstPort = srv, sp, c, cp
	} else {
		m.Src, m.SrcPort, m.Dst, m.DstPort = c, cp, srv, sp
	}
	m.TCPFlags, m.PayloadLen, m.WireLen = s.flags, s.payload, 60+s.payload
	// Sequence numbers follow from the round, so that no per-flow state
	// outside the table is touched: each side's sequence advances by what
	// the steps before this one sent.
	r := i / w.n
	m.Seq, m.Ack = seqAt(steps, r, d, j), seqAt(steps, r, 1-d, j)
	return m
}

// seqAt returns side d's next sequence number before round r of steps.
func seqAt(steps []step, r, d, j int) uint32 {
	var cycle, part uint32
	for k, s := range steps {
		if s.fromServer != (d == 1) {
			continue
		}
		adv := uint32(s.payload)
		if s.flags&(decode.TCPSyn|decode.TCPFin) != 0 {
			adv++
		}
		cycle += adv
		if k < r%len(steps) {
			part += adv
		}
	}
	return uint32(j)*7919 + uint32(d)<<30 + uint32(r/len(steps))*cycle + part
}

type step struct {
	fromServer bool
	flags      uint8
	payload    int
}

var (
	handshake = []step{{false, decode.TCPSyn, 0}, {true, decode.TCPSyn | decode.TCPAck, 0}, {false, decode.TCPAck, 0}}
	// Requests and replies on an established connection.
	established = []step{{false, decode.TCPAck | decode.TCPPsh, 10}, {true, decode.TCPAck, 0},
		{true, decode.TCPAck | decode.TCPPsh, 10}, {false, decode.TCPAck, 0}}
	// A whole connection: the next SYN on the closed 5-tuple closes the
	// flow (a record) and opens a new one in a reused slot.
	lifecycle = []step{{false, decode.TCPSyn, 0}, {true, decode.TCPSyn | decode.TCPAck, 0},
		{false, decode.TCPAck | decode.TCPPsh, 10}, {true, decode.TCPAck | decode.TCPPsh, 10},
		{false, decode.TCPAck | decode.TCPFin, 0}, {true, decode.TCPAck | decode.TCPFin, 0},
		{false, decode.TCPAck, 0}}
)

// BenchmarkConcurrent holds 1,000,000 concurrent TCP flows and sends
// packets to them in random order: "established" only updates flows,
// "lifecycle" closes and reopens each flow every 7 packets (records, slot
// reuse). One op is one packet; bytes/flow is the memory the table took
// (heap and Stats.SlabBytes).
func BenchmarkConcurrent(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name  string
		steps []step
	}{{"established", established}, {"lifecycle", lifecycle}} {
		b.Run(c.name+"/flows=1M", func(b *testing.B) {
			w := newMany(n)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			records := 0
			t := NewTable(Config{MaxFlows: n, OnRecord: func(*Record) { records++ }})
			for i := 0; i < len(handshake)*n; i++ {
				w.packet(t, i, handshake)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if st := t.Stats(); st.ActiveFlows != n {
				b.Fatalf("%d active flows, want %d", st.ActiveFlows, n)
			}
			perFlow := float64(after.HeapAlloc-before.HeapAlloc+t.Stats().SlabBytes) / n
			b.SetBytes(64)
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				w.packet(t, i, c.steps)
				i++
			}
			cpu = cpuTime() - cpu
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(perFlow, "bytes/flow")
			if st := t.Stats(); st.DroppedFlows != 0 || st.ActiveFlows != n && c.name == "established" {
				b.Fatalf("stats %+v", st)
			}
			runtime.KeepAlive(t)
		})
	}
}

// BenchmarkFile replays the first 2,000,000 packets of the capture named by
// $FLOW_BENCH_PCAP (such as the bench kit's /tmp/bench-small-5m.pcap or
// /tmp/bench-mixed-5m.pcap) from memory through decode and the table:
// "Packet" one packet at a time, "Packets" in batches of 128 as a
// pipeline's shards do. Packet time keeps advancing across loops.
// bytes/flow is the memory (heap and Stats.SlabBytes) the table holds per
// flow slot at the capture's peak of concurrent flows.
func BenchmarkFile(b *testing.B) {
	path := os.Getenv("FLOW_BENCH_PCAP")
	if path == "" {
		b.Skip("FLOW_BENCH_PCAP not set")
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var frames []frame
	var p capture.Packet
	var size int
	for len(frames) < 2_000_000 && src.ReadPacket(&p) == nil {
		frames = append(frames, frame{append([]byte(nil), p.Data...), p.Timestamp, p.Length, p.LinkType})
		size += len(p.Data)
	}
	src.Close()
	if len(frames) == 0 {
		b.Skip("no frames")
	}
	span := frames[len(frames)-1].ts.Sub(frames[0].ts) + time.Hour
	for _, batch := range []int{1, 128} {
		name := "Packet"
		if batch > 1 {
			name = "Packets"
		}
		b.Run(name, func(b *testing.B) {
			dec := decode.NewDecoder(decode.Config{})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			tab := NewTable(Config{OnRecord: func(*Record) {}})
			ms := make([]decode.Meta, batch)
			n := 0
			flush := func() {
				if batch == 1 {
					tab.Packet(&ms[0])
				} else {
					tab.Packets(ms[:n])
				}
				n = 0
			}
			one := func(f *frame, loop time.Duration) {
				p.Data, p.Length, p.LinkType, p.Timestamp = f.data, f.n, f.lt, f.ts.Add(loop)
				if dec.Decode(&p, &ms[n]) == nil {
					if n++; n == batch {
						flush()
					}
				}
			}
			// One untimed pass grows the slab and the index to the
			// capture's peak, so that the timed loop runs in steady state.
			for i := range frames {
				one(&frames[i], 0)
			}
			if n > 0 {
				flush()
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perFlow := float64(after.HeapAlloc-before.HeapAlloc+tab.Stats().SlabBytes) / float64(max(tab.nslots, 1))
			b.SetBytes(int64(size / len(frames)))
			b.ReportAllocs()
			i, loop := 0, span
			cpu := cpuTime()
			for b.Loop() {
				one(&frames[i], loop)
				if i++; i == len(frames) {
					i, loop = 0, loop+span
				}
			}
			cpu = cpuTime() - cpu
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(tab.Stats().ActiveFlows), "flows")
			b.ReportMetric(perFlow, "bytes/flow")
		})
	}
}
