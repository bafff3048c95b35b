package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/autotrace"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

// demoFile reads and decompresses autotrace's demo recording file.
func demoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../autotrace/testdata/demo/" + name + ".zst")
	if os.IsNotExist(err) {
		t.Skipf("no demo recording %s", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTrace_DemoRecording stores the 1-client demo recording (records and
// the Go service's OTel spans) as l7_flow_log rows, with the columns the
// store has, and asks the trace endpoint for a client request's trace.
// The rows are inserted without process ids or tap sides (an agent that
// sends none), so the syscall rule has nothing to work with: the trace
// joins the observations of each call (tcp_seq), nginx's hop
// (x_request_id) and, with OTel, the Go service's spans (app_id and their
// sockets). TestTrace_DemoEndToEnd sends them all.
func TestTrace_DemoRecording(t *testing.T) {
	recs, err := autotrace.ReadRecords(bytes.NewReader(demoFile(t, "records-1c.jsonl")), 1)
	if err != nil {
		t.Fatal(err)
	}
	app, err := autotrace.ReadOTLPJSON(bytes.NewReader(demoFile(t, "otel-1c.jsonl")), uint64(len(recs))+1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const cols = `batch_seq, flow_id, start_time, end_time, ip_0, ip_1, client_port, server_port, protocol, l7_protocol,
		req_tcp_seq, resp_tcp_seq, request_type, request_resource, endpoint, x_request_id_0, x_request_id_1,
		trace_id, span_id, parent_span_id, syscall_trace_id_request, syscall_trace_id_response, tap_side, span_kind, signal_source`
	const n = 25
	tx, err := st.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	// The first 3 s of the recording (enough requests, a quick insert).
	var all []autotrace.Span
	t0 := recs[0].Start
	for _, s := range recs {
		t0 = min(t0, s.Start)
	}
	for _, s := range append(recs, app...) {
		if s.Start < t0+3e9 {
			all = append(all, s)
		}
	}
	for i := 0; i < len(all); i += 200 {
		chunk := all[i:min(i+200, len(all))]
		var args []any
		for _, s := range chunk {
			proto := 6
			if s.Transport == "UDP" {
				proto = 17
			}
			var tap, kind, source any
			if s.TapSide.IsApp() {
				tap, source = s.TapSide.String(), "OTel"
				kind = map[autotrace.TapSide]string{autotrace.ServerApp: "server", autotrace.ClientApp: "client"}[s.TapSide]
			}
			args = append(args, 1, s.FlowID, s.Start, s.End, s.Client.Addr().String(), s.Server.Addr().String(),
				s.Client.Port(), s.Server.Port(), proto, s.L7Protocol, s.ReqTCPSeq, s.RespTCPSeq, s.RequestType,
				s.RequestResource, first(s.Endpoint, s.Name), s.XRequestID0, s.XRequestID1, s.TraceID, s.SpanID, s.ParentSpanID,
				s.SyscallTraceIDRequest, s.SyscallTraceIDResponse, tap, kind, source)
		}
		q := "INSERT INTO l7_flow_log (" + cols + ") VALUES " +
			strings.TrimSuffix(strings.Repeat("("+strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+"), ", len(chunk)), ", ")
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	a := New(st, "")
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The load generator's request for /order: its row id.
	var id int64
	if err := st.DB().QueryRow(`SELECT rowid + 1 FROM l7_flow_log WHERE server_port = 80 AND x_request_id_1 <> '' ORDER BY start_time LIMIT 1 OFFSET 10`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		zeroCode bool
		rules    []string
	}{{true, []string{"tcp_seq", "x_request_id"}}, {false, []string{"tcp_seq", "x_request_id"}}} {
		code, b := get(t, srv, url.Values{"id": {fmt.Sprint(id)}, "zero_code": {fmt.Sprint(tc.zeroCode)}}, "")
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var ans TraceAnswer
		if err := json.Unmarshal(b, &ans); err != nil {
			t.Fatal(err)
		}
		rules := map[string]int{}
		ports := map[uint16]bool{}
		for _, s := range ans.Spans {
			rules[s.Rule]++
			if s.Server != "" {
				var p uint16
				fmt.Sscanf(s.Server[strings.LastIndexByte(s.Server, ':')+1:], "%d", &p)
				ports[p] = true
			}
		}
		t.Logf("zero_code=%v: %d spans, %d calls, %d rounds, links %v", tc.zeroCode, len(ans.Spans), ans.Calls, ans.Rounds, rules)
		for _, r := range tc.rules {
			if rules[r] == 0 {
				t.Errorf("zero_code=%v: no %s link: %v", tc.zeroCode, r, rules)
			}
		}
		// The client's call to nginx and nginx's to Python, each seen
		// at several points.
		if !ports[80] || !ports[8000] || ans.Calls < 2 || len(ans.Roots) != 1 {
			t.Errorf("zero_code=%v: ports %v, %d calls, roots %v", tc.zeroCode, ports, ans.Calls, ans.Roots)
		}
	}
	// From the Python -> Go call, with OTel: the Go service's spans.
	var goID int64
	if err := st.DB().QueryRow(`SELECT rowid + 1 FROM l7_flow_log WHERE server_port = 8080 AND signal_source IS NULL ORDER BY start_time LIMIT 1 OFFSET 10`).Scan(&goID); err != nil {
		t.Fatal(err)
	}
	code, b := get(t, srv, url.Values{"id": {fmt.Sprint(goID)}}, "")
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var ans TraceAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	sides := map[string]int{}
	for _, s := range ans.Spans {
		sides[s.TapSide]++
	}
	t.Logf("python -> go call with OTel: %d spans, %d calls, tap sides %v", len(ans.Spans), ans.Calls, sides)
	if sides["s-app"] != 1 || sides["c-app"] < 3 || len(ans.Roots) != 1 {
		t.Errorf("tap sides %v, roots %v", sides, ans.Roots)
	}
}
