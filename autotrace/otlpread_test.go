package autotrace

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const otlpLine = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"go"}},{"key":"process.pid","value":{"intValue":"7"}}]},
"scopeSpans":[{"scope":{"name":"x"},"spans":[
{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"a000000000000001","parentSpanId":"","name":"GET /item","kind":2,"startTimeUnixNano":"1796000000000000000","endTimeUnixNano":"1796000000030000000",
 "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/item"}},
 {"key":"network.local.address","value":{"stringValue":"10.0.0.2"}},{"key":"network.local.port","value":{"intValue":"8000"}},
 {"key":"network.peer.address","value":{"stringValue":"10.0.0.1"}},{"key":"network.peer.port","value":{"intValue":40000}}]},
{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"a000000000000002","parentSpanId":"a000000000000001","name":"GET","kind":3,"startTimeUnixNano":"1796000000010000000","endTimeUnixNano":"1796000000015000000",
 "attributes":[{"key":"db.system","value":{"stringValue":"redis"}},{"key":"db.statement","value":{"stringValue":"GET k"}},
 {"key":"network.local.address","value":{"stringValue":"10.0.0.2"}},{"key":"network.local.port","value":{"intValue":"50011"}},
 {"key":"network.peer.address","value":{"stringValue":"10.0.0.3"}},{"key":"network.peer.port","value":{"intValue":"6379"}}],"status":{"code":2}}
]}]}]}`

func TestParseOTLPJSON(t *testing.T) {
	spans, err := ParseOTLPJSON([]byte(otlpLine), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	srv, cli := spans[0], spans[1]
	if srv.ID != 5 || srv.TapSide != ServerApp || srv.Client != ap("10.0.0.1:40000") || srv.Server != ap("10.0.0.2:8000") ||
		srv.Service1 != "go" || srv.L7Protocol != "HTTP" || srv.Endpoint != "/item" || srv.Start != 1796000000000000000 {
		t.Fatalf("server span %+v", srv)
	}
	if cli.ID != 6 || cli.TapSide != ClientApp || cli.Client != ap("10.0.0.2:50011") || cli.Server != ap("10.0.0.3:6379") ||
		cli.Service0 != "go" || cli.L7Protocol != "Redis" || cli.ParentSpanID != srv.SpanID || cli.ResponseStatus != "ServerError" {
		t.Fatalf("client span %+v", cli)
	}
	for _, bad := range []string{`{`, `{"resourceSpans":{}}`, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"x"}]}]}]}`} {
		if _, err := ParseOTLPJSON([]byte(bad), 1); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	one := strings.ReplaceAll(otlpLine, "\n", "")
	all, err := ReadOTLPJSON(strings.NewReader(one+"\n\n"+one+"\n"), 1)
	if err != nil || len(all) != 4 || all[3].ID != 4 {
		t.Fatalf("%d spans, %v", len(all), err)
	}
}

func FuzzParseOTLPJSON(f *testing.F) {
	f.Add([]byte(otlpLine))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":5,"startTimeUnixNano":1}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := ParseOTLPJSON(b, 1)
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatal(err)
			}
			return
		}
		tr := Assemble(spans, Config{})
		if len(tr.Nodes) != len(spans) {
			t.Fatalf("%d nodes of %d spans", len(tr.Nodes), len(spans))
		}
	})
}

// appFlowSpans is a thread-per-request server observed by eBPF (s-p 10
// and three c-p calls 11-13), and its OTel spans naming their sockets: a
// SERVER span (100) on the inbound flow and a CLIENT span per call
// (101-103).
func appFlowSpans() []Span {
	spans := threadServer(10, 7, 1000, t0, 3)
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	srv := spans[0]
	spans = append(spans, Span{ID: 100, TapSide: ServerApp, TraceID: tid, SpanID: "a000000000000001",
		Client: srv.Client, Server: srv.Server, Start: srv.Start + ms/10, End: srv.End})
	for i, c := range spans[1:4] {
		spans = append(spans, Span{ID: 101 + uint64(i), TapSide: ClientApp, TraceID: tid, SpanID: "b00000000000000" + string(rune('1'+i)),
			ParentSpanID: "a000000000000001", Client: c.Client, Server: c.Server, Start: c.Start - ms/20, End: c.End + ms/20})
	}
	return spans
}

func TestAssemble_AppFlows(t *testing.T) {
	spans := appFlowSpans()
	tr := Assemble(spans, Config{})
	checkForest(t, tr, 8)
	want := []string{"10>100:app_id", "100>101:app_id", "100>102:app_id", "100>103:app_id", "101>11:app_id", "102>12:app_id", "103>13:app_id"}
	slices.Sort(want)
	if got := edgeSet(tr); !slices.Equal(got, want) {
		t.Fatalf("edges = %v, want %v", got, want)
	}
	if tr.Calls != 4 || len(tr.Roots()) != 1 {
		t.Fatalf("calls %d roots %d", tr.Calls, len(tr.Roots()))
	}
	// Zero-code: the same tree without the application spans.
	zc := Assemble(spans, Config{IgnoreAppIDs: true})
	if got := edgeSet(zc); !slices.Equal(got, []string{"10>11:syscall", "10>12:syscall", "10>13:syscall"}) {
		t.Fatalf("zero-code edges = %v", got)
	}
}

func TestSearch_AppFlows(t *testing.T) {
	// From an eBPF span, the search meets the OTel spans of the calls by
	// their sockets; zero-code, it leaves them out.
	m := NewMemStore()
	if err := m.Add(appFlowSpans()...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg   Config
		nodes int
	}{{Config{}, 8}, {Config{IgnoreAppIDs: true}, 4}} {
		tr, _, err := Build(t.Context(), m, &Query{IDs: []uint64{12}}, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Nodes) != tc.nodes || len(tr.Roots()) != 1 {
			t.Fatalf("%+v: %d nodes, %d roots: %v", tc.cfg, len(tr.Nodes), len(tr.Roots()), edgeSet(tr))
		}
	}
}
