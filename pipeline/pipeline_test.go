package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

func openT(t testing.TB, name string) capture.Source {
	t.Helper()
	src, err := capture.OpenFile(testutil.Testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// tagger is a stage that tags both sides and drops DNS records.
type tagger struct{ l4, l7 atomic.Int64 }

func (g *tagger) ProcessL4(r *flow.Record) bool {
	g.l4.Add(1)
	r.Tags.Set(tag.Server, "service", "web")
	return true
}

func (g *tagger) ProcessL7(r *l7.Record) bool {
	g.l7.Add(1)
	r.Tags.Set(tag.Client, "pod", "curl-1")
	return r.L7Protocol != "DNS"
}

func TestRun_StagesAndJSON(t *testing.T) {
	var out bytes.Buffer
	g := &tagger{}
	p, err := pipeline.New(pipeline.Config{
		Source: openT(t, "l7/http-nginx.pcap"),
		Shards: 2,
		Stages: []pipeline.Stage{g},
		Sinks:  []pipeline.SinkConfig{{Sink: pipeline.NewJSONSink(&out)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if n := strings.Count(got, `"service_1":"web"`); n != 6 {
		t.Errorf("%d l4 records tagged service_1, want 6:\n%s", n, got)
	}
	if n := strings.Count(got, `"pod_0":"curl-1"`); n != 15 {
		t.Errorf("%d l7 records tagged pod_0, want 15", n)
	}
	var st pipeline.Stats
	p.Stats(&st)
	if g.l4.Load() != 6 || g.l7.Load() != 15 || st.Sinks[0].Records != 21 || st.StageDropped != 0 {
		t.Errorf("stage saw %d/%d, sink %d, dropped %d", g.l4.Load(), g.l7.Load(), st.Sinks[0].Records, st.StageDropped)
	}
}

func TestRun_StageDrops(t *testing.T) {
	p, err := pipeline.New(pipeline.Config{
		Source: openT(t, "l7/dns.pcap"),
		Stages: []pipeline.Stage{&tagger{}},
		Sinks:  []pipeline.SinkConfig{{Sink: &collect{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var st pipeline.Stats
	p.Stats(&st)
	if st.StageDropped == 0 || st.StageDropped != st.L7.Records {
		t.Errorf("stage dropped %d of %d DNS records", st.StageDropped, st.L7.Records)
	}
}

// slow is a sink that takes its time and may fail.
type slow struct {
	delay time.Duration
	fail  error
	n     atomic.Int64
}

func (s *slow) WriteL4(*flow.Record) error { return s.write() }
func (s *slow) WriteL7(*l7.Record) error   { return s.write() }
func (s *slow) write() error {
	time.Sleep(s.delay)
	if s.n.Add(1) > 3 && s.fail != nil {
		return s.fail
	}
	return nil
}

// TestRun_QueuedDrop: a slow queued sink that may drop loses records,
// counted, and does not slow the others.
func TestRun_QueuedDrop(t *testing.T) {
	s := &slow{delay: 5 * time.Millisecond}
	all := &collect{}
	p, err := pipeline.New(pipeline.Config{
		Source: openT(t, "l7/redis-bench.pcap"),
		Shards: 2,
		Sinks: []pipeline.SinkConfig{
			{Sink: s, Queue: 4, DropWhenFull: true},
			{Sink: all},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var st pipeline.Stats
	p.Stats(&st)
	total := uint64(len(all.l4) + len(all.l7))
	if st.Sinks[0].Dropped == 0 || st.Sinks[0].Records+st.Sinks[0].Dropped != total || st.Sinks[1].Records != total {
		t.Errorf("sink stats %+v, want the slow one's records + drops = %d = the other's", st.Sinks, total)
	}
}

// TestRun_SinkError: the first error of a sink stops Run, which returns it.
func TestRun_SinkError(t *testing.T) {
	boom := errors.New("disk full")
	p, err := pipeline.New(pipeline.Config{
		Source: openT(t, "l7/redis-bench.pcap"),
		Sinks:  []pipeline.SinkConfig{{Sink: &slow{fail: boom}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

// TestStats_Concurrent reads Stats from other goroutines while Run goes on
// (run with -race), and checks that reading does not allocate.
func TestStats_Concurrent(t *testing.T) {
	p, err := pipeline.New(pipeline.Config{
		Source: openT(t, "l7/redis-bench.pcap"),
		Shards: 3,
		Sinks:  []pipeline.SinkConfig{{Sink: &collect{}, Queue: 64}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st pipeline.Stats
			for {
				select {
				case <-stop:
					return
				default:
					p.Stats(&st)
				}
			}
		}()
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	var st pipeline.Stats
	p.Stats(&st)
	if n := testing.AllocsPerRun(20, func() { p.Stats(&st) }); n != 0 {
		t.Errorf("Stats allocates %v times per call", n)
	}
	var sum uint64
	for _, n := range st.ShardPackets {
		sum += n
	}
	if len(st.ShardPackets) != 3 || sum != st.Flow.Packets || sum != st.Capture.Packets-st.Decode.Packets+st.Decode.Decoded {
		t.Errorf("shard packets %v (sum %d), table %d, capture %d, decoded %d", st.ShardPackets, sum, st.Flow.Packets, st.Capture.Packets, st.Decode.Decoded)
	}
}

func TestNew_Errors(t *testing.T) {
	if _, err := pipeline.New(pipeline.Config{}); !errors.Is(err, pipeline.ErrNoSource) {
		t.Errorf("New without source = %v", err)
	}
	p, err := pipeline.New(pipeline.Config{Source: openT(t, "l7/dns.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, pipeline.ErrRunTwice) {
		t.Errorf("second Run = %v, want ErrRunTwice", err)
	}
	if _, err := pipeline.New(pipeline.Config{Source: openT(t, "l7/dns.pcap"), Sinks: []pipeline.SinkConfig{{}}}); !errors.Is(err, pipeline.ErrNilSink) {
		t.Errorf("New with a nil sink = %v, want ErrNilSink", err)
	}
}

func TestNew_SourcesErrors(t *testing.T) {
	file := func() capture.Source { return openT(t, "l7/dns.pcap") }
	live := newQueueSource()
	for _, tc := range []struct {
		name string
		cfg  pipeline.Config
	}{
		{"with Source", pipeline.Config{Source: file(), Sources: []capture.Source{file()}}},
		{"nil source", pipeline.Config{Sources: []capture.Source{file(), nil}}},
		{"Shards differs", pipeline.Config{Sources: []capture.Source{file(), file()}, Shards: 3}},
		{"too many", pipeline.Config{Sources: make([]capture.Source, pipeline.MaxShards+1)}},
		{"live without deadline", pipeline.Config{Sources: []capture.Source{live, noDeadline{live}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pipeline.New(tc.cfg); !errors.Is(err, pipeline.ErrSources) {
				t.Errorf("New = %v, want ErrSources", err)
			}
		})
	}
	p, err := pipeline.New(pipeline.Config{Sources: []capture.Source{file(), file()}, Shards: 2})
	if err != nil {
		t.Fatalf("New with Shards = len(Sources): %v", err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestHash_Symmetric: both directions of a conversation, and fragments
// (no ports), hash alike; different host pairs spread over shards.
func TestHash_Symmetric(t *testing.T) {
	src := openT(t, "l7/http-vlan.pcap")
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	var pkt capture.Packet
	var m decode.Meta
	n := 0
	for src.ReadPacket(&pkt) == nil {
		if dec.Decode(&pkt, &m) != nil {
			continue
		}
		h := pipeline.Hash(&m)
		r := m
		r.Src, r.Dst, r.SrcPort, r.DstPort = m.Dst, m.Src, m.DstPort, m.SrcPort
		r.VLAN, r.Tunnel.ID = r.VLAN+1, r.Tunnel.ID+7
		f := m
		f.SrcPort, f.DstPort, f.L4Decoded, f.IsFragment = 0, 0, false, true
		if pipeline.Hash(&r) != h || pipeline.Hash(&f) != h {
			t.Fatalf("packet %d: hash differs by direction, VLAN, tunnel id or ports", n)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no packets")
	}
	var counts [4]int
	var x decode.Meta
	x.Proto = decode.ProtoTCP
	for i := range 4000 {
		x.Src = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		x.Dst = netip.AddrFrom4([4]byte{10, 1, 0, 1})
		counts[pipeline.Hash(&x)%4]++
	}
	for i, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("shard %d gets %d of 4000 clients: %v", i, c, counts)
		}
	}
	if a := testing.AllocsPerRun(100, func() { pipeline.Hash(&x) }); a != 0 {
		t.Errorf("Hash allocates %v", a)
	}
}

func TestWriterSink_NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool does not keep items under the race detector")
	}
	for _, s := range []*pipeline.WriterSink{pipeline.NewJSONSink(io.Discard), pipeline.NewTextSink(io.Discard)} {
		var r4 flow.Record
		r4.Tags.Add(tag.Client, "pod", "a")
		r7 := l7.Record{RequestResource: []byte("/index.html?q=\"x\""), L7Protocol: "HTTP"}
		if n := testing.AllocsPerRun(100, func() {
			s.WriteL4(&r4)
			s.WriteL7(&r7)
		}); n != 0 {
			t.Errorf("WriterSink allocates %v times per two records", n)
		}
	}
}
