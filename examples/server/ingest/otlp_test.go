package ingest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

func seedTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "cart")
	rs.Resource().Attributes().PutStr("k8s.pod.name", "cart-0")
	rs.Resource().Attributes().PutStr("k8s.pod.ip", "10.0.0.3")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
	sp.SetParentSpanID(pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2})
	sp.SetName("HTTP GET")
	sp.SetKind(ptrace.SpanKindClient)
	sp.SetStartTimestamp(1_000)
	sp.SetEndTimestamp(2_000)
	// Older semantic conventions (before 1.20).
	a := sp.Attributes()
	a.PutStr("http.method", "GET")
	a.PutStr("http.url", "http://api.shop:8080/v1/items?id=3#frag")
	a.PutInt("http.status_code", 502)
	a.PutStr("net.peer.ip", "10.0.0.9")
	a.PutInt("net.peer.port", 8080)
	a.PutStr("net.transport", "ip_tcp")
	a.PutStr("http.flavor", "1.1")
	a.PutEmptyBytes("blob").FromRaw([]byte{0xff, 0})
	a.PutEmptySlice("tags").AppendEmpty().SetStr("x")
	return td
}

func TestTracesToBatch(t *testing.T) {
	var b store.ExtBatch
	ingest.TracesToBatch(seedTraces(), &b)
	if len(b.Spans) != 1 || len(b.Resources) != 1 {
		t.Fatalf("%d spans, %d resources", len(b.Spans), len(b.Resources))
	}
	s := b.Spans[0]
	got := fmt.Sprintf("%s %s %s %s/%s %s %s %s %s %s code=%d/%v status=%d %v->%v:%d proto=%d ver=%s attrs=%v",
		s.TraceID, s.SpanID, s.ParentSpanID, s.Kind, s.TapSide, s.L7Protocol, s.RequestType, s.RequestDomain, s.RequestResource,
		s.Endpoint, s.ResponseCode, s.HasResponseCode, s.ResponseStatus, s.IP0, s.IP1, s.ServerPort, s.Transport, s.Version, s.Attributes)
	want := "0102030405060708090a0b0c0d0e0f10 0101010101010101 0202020202020202 client/c-app HTTP GET api.shop:8080 /v1/items?id=3 " +
		"/v1/items code=502/true status=2 invalid IP->10.0.0.9:8080 proto=6 ver=1.1 attrs=map[blob:/wA= tags:[\"x\"]]"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	r := b.Resources[0]
	if fmt.Sprint(r.Tags) != "[{pod cart-0} {service cart}]" || r.Addr.String() != "10.0.0.3" {
		t.Fatalf("resource %+v", r)
	}
}

func seedMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("host.name", "node-a")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("temp")
	p := g.SetEmptyGauge().DataPoints().AppendEmpty()
	p.SetDoubleValue(21.5)
	p.SetTimestamp(5)
	p.Attributes().PutStr("room", "a")
	nv := g.Gauge().DataPoints().AppendEmpty()
	nv.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	s := ms.AppendEmpty()
	s.SetName("rpc")
	sp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetCount(4)
	sp.SetSum(2)
	q := sp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(0.7)
	e := ms.AppendEmpty()
	e.SetName("lat")
	ep := e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetCount(3)
	ep.SetSum(1.5)
	return md
}

func TestMetricsToBatch(t *testing.T) {
	var b store.ExtBatch
	skipped := ingest.MetricsToBatch(seedMetrics(), &b)
	var got []string
	for _, s := range b.Samples {
		got = append(got, fmt.Sprintf("%s%v=%v@%d", s.Metric, s.Labels, s.Value, s.Time))
	}
	want := "tempmap[room:a]=21.5@5 rpc_countmap[]=4@0 rpc_summap[]=2@0 rpcmap[quantile:0.99]=0.7@0 lat_countmap[]=3@0 lat_summap[]=1.5@0"
	if strings.Join(got, " ") != want || skipped != 2 {
		t.Fatalf("got %s (skipped %d)\nwant %s (skipped 2)", strings.Join(got, " "), skipped, want)
	}
}

// FuzzOTLPHandlers posts arbitrary bodies to the OTLP/HTTP endpoints
// (protobuf and JSON): the answer is 200 or 400, never a 5xx or a panic;
// a refused body stores nothing, an accepted one all its spans and points.
func FuzzOTLPHandlers(f *testing.F) {
	st, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	e, err := ingest.NewExt(ingest.ExtConfig{Store: st, MaxBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	e.Register(mux)
	tr := ptraceotlp.NewExportRequestFromTraces(seedTraces())
	mr := pmetricotlp.NewExportRequestFromMetrics(seedMetrics())
	tp, _ := tr.MarshalProto()
	tj, _ := tr.MarshalJSON()
	mp, _ := mr.MarshalProto()
	mj, _ := mr.MarshalJSON()
	f.Add(false, false, tp)
	f.Add(false, true, tj)
	f.Add(true, false, mp)
	f.Add(true, true, mj)
	f.Add(false, true, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`))
	f.Fuzz(func(t *testing.T, metrics, isJSON bool, body []byte) {
		path, ct := ingest.OTLPTracesPath, "application/x-protobuf"
		if metrics {
			path = ingest.OTLPMetricsPath
		}
		if isJSON {
			ct = "application/json"
		}
		before := st.ExtStats()
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		after := st.ExtStats()
		switch w.Code {
		case http.StatusOK:
			var b store.ExtBatch
			if metrics {
				r := pmetricotlp.NewExportRequest()
				if isJSON {
					r.UnmarshalJSON(body)
				} else {
					r.UnmarshalProto(body)
				}
				ingest.MetricsToBatch(r.Metrics(), &b)
			} else {
				r := ptraceotlp.NewExportRequest()
				if isJSON {
					r.UnmarshalJSON(body)
				} else {
					r.UnmarshalProto(body)
				}
				ingest.TracesToBatch(r.Traces(), &b)
			}
			if after.Spans-before.Spans != uint64(len(b.Spans)) || after.Samples-before.Samples != uint64(len(b.Samples)) {
				t.Fatalf("stored %d spans %d samples, the request has %d and %d", after.Spans-before.Spans,
					after.Samples-before.Samples, len(b.Spans), len(b.Samples))
			}
		case http.StatusBadRequest:
			if after != before {
				t.Fatalf("400 (%s) but the store changed: %+v -> %+v", strings.TrimSpace(w.Body.String()), before, after)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
