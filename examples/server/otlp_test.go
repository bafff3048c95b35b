package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

const extToken = "eco-secret"

// agentWeb1 stores an agent batch with one HTTP request served by pod
// web-1 (the server side), as an agent's AutoTagging would tag it.
func agentWeb1(t testing.TB, ts *testServer) {
	t.Helper()
	enc, err := encoding.NewEncoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	var q l7.Record
	q.FlowID = 1
	q.StartTime, q.EndTime = time.Now().UnixNano(), time.Now().UnixNano()+1000
	q.Client = netip.MustParseAddrPort("10.0.0.7:40000")
	q.Server = netip.MustParseAddrPort("10.0.0.8:8080")
	q.L7Protocol = "HTTP"
	q.HasRequest, q.HasResponse = true, true
	q.RequestType, q.RequestResource = []byte("GET"), []byte("/items/1")
	q.Tags.Set(tag.Server, "pod", "web-1")
	q.Tags.Set(tag.Server, "pod_ns", "shop")
	enc.AddL7(&q)
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encoding.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.st.Ingest("agent-web-1", b); err != nil {
		t.Fatal(err)
	}
}

func resourceWeb1(t testing.TB) *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", "web"),
		attribute.String("service.instance.id", "web-1-a"),
		attribute.String("k8s.pod.name", "web-1"),
		attribute.String("k8s.namespace.name", "shop"),
		attribute.String("host.name", "node-a"),
	)
}

// sentSpan is what the test expects of a stored span.
type sentSpan struct {
	traceID, spanID, parent, kind, tapSide, proto, reqType, resource, endpoint, exception string
	code                                                                                  int64 // -1: none
	status                                                                                uint64
	ip0, ip1                                                                              string
	port0, port1                                                                          uint64
	attrs                                                                                 string
}

// makeSpans records a server span, a gRPC client span under it and an
// internal span that fails, with tp.
func makeSpans(t testing.TB, tp *sdktrace.TracerProvider) []sentSpan {
	tr := tp.Tracer("metaflow-test")
	start := time.Now().Add(-time.Second)
	ctx, srv := tr.Start(context.Background(), "GET /items/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("url.path", "/items/42"),
			attribute.String("url.query", "v=2"),
			attribute.String("http.route", "/items/{id}"),
			attribute.Int("http.response.status_code", 404),
			attribute.String("client.address", "10.0.0.7"),
			attribute.Int("client.port", 40001),
			attribute.Int("server.port", 8080),
			attribute.String("network.local.address", "10.0.0.8"),
			attribute.String("app.tenant", "acme"),
			attribute.StringSlice("http.request.header.x-request-id", []string{"req-77"}),
		))
	_, cli := tr.Start(ctx, "shop.Cart/Get", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start.Add(time.Millisecond)),
		trace.WithAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", "shop.Cart"),
			attribute.String("rpc.method", "Get"),
			attribute.Int("rpc.grpc.status_code", 5),
			attribute.String("server.address", "10.0.0.9"),
			attribute.Int("server.port", 50051),
		))
	cli.End(trace.WithTimestamp(start.Add(3 * time.Millisecond)))
	_, in := tr.Start(ctx, "render", trace.WithTimestamp(start.Add(4*time.Millisecond)), trace.WithAttributes(attribute.Bool("cache.hit", false)))
	in.SetStatus(codes.Error, "template missing")
	in.End(trace.WithTimestamp(start.Add(5 * time.Millisecond)))
	srv.End(trace.WithTimestamp(start.Add(6 * time.Millisecond)))
	tid := srv.SpanContext().TraceID().String()
	sid := srv.SpanContext().SpanID().String()
	return []sentSpan{
		{traceID: tid, spanID: sid, kind: "server", tapSide: "s-app", proto: "HTTP", reqType: "GET", resource: "/items/42?v=2",
			endpoint: "/items/{id}", code: 404, status: 1, ip0: "10.0.0.7", ip1: "10.0.0.8", port0: 40001, port1: 8080,
			attrs: "app.tenant=acme"},
		{traceID: tid, spanID: cli.SpanContext().SpanID().String(), parent: sid, kind: "client", tapSide: "c-app", proto: "gRPC",
			reqType: "POST", resource: "/shop.Cart/Get", endpoint: "/shop.Cart/Get", code: 5, status: 1, ip1: "10.0.0.9", port1: 50051},
		{traceID: tid, spanID: in.SpanContext().SpanID().String(), parent: sid, kind: "internal", tapSide: "app", proto: "unknown",
			resource: "render", endpoint: "render", exception: "template missing", code: -1, status: 2, attrs: "cache.hit=false"},
	}
}

