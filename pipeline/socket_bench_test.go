package pipeline_test

import (
	"context"
	"testing"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// BenchmarkSockets runs real captures' payloads, as socket events from the
// client's end, through a pipeline (one L7 engine, a discarding sink),
// beside the same captures as packets: bytes are the payloads, and
// events/s (or packets/s) is reported. Each iteration builds a pipeline.
func BenchmarkSockets(b *testing.B) {
	for _, tc := range []struct{ name, file string }{
		{"redis", "l7/redis.pcap"},
		{"http", "l7/http-nginx.pcap"},
		{"mysql", "l7/mysql.pcap"},
	} {
		t := &testing.T{}
		evs := pcapEvents(t, tc.file, clientView)
		if t.Failed() || len(evs) == 0 {
			b.Fatal("no events")
		}
		var n int64
		for _, e := range evs {
			n += int64(len(e.Payload))
		}
		b.Run(tc.name+"/sockets", func(b *testing.B) {
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				p, err := pipeline.New(pipeline.Config{Sockets: &replay{events: evs}, Sinks: []pipeline.SinkConfig{{Sink: discard{}}}})
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(tc.name+"/packets", func(b *testing.B) {
			b.SetBytes(n)
			b.ReportAllocs()
			var st pipeline.Stats
			for b.Loop() {
				p, err := pipeline.New(pipeline.Config{Source: openT(b, tc.file), Sinks: []pipeline.SinkConfig{{Sink: discard{}}}})
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				p.Stats(&st)
			}
			b.ReportMetric(float64(st.Capture.Packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

// discard is a sink that drops every record, socket records too.
type discard struct{}

func (discard) WriteL4(*flow.Record) error               { return nil }
func (discard) WriteL7(*l7.Record) error                 { return nil }
func (discard) WriteSocket(*pipeline.SocketRecord) error { return nil }

var _ socket.Source = (*replay)(nil)
