package encoding_test

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

// captureTagger describes the capture's endpoints to an autotag.Tagger,
// whose Stage then tags the records as an agent's: every address a /32
// entry, 15 resource tags for a client and 16 (with a service) for a
// server. The endpoints are the realistic cardinalities, not the
// capture's: a capture made by replaying sessions with rewritten
// addresses (../shared/bench/mkbig) has a new client address for nearly
// every flow, which a cluster's pods do not, so a client address is one of
// 5,000 pods (picked by the address) and a server address one of 2,000;
// the snapshot shares one tag list among the addresses of an endpoint.
func captureTagger(l4s []*flow.Record, l7s []*l7.Record) (*autotag.Tagger, int) {
	server := map[netip.Addr]bool{}
	see := func(a netip.Addr, srv bool) {
		if srv || !server[a] {
			server[a] = srv
		}
	}
	for _, r := range l4s {
		see(r.IP0, false)
		see(r.IP1, true)
	}
	for _, r := range l7s {
		see(r.Client.Addr(), false)
		see(r.Server.Addr(), true)
	}
	keys := []string{"region", "az", "host", "chost", "l3_epc", "subnet", "natgw", "lb", "pod_cluster", "pod_node",
		"pod_ns", "pod_group", "pod", "gprocess", "container_id"}
	ids := map[uint64]bool{}
	var addrs []autotag.AddrEntry
	for a, srv := range server {
		h := fnv.New64a()
		b := a.As16()
		h.Write(b[:])
		id := h.Sum64() % 5000
		if srv {
			id = 5000 + h.Sum64()%2000
		}
		ids[id] = true
		e := autotag.AddrEntry{Prefix: netip.PrefixFrom(a, a.BitLen())}
		for i, key := range keys {
			// Resources shared by more and more endpoints as i falls.
			v := key + "-" + strconv.Itoa(int(id)>>(len(keys)-1-i))
			if i >= 10 {
				v = key + "-" + strconv.Itoa(int(id))
			}
			e.Resource.SetTag(key, v)
		}
		if srv {
			e.Resource.Service = "svc-" + strconv.Itoa(int(id))
		}
		addrs = append(addrs, e)
	}
	tg := autotag.New()
	tg.Updater("capture").Update(&autotag.Entries{Addrs: addrs})
	return tg, len(ids)
}

// limitSource ends a capture after n packets.
type limitSource struct {
	capture.Source
	n int
}

func (s *limitSource) ReadPacket(p *capture.Packet) error {
	if s.n <= 0 {
		return io.EOF
	}
	s.n--
	return s.Source.ReadPacket(p)
}

// capped collects at most max records of each kind.
type capped struct {
	collect
	max int
}

func (c *capped) WriteL4(r *flow.Record) error {
	c.mu.Lock()
	if len(c.l4) < c.max {
		c.l4 = append(c.l4, r.Clone())
	}
	c.mu.Unlock()
	return nil
}

func (c *capped) WriteL7(r *l7.Record) error {
	c.mu.Lock()
	if len(c.l7) < c.max {
		c.l7 = append(c.l7, r.Clone())
	}
	c.mu.Unlock()
	return nil
}

var benchCapture struct {
	once sync.Once
	name string
	// endpoints is the distinct tagged endpoints (addresses of clients,
	// address and port of servers).
	endpoints int
	l4        []*flow.Record
	l7        []*l7.Record
}