func checkSpans(t testing.TB, ts *testServer, want []sentSpan) {
	t.Helper()
	web1, ok := ts.st.Dict().Lookup("pod", "web-1")
	if !ok {
		t.Fatal("pod web-1 not in the dictionary")
	}
	for _, w := range want {
		var g sentSpan
		var code *int64
		var ip0, ip1, attrs *string
		var pod0, pod1 uint32
		var svc, inst string
		err := ts.st.DB().QueryRow(`SELECT trace_id, parent_span_id, span_kind, tap_side, l7_protocol, request_type, request_resource,
			endpoint, response_exception, response_code, response_status, ip_0, ip_1, client_port, server_port,
			CAST(attributes AS VARCHAR), pod_id_0, pod_id_1, app_service, app_instance
			FROM l7_flow_log WHERE span_id = ? AND signal_source = 'OTel'`, w.spanID).Scan(
			&g.traceID, &g.parent, &g.kind, &g.tapSide, &g.proto, &g.reqType, &g.resource, &g.endpoint, &g.exception,
			&code, &g.status, &ip0, &ip1, &g.port0, &g.port1, &attrs, &pod0, &pod1, &svc, &inst)
		if err != nil {
			t.Fatalf("span %s: %v", w.spanID, err)
		}
		g.spanID, g.code = w.spanID, -1
		if code != nil {
			g.code = *code
		}
		if ip0 != nil {
			g.ip0 = *ip0
		}
		if ip1 != nil {
			g.ip1 = *ip1
		}
		if attrs != nil {
			// {k=v, ...}
			g.attrs = strings.Trim(*attrs, "{}")
		}
		if g != w {
			t.Errorf("span stored as\n%+v\nwant\n%+v", g, w)
		}
		side := &pod1
		if w.kind == "client" {
			side = &pod0
		}
		if *side != web1 || svc != "web" || inst != "web-1-a" {
			t.Errorf("span %s: pod ids %d/%d (web-1 is %d), service %q, instance %q", w.spanID, pod0, pod1, web1, svc, inst)
		}
	}
}

func TestServer_OTLPTraces(t *testing.T) {
	ts := startServer(t, options{db: ":memory:", token: extToken, maxExt: 64 << 10})
	agentWeb1(t, ts)
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := ts.ext.NewGRPCServer()
	go gs.Serve(gln)
	defer gs.Stop()
	host := strings.TrimPrefix(ts.url, "http://")
	ctx := context.Background()
	auth := map[string]string{"Authorization": "Bearer " + extToken}

	t.Run("http", func(t *testing.T) {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(host), otlptracehttp.WithInsecure(), otlptracehttp.WithHeaders(auth),
			otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resourceWeb1(t)))
		want := makeSpans(t, tp)
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		checkSpans(t, ts, want)
	})
	t.Run("grpc", func(t *testing.T) {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(gln.Addr().String()), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithHeaders(auth), otlptracegrpc.WithCompressor("gzip"))
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resourceWeb1(t)))
		want := makeSpans(t, tp)
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		checkSpans(t, ts, want)
	})
	t.Run("grpc-no-token", func(t *testing.T) {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(gln.Addr().String()), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&errExporter{SpanExporter: exp, errs: errs}), sdktrace.WithResource(resourceWeb1(t)))
		makeSpans(t, tp)
		tp.Shutdown(ctx)
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), "Unauthenticated") {
				t.Fatalf("export without token: %v", err)
			}
		default:
			t.Fatal("export without a token succeeded")
		}
	})

	t.Run("grpc-too-large", func(t *testing.T) {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(gln.Addr().String()), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithHeaders(auth), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&errExporter{SpanExporter: exp, errs: errs}), sdktrace.WithResource(resourceWeb1(t)))
		_, sp := tp.Tracer("big").Start(ctx, "big", trace.WithAttributes(attribute.String("blob", strings.Repeat("x", 100<<10))))
		sp.End()
		tp.Shutdown(ctx)
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), "ResourceExhausted") {
				t.Fatalf("export of 100 KiB with a 64 KiB limit: %v", err)
			}
		default:
			t.Fatal("export over the limit succeeded")
		}
		if st := ts.ext.Stats(); st.TooLarge != 1 {
			t.Fatalf("too_large %d, want 1", st.TooLarge)
		}
	})

	// The query API's tag filter sees the agent's record and the spans of
	// pod web-1 (server and internal spans carry it on side 1).
	var page struct {
		Rows []map[string]any `json:"rows"`
	}
	getJSON(t, ts.url+"/api/v1/l7?"+url.Values{"pod_1": {"web-1"}, "limit": {"100"}}.Encode(), extToken, &page)
	var kinds []string
	for _, r := range page.Rows {
		kinds = append(kinds, str(r["signal_source"])+"/"+str(r["span_kind"]))
	}
	sort.Strings(kinds)
	if got, want := strings.Join(kinds, " "), "/ OTel/internal OTel/internal OTel/server OTel/server"; got != want {
		t.Fatalf("pod_1=web-1 rows: %s, want %s", got, want)
	}

	st := ts.stats()
	if st.Ecosystem.OTLPTraces < 2 || st.Ecosystem.Spans != 6 || st.Ecosystem.Unauthorized == 0 || st.EcosystemStore.Spans != 6 {
		t.Fatalf("stats %+v %+v", st.Ecosystem, st.EcosystemStore)
	}
}

