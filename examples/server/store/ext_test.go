package store_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

func TestStore_IngestExt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.duckdb")
	s, err := store.Open(store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	// Agent records: client 10.0.0.<i> is pod-<i%4>, server 10.1.0.1
	// serves svc-<i%3>.
	if _, err := s.Ingest("agent-1", frame(t, nil, 8, 4)); err != nil {
		t.Fatal(err)
	}
	pod1, ok := s.Dict().Lookup("pod", "pod-1")
	if !ok {
		t.Fatal("agent batch did not assign pod-1")
	}
	b := &store.ExtBatch{
		Resources: []store.Resource{
			{Tags: []store.Tag{{Key: "pod", Value: "pod-1"}, {Key: "pod_ns", Value: "shop"}, {Key: "nokey", Value: "x"}, {Key: "pod", Value: "second"}}},
			{Addr: netip.MustParseAddr("10.0.0.2")},                                                  // tagged by the agent: pod-2
			{Addr: netip.MustParseAddr("10.1.0.1"), Tags: []store.Tag{{Key: "pod", Value: "api-0"}}}, // service from the agent, pod explicit
			{Addr: netip.MustParseAddr("192.0.2.9")},                                                 // unknown
		},
		Spans: []store.Span{
			{Resource: 0, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Kind: "server", TapSide: "s-app",
				StartTime: 1000, EndTime: 5000, L7Protocol: "HTTP", RequestType: "GET", Endpoint: "/a", RequestResource: "/a?x=1",
				ResponseCode: 503, HasResponseCode: true, ResponseStatus: 2, Service: "web", Attributes: map[string]string{"k": "v"},
				IP1: netip.MustParseAddr("10.2.0.1"), ServerPort: 8080},
			{Resource: 1, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7", ParentSpanID: "b7ad6b7169203331",
				Kind: "client", TapSide: "c-app", StartTime: 2000, EndTime: 3000, L7Protocol: "unknown", Endpoint: "db"},
		},
		Samples: []store.Sample{
			{Resource: 2, Time: 10, Source: "prometheus", Metric: "up", Value: 1, Labels: map[string]string{"job": "api", "instance": "10.1.0.1:9100"}},
			{Resource: 3, Time: 20, Source: "influx", Measurement: "cpu", Metric: "cpu_note", Text: "hi", IsText: true},
		},
	}
	res, err := s.IngestExt(b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans != 2 || res.Samples != 2 {
		t.Fatalf("result %+v", res)
	}
	if got, _ := s.Dict().Lookup("pod", "pod-1"); got != pod1 {
		t.Fatalf("pod-1 has id %d for spans, %d for agent records", got, pod1)
	}
	// The agent's pod-1 records and the server span of pod-1 answer the
	// same tag filter.
	if n := count(t, s, `SELECT count(*) FROM l7_flow_log WHERE pod_id_1 = ? AND signal_source = 'OTel'`, pod1); n != 1 {
		t.Fatalf("server span with pod_id_1 = pod-1: %d rows", n)
	}
	if n := count(t, s, `SELECT count(*) FROM l7_flow_log WHERE pod_id_0 = ? AND signal_source IS NULL`, pod1); n == 0 {
		t.Fatal("no agent record of pod-1")
	}
	pod2, _ := s.Dict().Lookup("pod", "pod-2")
	if n := count(t, s, `SELECT count(*) FROM l7_flow_log WHERE span_id = '00f067aa0ba902b7' AND pod_id_0 = ? AND pod_id_1 = 0`, pod2); n != 1 {
		t.Fatal("client span not tagged pod-2 on side 0 through its address")
	}
	if _, ok := s.Dict().Lookup("pod", "second"); ok {
		t.Fatal("a second pod tag of a resource was assigned")
	}
	ns, ok := s.Dict().Lookup("pod_ns", "shop")
	if !ok {
		t.Fatal("pod_ns shop not assigned")
	}
	var row struct {
		trace, parent, tapSide, kind, svc, ep, res, attr string
		code                                             int64
		status                                           uint64
		ns, start, end                                   int64
		ip1                                              string
		port                                             uint64
	}
	err = s.DB().QueryRow(`SELECT trace_id, parent_span_id, tap_side, span_kind, app_service, endpoint, request_resource,
		attributes['k'], response_code, response_status, pod_ns_id_1, start_time, end_time, ip_1, server_port
		FROM l7_flow_log WHERE span_id = 'b7ad6b7169203331'`).Scan(&row.trace, &row.parent, &row.tapSide, &row.kind, &row.svc,
		&row.ep, &row.res, &row.attr, &row.code, &row.status, &row.ns, &row.start, &row.end, &row.ip1, &row.port)
	if err != nil {
		t.Fatal(err)
	}
	if row.trace != "0af7651916cd43dd8448eb211c80319c" || row.parent != "" || row.tapSide != "s-app" || row.kind != "server" ||
		row.svc != "web" || row.ep != "/a" || row.res != "/a?x=1" || row.attr != "v" || row.code != 503 || row.status != 2 ||
		row.ns != int64(ns) || row.start != 1000 || row.end != 5000 || row.ip1 != "10.2.0.1" || row.port != 8080 {
		t.Fatalf("server span stored as %+v", row)
	}
	// Samples: explicit pod wins, the address gives the agent's service.
	svc, _ := s.Dict().Lookup("service", "svc-0")
	api0, _ := s.Dict().Lookup("pod", "api-0")
	var sPod, sSvc int64
	var job string
	if err := s.DB().QueryRow(`SELECT pod_id, service_id, labels['job'] FROM ext_samples WHERE metric = 'up'`).Scan(&sPod, &sSvc, &job); err != nil {
		t.Fatal(err)
	}
	if sPod != int64(api0) || sSvc == 0 || job != "api" {
		t.Fatalf("up: pod %d (want %d) service %d (svc-0 is %d) job %q", sPod, api0, sSvc, svc, job)
	}
	if n := count(t, s, `SELECT count(*) FROM ext_metrics WHERE metric = 'cpu_note' AND value IS NULL AND text = 'hi' AND pod_id = 0 AND service_id = 0`); n != 1 {
		t.Fatal("text sample not stored untagged")
	}
	if n := count(t, s, `SELECT count(*) FROM duckdb_indexes() WHERE index_name IN ('l7_span_id', 'l7_parent_span_id', 'l7_trace_id')`); n != 3 {
		t.Fatalf("%d of the span id indexes", n)
	}
	st := s.ExtStats()
	if st.Requests != 1 || st.Spans != 2 || st.Samples != 2 || st.AddrLookups != 3 || st.AddrTagged != 2 {
		t.Fatalf("stats %+v", st)
	}

	// A refused batch stores nothing, not even its new tag values.
	v0 := s.Dict().Version()
	bad := &store.ExtBatch{
		Resources: []store.Resource{{Tags: []store.Tag{{Key: "pod", Value: "new-pod"}, {Key: "host", Value: strings.Repeat("h", 5000)}}}},
		Spans:     []store.Span{{Resource: 0, SpanID: "1"}},
	}
	if _, err := s.IngestExt(bad); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("over-long tag: %v, want ErrSchema", err)
	}
	if _, ok := s.Dict().Lookup("pod", "new-pod"); ok || s.Dict().Version() != v0 {
		t.Fatal("refused batch left dictionary entries")
	}
	if _, err := s.IngestExt(&store.ExtBatch{Spans: []store.Span{{Resource: 3}}}); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("span of a missing resource: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM l7_flow_log WHERE signal_source = 'OTel'`); n != 2 {
		t.Fatalf("%d spans after refusals, want 2", n)
	}

	// Reopened: the rows, the columns and the dictionary stay.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = store.Open(store.Config{Path: path}); err != nil {
		s = nil
		t.Fatal(err)
	}
	if got, _ := s.Dict().Lookup("pod_ns", "shop"); got != ns {
		t.Fatal("pod_ns shop lost across a restart")
	}
	if n := count(t, s, `SELECT count(*) FROM ext_metrics`); n != 2 {
		t.Fatalf("%d samples after a restart", n)
	}
	if _, err := s.IngestExt(b); err != nil {
		t.Fatal(err)
	}
	// Labels are kept once per series, restored on Open.
	if n := count(t, s, `SELECT count(*) FROM ext_series`); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
	if n := count(t, s, `SELECT count(*) FROM ext_samples WHERE labels['job'] = 'api'`); n != 2 {
		t.Fatalf("%d samples of job api, want 2", n)
	}
}

func TestStore_MaintainExt(t *testing.T) {
	s, err := store.Open(store.Config{Path: ":memory:", Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	b := &store.ExtBatch{
		Resources: []store.Resource{{}},
		Samples: []store.Sample{
			{Time: now.Add(-2 * time.Hour).UnixNano(), Source: "influx", Metric: "old", Value: 1},
			{Time: now.Add(-time.Minute).UnixNano(), Source: "influx", Metric: "new", Value: 2},
		},
	}
	if _, err := s.IngestExt(b); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Deleted
	if err := s.Maintain(now); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM ext_metrics WHERE metric = 'new'`); n != 1 {
		t.Fatal("retention deleted a recent sample")
	}
	if n := count(t, s, `SELECT count(*) FROM ext_metrics WHERE metric = 'old'`); n != 0 || s.Stats().Deleted-before != 1 {
		t.Fatalf("old samples left: %d, deleted %d", n, s.Stats().Deleted-before)
	}
}
