package otlp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/aggregate/otlp"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP metrics receiver: it decodes each request's
// protobuf and sums the points it cares about.
type receiver struct {
	mu       sync.Mutex
	requests int
	sums     map[string]int64  // metric name + attributes -> sum of points
	counts   map[string]uint64 // summary metric + attributes -> count
	services map[string]bool
}

func attrs(kv []*commonpb.KeyValue) string {
	s := ""
	for _, a := range kv {
		switch v := a.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			s += " " + v.StringValue
		case *commonpb.AnyValue_IntValue:
			s += fmt.Sprintf(" %d", v.IntValue)
		}
	}
	return s
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req colmetricspb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	for _, rm := range req.ResourceMetrics {
		rc.services[attrs(rm.Resource.Attributes)] = true
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if s := m.GetSum(); s != nil {
					for _, p := range s.DataPoints {
						rc.sums[m.Name+attrs(p.Attributes)] += p.GetAsInt()
					}
				}
				if s := m.GetSummary(); s != nil {
					for _, p := range s.DataPoints {
						rc.counts[m.Name+attrs(p.Attributes)] += p.Count
					}
				}
			}
		}
	}
	out, _ := proto.Marshal(&colmetricspb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// records sums the l7 and flow records by the keys the receiver sees.
type records struct {
	sums   map[string]int64
	counts map[string]uint64
}

func transport(p uint8) string {
	return map[uint8]string{6: "tcp", 17: "udp"}[p]
}

func (s *records) WriteL4(r *flow.Record) error {
	k := fmt.Sprintf(" %s %s %d %s", r.IP0, r.IP1, r.ServerPort, transport(r.Protocol))
	s.sums["metaflow.network_map.packet_tx"+k] += int64(r.PacketTx)
	s.sums["metaflow.network_map.packet_rx"+k] += int64(r.PacketRx)
	return nil
}

func (s *records) WriteL7(r *l7.Record) error {
	k := fmt.Sprintf(" %s %s %d %s %s", r.Client.Addr(), r.Server.Addr(), r.Server.Port(), transport(uint8(r.Transport)), r.L7Protocol)
	if r.HasRequest {
		s.sums["metaflow.application_map.request"+k]++
	}
	if _, ok := r.ResponseDuration(); ok {
		s.counts["metaflow.application_map.rrt"+k]++
	}
	return nil
}

// TestExporter_Receiver replays captures through an Aggregator feeding
// the Exporter, which sends to a real OTLP/HTTP receiver on a socket; the
// receiver's sums equal the records'.
func TestExporter_Receiver(t *testing.T) {
	for _, file := range []string{"testdata/l7/redis-bench.pcap", "testdata/l7/http-nginx.pcap", "testdata/l7/dns.pcap"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			rc := &receiver{sums: map[string]int64{}, counts: map[string]uint64{}, services: map[string]bool{}}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: rc}
			go srv.Serve(ln)
			defer srv.Close()

			exp := otlp.New(&otlp.Config{Endpoint: "http://" + ln.Addr().String() + "/v1/metrics", ServiceName: "test-agent"})
			agg, err := aggregate.New(&aggregate.Config{OnWindow: exp.Add})
			if err != nil {
				t.Fatal(err)
			}
			src, err := capture.OpenFile(filepath.Join("..", "..", file))
			if err != nil {
				t.Fatal(err)
			}
			want := &records{map[string]int64{}, map[string]uint64{}}
			p, err := pipeline.New(pipeline.Config{Source: src, Sinks: []pipeline.SinkConfig{{Sink: agg}, {Sink: want}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			agg.Close()
			if err := exp.Close(); err != nil {
				t.Fatal(err)
			}
			if st := exp.Stats(); st.Failed != 0 || st.Dropped != 0 || st.Requests == 0 {
				t.Fatalf("stats %+v", st)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if !rc.services[" test-agent"] {
				t.Errorf("resource: %v", rc.services)
			}
			for k, v := range want.sums {
				if rc.sums[k] != v {
					t.Errorf("%s: received %d, records %d", k, rc.sums[k], v)
				}
			}
			for k, v := range want.counts {
				if rc.counts[k] != v {
					t.Errorf("%s: received count %d, records %d", k, rc.counts[k], v)
				}
			}
			if len(want.sums) == 0 {
				t.Error("no records")
			}
			t.Logf("%d requests received, %d sums checked", rc.requests, len(want.sums)+len(want.counts))
		})
	}
}
