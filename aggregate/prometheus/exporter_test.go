package prometheus_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/aggregate"
	aggprom "github.com/metaflow-go/metaflow/aggregate/prometheus"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// totals are what the records themselves say, by the label values the
// default edge views use.
type totals struct {
	requests map[string]float64 // client_ip server_ip server_port protocol l7_protocol
	rrt      map[string]float64 // response durations counted, same key
	packets  map[string]float64 // client_ip server_ip server_port protocol: tx+rx packets
}

func (s *totals) WriteL4(r *flow.Record) error {
	s.packets[fmt.Sprintf("%s %s %d %s", r.IP0, r.IP1, r.ServerPort, flow.ProtocolName(r.Protocol))] += float64(r.PacketTx + r.PacketRx)
	return nil
}

func (s *totals) WriteL7(r *l7.Record) error {
	k := fmt.Sprintf("%s %s %d %s %s", r.Client.Addr(), r.Server.Addr(), r.Server.Port(), flow.ProtocolName(uint8(r.Transport)), r.L7Protocol)
	if r.HasRequest {
		s.requests[k]++
	}
	if _, ok := r.ResponseDuration(); ok {
		s.rrt[k]++
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestExporter_Scrape replays captures through a pipeline with an
// Aggregator feeding the Exporter, serves it on a real socket, scrapes it
// over HTTP and checks the values against the records.
func TestExporter_Scrape(t *testing.T) {
	for _, file := range []string{"testdata/l7/redis-bench.pcap", "testdata/l7/http-nginx.pcap", "testdata/l7/dns.pcap", "testdata/flow/refused.pcap"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := capture.OpenFile(filepath.Join("..", "..", file))
			if err != nil {
				t.Fatal(err)
			}
			exp := aggprom.New(nil)
			agg, err := aggregate.New(&aggregate.Config{OnWindow: exp.Add})
			if err != nil {
				t.Fatal(err)
			}
			want := &totals{map[string]float64{}, map[string]float64{}, map[string]float64{}}
			p, err := pipeline.New(pipeline.Config{Source: src, Flow: flow.Config{SnapshotInterval: aggregate.Second},
				Sinks: []pipeline.SinkConfig{{Sink: agg}, {Sink: want}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			agg.Close()

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: exp.Handler()}
			go srv.Serve(ln)
			defer srv.Close()
			resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			parser := expfmt.NewTextParser(model.UTF8Validation)
			families, err := parser.TextToMetricFamilies(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := &totals{map[string]float64{}, map[string]float64{}, map[string]float64{}}
			edge := func(m *dto.Metric) string {
				return fmt.Sprintf("%s %s %s %s", label(m, "client_ip"), label(m, "server_ip"), label(m, "server_port"), label(m, "protocol"))
			}
			for _, m := range families["metaflow_application_map_request_total"].GetMetric() {
				if v := m.GetCounter().GetValue(); v > 0 {
					got.requests[edge(m)+" "+label(m, "l7_protocol")] += v
				}
			}
			for _, m := range families["metaflow_application_map_rrt_seconds"].GetMetric() {
				if v := m.GetSummary().GetSampleCount(); v > 0 {
					got.rrt[edge(m)+" "+label(m, "l7_protocol")] += float64(v)
				}
				if len(m.GetSummary().GetQuantile()) != len(aggregate.AppQuantiles) {
					t.Errorf("summary without quantiles: %v", m)
				}
			}
			for _, name := range []string{"metaflow_network_map_tx_packets_total", "metaflow_network_map_rx_packets_total"} {
				for _, m := range families[name].GetMetric() {
					got.packets[edge(m)] += m.GetCounter().GetValue()
				}
			}
			for k, v := range want.packets {
				if got.packets[k] != v {
					t.Errorf("packets %s: scraped %v, records %v", k, got.packets[k], v)
				}
			}
			if fmt.Sprint(got.requests) != fmt.Sprint(want.requests) || fmt.Sprint(got.rrt) != fmt.Sprint(want.rrt) {
				t.Errorf("requests scraped %v\nrecords %v\nrrt scraped %v\nrecords %v", got.requests, want.requests, got.rrt, want.rrt)
			}
			if len(want.packets) == 0 || families["metaflow_network_new_flow_total"] == nil {
				t.Errorf("nothing scraped: %d families", len(families))
			}
			t.Logf("%d families; %d edges, %d edge/protocol pairs with requests", len(families), len(want.packets), len(want.requests))
		})
	}
}