// benchRecords returns the tagged records of $ENCODING_BENCH_PCAP (its
// first $ENCODING_BENCH_PACKETS packets, default 3,000,000; at most
// 200,000 records of each kind), or of the project's test captures.
func benchRecords(b *testing.B) (string, []*flow.Record, []*l7.Record) {
	bc := &benchCapture
	bc.once.Do(func() {
		files := []string{os.Getenv("ENCODING_BENCH_PCAP")}
		bc.name = filepath.Base(files[0])
		if files[0] == "" {
			files = files[:0]
			for _, g := range []string{"l7/*.pcap", "flow/*.pcap"} {
				m, _ := filepath.Glob(testutil.Testdata(b, g))
				files = append(files, m...)
			}
			bc.name = "testdata"
		}
		packets := 3_000_000
		if n, err := strconv.Atoi(os.Getenv("ENCODING_BENCH_PACKETS")); err == nil && n > 0 {
			packets = n
		}
		c := &capped{max: 200_000}
		for _, f := range files {
			src, err := capture.OpenFile(f)
			if err != nil {
				b.Fatalf("open %s: %v", f, err)
			}
			p, err := pipeline.New(pipeline.Config{Source: &limitSource{src, packets},
				Sinks: []pipeline.SinkConfig{{Sink: c}}})
			if err != nil {
				b.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil && !errors.Is(err, io.EOF) {
				b.Fatalf("run %s: %v", f, err)
			}
		}
		// Tag the records with a Stage of a snapshot of their addresses
		// (known only now), as the pipeline's stage would have.
		tg, endpoints := captureTagger(c.l4, c.l7)
		st := tg.NewStage(autotag.StageConfig{})
		for _, r := range c.l4 {
			r.Tags.Reset()
			st.ProcessL4(r)
		}
		for _, r := range c.l7 {
			r.Tags.Reset()
			st.ProcessL7(r)
		}
		bc.l4, bc.l7, bc.endpoints = c.l4, c.l7, endpoints
	})
	if len(bc.l4) == 0 || len(bc.l7) == 0 {
		b.Skipf("%s: %d l4 and %d l7 records", bc.name, len(bc.l4), len(bc.l7))
	}
	return bc.name, bc.l4, bc.l7
}

// recWriter is rowWriter for both kinds of records.
type recWriter interface {
	addL4(r *flow.Record)
	addL7(r *l7.Record)
	end() int
}

type smartRec struct{ smartWriter }

func (w *smartRec) addL4(r *flow.Record) { w.enc.AddL4(r) }
func (w *smartRec) addL7(r *l7.Record)   { w.enc.AddL7(r) }

type jsonRec struct{ jsonWriter }

func (w *jsonRec) addL4(r *flow.Record) { w.add(r) }
func (w *jsonRec) addL7(r *l7.Record) {
	w.buf = append(r.AppendJSON(w.buf), '\n')
	if len(w.buf) >= jsonFlush {
		w.pending += len(w.buf)
		w.buf = w.buf[:0]
	}
}

// BenchmarkEncodeCapture encodes the records of a real capture
// (ENCODING_BENCH_PCAP, default the project's test captures), tagged by
// an autotag.Stage with 15 or 16 tags a side (captureTagger): l4_flow_log and l7_flow_log rows apart,
// SmartEncoding (zstd where it pays, the default; S2) beside the JSON
// Lines of the JSON sink, per record. "large" encodes every record once
// an op (up to 200,000 of each kind: the records come from memory, as
// the rows of a busy agent's queues do); "warm" encodes the first 256
// again and again (in cache) for as many rows. Frames of 16,384 rows.
// Metrics: cpu-ns/row, the least of the ops (the process's CPU time),
// and bytes/row.
func BenchmarkEncodeCapture(b *testing.B) {
	name, l4s, l7s := benchRecords(b)
	b.Logf("%s: %d l4 and %d l7 records, %d endpoints", name, len(l4s), len(l7s), benchCapture.endpoints)
	serverL4, agentL4 := dictOf(l4s, nil)
	serverL7, agentL7 := dictOf(nil, l7s)
	for _, kind := range []string{"l4", "l7"} {
		n := len(l4s)
		agent, server := agentL4, serverL4
		if kind == "l7" {
			n, agent, server = len(l7s), agentL7, serverL7
		}
		for _, set := range []string{"warm", "large"} {
			for _, wc := range []struct {
				name string
				w    func() recWriter
			}{
				{"json", func() recWriter { return &jsonRec{} }},
				{"smart", func() recWriter {
					e, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
					return &smartRec{smartWriter{tb: b, enc: e}}
				}},
				{"smart-s2", func() recWriter {
					e, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, Compression: encoding.CompressS2})
					return &smartRec{smartWriter{tb: b, enc: e}}
				}},
				// Format 1.3's tag set ids, every set's id learnt first.
				{"smart-setids", func() recWriter {
					if kind == "l4" {
						learnRecSets(b, server, agent, l4s, nil)
					} else {
						learnRecSets(b, server, agent, nil, l7s)
					}
					e, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})
					return &smartRec{smartWriter{tb: b, enc: e}}
				}},
				// What examples/agent sends: tag set ids, S2.
				{"smart-setids-s2", func() recWriter {
					if kind == "l4" {
						learnRecSets(b, server, agent, l4s, nil)
					} else {
						learnRecSets(b, server, agent, nil, l7s)
					}
					e, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true, Compression: encoding.CompressS2})
					return &smartRec{smartWriter{tb: b, enc: e}}
				}},
			} {
				b.Run(kind+"/"+set+"/"+wc.name, func(b *testing.B) {
					w := wc.w()
					pick := func(i int) int { return i }
					if set == "warm" {
						pick = func(i int) int { return i % min(n, 256) }
					}
					one := func() (int, int64) {
						c0 := cpuTime()
						total, rows := 0, 0
						for i := range n {
							if kind == "l4" {
								w.addL4(l4s[pick(i)])
							} else {
								w.addL7(l7s[pick(i)])
							}
							if rows++; rows == batchRows || i == n-1 {
								total += w.end()
								rows = 0
							}
						}
						return total, cpuTime() - c0
					}
					one() // warm up: caches filled, buffers grown
					b.ReportAllocs()
					best, total := math.Inf(1), 0
					for b.Loop() {
						var cpu int64
						total, cpu = one()
						best = min(best, float64(cpu)/float64(n))
					}
					b.ReportMetric(best, "cpu-ns/row")
					b.ReportMetric(float64(total)/float64(n), "bytes/row")
				})
			}
		}
	}
}