type errExporter struct {
	sdktrace.SpanExporter
	errs chan error
}

func (e *errExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		select {
		case e.errs <- err:
		default:
		}
	}
	return err
}

func TestServer_OTLPMetrics(t *testing.T) {
	ts := startServer(t, options{db: ":memory:", token: extToken, maxExt: 64 << 10})
	agentWeb1(t, ts)
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(strings.TrimPrefix(ts.url, "http://")), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithHeaders(map[string]string{"Authorization": "Bearer " + extToken}))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resourceWeb1(t)))
	m := mp.Meter("metaflow-test")
	ctr, _ := m.Int64Counter("orders")
	ctr.Add(ctx, 5, metricAttr("kind", "book"))
	ctr.Add(ctx, 2, metricAttr("kind", "book"))
	ctr.Add(ctx, 1, metricAttr("kind", "pen"))
	hist, _ := m.Float64Histogram("latency", metricHist([]float64{1, 10}))
	for _, v := range []float64{0.5, 3, 4, 20} {
		hist.Record(ctx, v)
	}
	g, _ := m.Float64Gauge("temperature")
	g.Record(ctx, 21.5)
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	web1, _ := ts.st.Dict().Lookup("pod", "web-1")
	shop, _ := ts.st.Dict().Lookup("pod_ns", "shop")

	// A resource named only by its IP takes the tags the agent's records
	// carry for that address (10.0.0.8 serves as pod web-1 in agentWeb1).
	mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp2(t, ts), sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("host.ip", "10.0.0.8"))))
	g2, _ := mp2.Meter("metaflow-test").Int64Gauge("by_ip")
	g2.Record(ctx, 3)
	if err := mp2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var pod, ns uint32
	if err := ts.st.DB().QueryRow(`SELECT pod_id, pod_ns_id FROM ext_metrics WHERE metric = 'by_ip' AND value = 3`).Scan(&pod, &ns); err != nil {
		t.Fatal(err)
	}
	if pod != web1 || ns != shop || web1 == 0 {
		t.Fatalf("by_ip: pod %d ns %d, want web-1 %d shop %d", pod, ns, web1, shop)
	}

	rows, err := ts.st.DB().Query(`SELECT metric, value, COALESCE(CAST(labels AS VARCHAR), ''), pod_id, source FROM ext_samples WHERE metric <> 'by_ip' ORDER BY metric, value`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, labels, source string
		var v float64
		var pod uint32
		if err := rows.Scan(&name, &v, &labels, &pod, &source); err != nil {
			t.Fatal(err)
		}
		if pod != web1 || source != "otlp" {
			t.Errorf("%s: pod id %d (web-1 is %d), source %q", name, pod, web1, source)
		}
		got = append(got, name+labels+"="+strconvF(v))
	}
	want := []string{
		"latency_bucket{le=1}=1", "latency_bucket{le=10}=3", "latency_bucket{le=+Inf}=4", "latency_count=4", "latency_sum=27.5",
		"orders{kind=pen}=1", "orders{kind=book}=7", "temperature=21.5",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

// TestServer_ExtBadInput: refusals get their 4xx, are counted, and store
// nothing.
func TestServer_ExtBadInput(t *testing.T) {
	ts := startServer(t, options{db: ":memory:", token: extToken, maxExt: 4 << 10})
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	line := []byte("cpu,host=a usage=1 1700000000000000000\n")
	cases := []struct {
		name, path, ctype, enc, auth string
		body                         []byte
		code                         int
	}{
		{"no token", ingest.OTLPTracesPath, "application/x-protobuf", "", "", []byte{}, 401},
		{"wrong token", ingest.InfluxV2Path, "text/plain", "", "Token nope", line, 401},
		{"otlp content type", ingest.OTLPTracesPath, "text/plain", "", "Bearer " + extToken, []byte("x"), 415},
		{"otlp garbage", ingest.OTLPTracesPath, "application/x-protobuf", "", "Bearer " + extToken, []byte{0x0a, 0xff, 0xff, 0x01}, 400},
		{"otlp bad json", ingest.OTLPMetricsPath, "application/json", "", "Bearer " + extToken, []byte(`{"resourceMetrics":[{`), 400},
		{"otlp brotli", ingest.OTLPMetricsPath, "application/x-protobuf", "br", "Bearer " + extToken, []byte{1}, 415},
		{"oversized", ingest.InfluxV2Path, "text/plain", "", "Bearer " + extToken, bytes.Repeat(line, 200), 413},
		{"gzip bomb", ingest.InfluxV2Path, "text/plain", "gzip", "Bearer " + extToken, bomb.Bytes(), 413},
		{"bad gzip", ingest.InfluxV2Path, "text/plain", "gzip", "Bearer " + extToken, line, 400},
		{"influx half bad", ingest.InfluxV2Path, "text/plain", "", "Bearer " + extToken, append(append([]byte{}, line...), "cpu usage=\n"...), 400},
		{"influx precision", ingest.InfluxV2Path + "?precision=d", "text/plain", "", "Bearer " + extToken, line, 400},
		{"influx json", ingest.InfluxV1Path, "application/json", "", "Bearer " + extToken, line, 415},
		{"rw not snappy", ingest.RemoteWritePath, "application/x-protobuf", "", "Bearer " + extToken, []byte{}, 415},
		{"rw v2", ingest.RemoteWritePath, "application/x-protobuf;proto=io.prometheus.write.v2.Request", "snappy", "Bearer " + extToken, []byte{0}, 415},
		{"rw bad snappy", ingest.RemoteWritePath, "application/x-protobuf", "snappy", "Bearer " + extToken, []byte{0xff, 0xff, 0xff}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ts.url+tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if tc.enc != "" {
				req.Header.Set("Content-Encoding", tc.enc)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
	resp, err := http.Get(ts.url + ingest.InfluxV1Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	st := ts.ext.Stats()
	if st.Unauthorized != 2 || st.Unsupported != 6 || st.TooLarge != 2 || st.BadRequest != 6 || st.Requests != uint64(len(cases))+1 {
		t.Fatalf("stats %+v", st)
	}
	var n int
	ts.st.DB().QueryRow(`SELECT (SELECT count(*) FROM ext_metrics) + (SELECT count(*) FROM l7_flow_log)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows stored from refused requests", n)
	}
}

func metricAttr(k, v string) metric.AddOption { return metric.WithAttributes(attribute.String(k, v)) }

func metricHist(bounds []float64) metric.Float64HistogramOption {
	return metric.WithExplicitBucketBoundaries(bounds...)
}

func strconvF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// TestServer_OTLPGRPCFlag runs the command with -otlp-grpc and -max-ext:
// spans sent to the gRPC listener show in /api/v1/stats.
func TestServer_OTLPGRPCFlag(t *testing.T) {
	httpAddr, grpcAddr := portIn(t, 41050, 41074), portIn(t, 41075, 41099)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs strings.Builder
	go func() {
		done <- runContext(ctx, []string{"-listen", httpAddr, "-db", ":memory:", "-token", extToken,
			"-otlp-grpc", grpcAddr, "-max-ext", "100000"}, &lockedWriter{w: &logs})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var st Stats
	deadline := time.Now().Add(20 * time.Second)
	for getJSONQuiet("http://"+httpAddr+"/api/v1/stats", extToken, &st) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": "Bearer " + extToken}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resourceWeb1(t)))
	makeSpans(t, tp)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if getJSONQuiet("http://"+httpAddr+"/api/v1/stats", extToken, &st) != 200 || st.Ecosystem.Spans != 3 || st.EcosystemStore.Spans != 3 {
		t.Fatalf("stats after 3 spans over gRPC: %+v %+v", st.Ecosystem, st.EcosystemStore)
	}
	// -max-ext bounds HTTP bodies.
	req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+ingest.InfluxV2Path, strings.NewReader(strings.Repeat("m v=1\n", 20000)))
	req.Header.Set("Authorization", "Token "+extToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("120,000 bytes with -max-ext 100000: %d", resp.StatusCode)
	}
}

func getJSONQuiet(u, token string, v any) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		if json.NewDecoder(resp.Body).Decode(v) != nil {
			return 0
		}
	}
	return resp.StatusCode
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func exp2(t testing.TB, ts *testServer) sdkmetric.Exporter {
	exp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpoint(strings.TrimPrefix(ts.url, "http://")),
		otlpmetrichttp.WithInsecure(), otlpmetrichttp.WithHeaders(map[string]string{"Authorization": "Bearer " + extToken}))
	if err != nil {
		t.Fatal(err)
	}
	return exp
}
