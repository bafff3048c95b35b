//go:build unix

package pipeline_test

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/pipeline"
)

// loopSource hands out n packets from pkts, again and again, each loop's
// times shifted past the previous loop's so that packet time keeps
// advancing (the flows of a loop time out before the next).
type loopSource struct {
	pkts []capture.Packet
	span time.Duration
	i, n int
}

func (s *loopSource) ReadPacket(p *capture.Packet) error {
	if s.i == s.n {
		return io.EOF
	}
	k := s.i % len(s.pkts)
	*p = s.pkts[k]
	p.Timestamp = p.Timestamp.Add(time.Duration(s.i/len(s.pkts)) * s.span)
	s.i++
	return nil
}

func (s *loopSource) Stats() capture.Stats { return capture.Stats{} }
func (s *loopSource) Close() error         { return nil }

// BenchmarkPipeline_File runs the first 2,000,000 packets of the capture
// named by $PIPELINE_BENCH_PCAP (such as the bench kit's
// /tmp/bench-mixed-5m.pcap), held in memory and looped, through a whole
// pipeline of one shard (flow table, L7 engine with the built-in decoders,
// JSON records to io.Discard): the agent's work on a file, less reading
// it. One op is one packet; cpu-ns/op is the process's CPU time (the
// collector's included), steadier than wall time on a shared machine.
func BenchmarkPipeline_File(b *testing.B) {
	path := os.Getenv("PIPELINE_BENCH_PCAP")
	if path == "" {
		b.Skip("PIPELINE_BENCH_PCAP not set")
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var pkts []capture.Packet
	var size int
	for len(pkts) < 2_000_000 {
		var p capture.Packet
		if src.ReadPacket(&p) != nil {
			break
		}
		p.Data = append([]byte(nil), p.Data...)
		pkts = append(pkts, p)
		size += len(p.Data)
	}
	src.Close()
	if len(pkts) == 0 {
		b.Skip("no packets")
	}
	span := pkts[len(pkts)-1].Timestamp.Sub(pkts[0].Timestamp) + time.Hour
	b.SetBytes(int64(size / len(pkts)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	p, err := pipeline.New(pipeline.Config{
		Source: &loopSource{pkts: pkts, span: span, n: b.N},
		Shards: 1,
		Sinks:  []pipeline.SinkConfig{{Sink: pipeline.NewJSONSink(io.Discard)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the CPU time the process has used (user + system), in
// ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
