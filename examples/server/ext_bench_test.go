package main

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metaflow-go/metaflow/examples/server/ingest"
)

// benchWriteRequest is a remote write request of n series (8 labels each,
// 20 targets) with one sample each, as a Prometheus shard sends them.
func benchWriteRequest(n int, ts int64) []byte {
	var out []byte
	for i := range n {
		labels := []string{"__name__", fmt.Sprintf("node_metric_%d", i%50), "job", "node", "instance", fmt.Sprintf("10.0.%d.%d:9100", i%20/250, i%20),
			"cpu", fmt.Sprint(i % 8), "mode", []string{"user", "system", "idle", "iowait"}[i%4], "pod", fmt.Sprintf("node-exporter-%d", i%20),
			"namespace", "monitoring", "series", fmt.Sprint(i)}
		var s []byte
		for j := 0; j < len(labels); j += 2 {
			var l []byte
			l = protowire.AppendTag(l, 1, protowire.BytesType)
			l = protowire.AppendString(l, labels[j])
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendString(l, labels[j+1])
			s = protowire.AppendTag(s, 1, protowire.BytesType)
			s = protowire.AppendBytes(s, l)
		}
		var sm []byte
		sm = protowire.AppendTag(sm, 1, protowire.Fixed64Type)
		sm = protowire.AppendFixed64(sm, math.Float64bits(float64(i)*1.5))
		sm = protowire.AppendTag(sm, 2, protowire.VarintType)
		sm = protowire.AppendVarint(sm, uint64(ts))
		s = protowire.AppendTag(s, 2, protowire.BytesType)
		s = protowire.AppendBytes(s, sm)
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, s)
	}
	return snappy.Encode(nil, out)
}

// benchSpans is an OTLP request of n HTTP server spans of 10 services
// (typical attributes: method, path, route, status, peer, user agent, two
// custom ones), protobuf-encoded.
func benchSpans(n int) []byte {
	td := ptrace.NewTraces()
	now := time.Now().UnixNano()
	for svc := range 10 {
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprintf("svc-%d", svc))
		ra.PutStr("k8s.pod.name", fmt.Sprintf("svc-%d-0", svc))
		ra.PutStr("k8s.namespace.name", "shop")
		ra.PutStr("host.name", "node-a")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range n / 10 {
			sp := spans.AppendEmpty()
			var tid pcommon.TraceID
			var sid pcommon.SpanID
			for k := range 8 {
				tid[k], tid[8+k], sid[k] = byte(i>>(8*k)), byte(svc+k), byte(i>>(8*k))^byte(svc)
			}
			sp.SetTraceID(tid)
			sp.SetSpanID(sid)
			sp.SetParentSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)})
			sp.SetName("GET /items/{id}")
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetStartTimestamp(pcommon.Timestamp(now + int64(i)*1000))
			sp.SetEndTimestamp(pcommon.Timestamp(now + int64(i)*1000 + 250_000))
			a := sp.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("url.path", fmt.Sprintf("/items/%d", i))
			a.PutStr("http.route", "/items/{id}")
			a.PutInt("http.response.status_code", int64(200+(i%10)/9*300))
			a.PutStr("client.address", fmt.Sprintf("10.1.%d.%d", i%250/250, i%250))
			a.PutInt("server.port", 8080)
			a.PutStr("user_agent.original", "Go-http-client/1.1")
			a.PutStr("app.tenant", "acme")
			a.PutInt("app.items", int64(i%7))
		}
	}
	b, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	return b
}

func benchPost(b *testing.B, url, ct, enc string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkServer_Ecosystem posts remote write requests of 2,000 samples
// and OTLP requests of 1,000 spans to a server on a DuckDB file: decoding,
// tag resolution and one transaction per request. It reports rows/s and
// the CPU time (all threads) per 100,000 rows.
func BenchmarkServer_Ecosystem(b *testing.B) {
	ts := startServer(b, options{db: filepath.Join(b.TempDir(), "bench.duckdb"), maxExt: 64 << 20})
	cases := []struct {
		name, path, ct, enc string
		rows                int
		body                func(i int) []byte
	}{
		{"remote_write", ingest.RemoteWritePath, "application/x-protobuf", "snappy", 2000,
			func(i int) []byte { return benchWriteRequest(2000, time.Now().UnixMilli()+int64(i)) }},
		{"otlp_spans", ingest.OTLPTracesPath, "application/x-protobuf", "", 1000, func(int) []byte { return benchSpans(1000) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			bodies := make([][]byte, 4)
			for i := range bodies {
				bodies[i] = c.body(i)
			}
			b.SetBytes(int64(len(bodies[0])))
			b.ReportAllocs()
			rows, i := 0, 0
			cpu0, t0 := cpuTime(), time.Now()
			for b.Loop() {
				benchPost(b, ts.url+c.path, c.ct, c.enc, bodies[i%len(bodies)])
				rows += c.rows
				i++
			}
			el, cpu := time.Since(t0), cpuTime()-cpu0
			b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Milliseconds())*100000/float64(rows), "cpu-ms/100k-rows")
		})
	}
}
