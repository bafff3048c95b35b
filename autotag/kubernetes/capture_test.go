package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/pipeline"
)

// TestSource_CaptureTags replays a capture of curl talking to nginx
// (testdata/l7/http-nginx.pcap of the root module: 10.201.0.1 -> 10.201.0.2)
// through the pipeline with the autotag stage fed by this source, against
// the recorded cluster of testdata/capture: the cluster of testdata/cluster
// with the web pod at nginx's address and the db-0 pod at curl's. Every l4
// and l7 record carries both pods' tags.
func TestSource_CaptureTags(t *testing.T) {
	api := newAPIServer(t, "testdata/capture")
	_, tg := run(t, api.srv.URL)
	server, client := netip.MustParseAddr("10.201.0.2"), netip.MustParseAddr("10.201.0.1")
	waitFor(t, tg, "both pods", func(s *autotag.Snapshot) bool {
		a, b := s.Lookup(0, server), s.Lookup(0, client)
		return a != nil && b != nil && a.Service != "" && b.Pod != ""
	})

	in, err := capture.OpenFile(filepath.Join("..", "..", "testdata", "l7", "http-nginx.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := pipeline.New(pipeline.Config{
		Source: in,
		Shards: 2,
		Stages: []pipeline.Stage{tg.NewStage(autotag.StageConfig{NoSockets: true})},
		Sinks:  []pipeline.SinkConfig{{Sink: pipeline.NewJSONSink(&out)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pod_0": "db-0", "pod_ns_0": "shop", "pod_group_0": "db", "pod_node_0": "node-b", "pod_cluster_0": "prod-eu",
		"pod_1": "web-7d9f8b6c5d-x2x4k", "pod_ns_1": "shop", "pod_group_1": "web", "pod_node_1": "node-a",
		"service_1": "web", "region_1": "eu-west-1", "az_1": "eu-west-1a", "pod_cluster_1": "prod-eu",
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		typ, _ := rec["type"].(string)
		counts[typ]++
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s record: %s = %v, want %q", typ, k, rec[k], v)
			}
		}
	}
	if counts["l4_flow_log"] == 0 || counts["l7_flow_log"] == 0 {
		t.Fatalf("records: %v\n%s", counts, out.String())
	}
}