// learnRecSets encodes the records with TagSetIDs in frames of batchRows,
// each resolved by server and acknowledged to agent: agent then knows the
// id of every tag set of the records.
func learnRecSets(tb testing.TB, server *encoding.Dictionary, agent *encoding.AgentDict, l4s []*flow.Record, l7s []*l7.Record) {
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})
	if err != nil {
		tb.Fatal(err)
	}
	var frame []byte
	n := len(l4s) + len(l7s)
	for i := range n {
		if i < len(l4s) {
			enc.AddL4(l4s[i])
		} else {
			enc.AddL7(l7s[i-len(l4s)])
		}
		if (i+1)%batchRows != 0 && i != n-1 {
			continue
		}
		if frame, err = enc.AppendFrame(frame[:0]); err != nil {
			tb.Fatal(err)
		}
		b, err := encoding.Decode(frame)
		if err != nil {
			tb.Fatal(err)
		}
		if err := server.Resolve(b); err != nil {
			tb.Fatal(err)
		}
		if err := agent.Apply(server.Sync(b.Epoch, b.DictVersion)); err != nil {
			tb.Fatal(err)
		}
	}
}

// dictOf returns a server dictionary of every tag value of the records
// and an agent synced with it.
func dictOf(l4s []*flow.Record, l7s []*l7.Record) (*encoding.Dictionary, *encoding.AgentDict) {
	server := encoding.NewDictionary(nil)
	add := func(s *tag.Set) {
		for side := range 2 {
			for _, t := range s.Side(tag.Side(side)) {
				if _, err := server.Assign(t.Key, t.Value); err != nil {
					panic(err)
				}
			}
		}
	}
	for _, r := range l4s {
		add(&r.Tags)
	}
	for _, r := range l7s {
		add(&r.Tags)
	}
	agent := encoding.NewAgentDict()
	if err := agent.Apply(server.Sync(0, 0)); err != nil {
		panic(err)
	}
	return server, agent
}
