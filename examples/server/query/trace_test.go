package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// traceServer is a store holding a proxy's inbound call (seen at two
// capture points), its outbound call (X-Request-ID and a traceparent), an
// OTel server span of the callee and an unrelated call, served by the trace
// endpoint.
func traceServer(t *testing.T, token string) (*httptest.Server, map[string]int64) {
	t.Helper()
	st, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const t0 = int64(1_796_000_000_000_000_000)
	const ms = int64(1_000_000)
	rows := []struct {
		name                          string
		start, end                    int64
		ip0, ip1                      string
		port0, port1                  int
		req, resp                     int64
		xreq0, xreq1                  string
		traceID, spanID, parentSpanID string
		tapSide, kind, source         any
	}{
		{"in-c", t0, t0 + 30*ms, "10.0.0.1", "10.0.0.2", 40000, 80, 100, 200, "", "r1", "", "", "", nil, nil, nil},
		{"in-s", t0 + ms/10, t0 + 30*ms - ms/10, "10.0.0.1", "10.0.0.2", 40000, 80, 100, 200, "", "r1", "", "", "", nil, nil, nil},
		{"out", t0 + ms, t0 + 29*ms, "10.0.0.2", "10.0.0.3", 41000, 8000, 300, 400, "r1", "", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "", nil, nil, nil},
		{"app", t0 + 2*ms, t0 + 28*ms, "", "", 0, 0, 0, 0, "", "", "4bf92f3577b34da6a3ce929d0e0e4736", "a000000000000001", "00f067aa0ba902b7", "s-app", "server", "OTel"},
		{"other", t0 + 5*ms, t0 + 6*ms, "10.0.0.3", "10.0.0.4", 42000, 6379, 500, 600, "", "", "", "", "", nil, nil, nil},
		// A DNS query seen at two capture points (UDP: req and resp 0).
		{"dns-c", t0 + 7*ms, t0 + 8*ms, "10.0.0.2", "10.0.0.9", 5353, 53, 0, 0, "", "", "", "", "", nil, nil, nil},
		{"dns-s", t0 + 7*ms + ms/10, t0 + 8*ms, "10.0.0.2", "10.0.0.9", 5353, 53, 0, 0, "", "", "", "", "", nil, nil, nil},
	}
	ids := map[string]int64{}
	for _, r := range rows {
		var ip0, ip1 any
		proto, l7proto := 6, "HTTP"
		if strings.HasPrefix(r.name, "dns") {
			proto, l7proto = 17, "DNS"
		}
		if r.ip0 != "" {
			ip0, ip1 = r.ip0, r.ip1
		}
		_, err := st.DB().Exec(`INSERT INTO l7_flow_log (batch_seq, flow_id, start_time, end_time, ip_0, ip_1, client_port, server_port,
			protocol, l7_protocol, req_tcp_seq, resp_tcp_seq, request_type, endpoint, response_status, response_code,
			x_request_id_0, x_request_id_1, trace_id, span_id, parent_span_id, tap_side, span_kind, signal_source)
			VALUES (1, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'GET', '/'||?, 0, 200, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.start, r.end, ip0, ip1, r.port0, r.port1, proto, l7proto, r.req, r.resp, r.name, r.xreq0, r.xreq1, r.traceID, r.spanID, r.parentSpanID, r.tapSide, r.kind, r.source)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := st.DB().QueryRow(`SELECT rowid FROM l7_flow_log WHERE endpoint = '/'||?`, r.name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[r.name] = id + 1 // span ids are rowid + 1
	}
	a := New(st, token)
	mux := http.NewServeMux()
	a.registerTrace(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, ids
}

func get(t *testing.T, srv *httptest.Server, q url.Values, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/trace?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// shape renders a trace answer as "endpoint<parent endpoint:rule" lines.
func shape(t *testing.T, b []byte) []string {
	t.Helper()
	var ans TraceAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var out []string
	for _, s := range ans.Spans {
		p := "-"
		if s.Parent >= 0 {
			p = ans.Spans[s.Parent].Endpoint
			if ans.Spans[s.Parent].ID != s.ParentID {
				t.Fatalf("parent_id %d, parent's id %d", s.ParentID, ans.Spans[s.Parent].ID)
			}
		}
		out = append(out, fmt.Sprintf("%s<%s:%s", s.Endpoint, p, s.Rule))
	}
	return out
}

func TestTrace_Endpoint(t *testing.T) {
	srv, ids := traceServer(t, "")
	cases := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"from the inbound call", url.Values{"id": {fmt.Sprint(ids["in-s"])}},
			[]string{"/in-c<-:", "/in-s</in-c:tcp_seq", "/out</in-s:x_request_id", "/app</out:app_id"}},
		{"from the app span", url.Values{"id": {fmt.Sprint(ids["app"])}},
			[]string{"/in-c<-:", "/in-s</in-c:tcp_seq", "/out</in-s:x_request_id", "/app</out:app_id"}},
		{"by x_request_id, zero-code", url.Values{"x_request_id": {"r1"}, "zero_code": {"true"}},
			[]string{"/in-c<-:", "/in-s</in-c:tcp_seq", "/out</in-s:x_request_id"}},
		{"by trace_id", url.Values{"trace_id": {"4bf92f3577b34da6a3ce929d0e0e4736"}},
			[]string{"/in-c<-:", "/in-s</in-c:tcp_seq", "/out</in-s:x_request_id", "/app</out:app_id"}},
		{"unrelated call alone", url.Values{"id": {fmt.Sprint(ids["other"])}}, []string{"/other<-:"}},
		{"udp at two points", url.Values{"id": {fmt.Sprint(ids["dns-s"])}}, []string{"/dns-c<-:", "/dns-s</dns-c:tcp_seq"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, b := get(t, srv, tc.q, "")
			if code != 200 {
				t.Fatalf("%d %s", code, b)
			}
			if got := shape(t, b); !slices.Equal(got, tc.want) {
				t.Fatalf("tree %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("otlp", func(t *testing.T) {
		code, b := get(t, srv, url.Values{"id": {fmt.Sprint(ids["out"])}, "format": {"otlp"}}, "")
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		var doc struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						TraceID, SpanID, ParentSpanID string
					}
				}
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, rs := range doc.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if s.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
						t.Fatalf("trace id %q", s.TraceID)
					}
					n++
				}
			}
		}
		if n != 4 {
			t.Fatalf("%d spans: %s", n, b)
		}
	})
}

func TestTrace_EndpointErrors(t *testing.T) {
	srv, _ := traceServer(t, "")
	cases := []struct {
		q    string
		code int
	}{
		{"", 400},
		{"id=1&trace_id=x", 400},
		{"id=-1", 400},
		{"id=0", 400},
		{"id=abc", 400},
		{"id=1&id=2", 400},
		{"id=1&bogus=1", 400},
		{"trace_id=" + strings.Repeat("a", 300), 400},
		{"id=1&format=xml", 400},
		{"id=1&zero_code=maybe", 400},
		{"id=1&max_spans=0", 400},
		{"id=1&max_rounds=1000", 400},
		{"id=1&from=2026-12-04T00:00:00Z&to=2026-12-03T00:00:00Z", 400},
		{"id=1&from=yesterday", 400},
		{"id=999999", 404},
		{"x_request_id=nope", 404},
		{"id=1&max_spans=1&max_rounds=1", 200},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.q)
		if code, b := get(t, srv, q, ""); code != tc.code {
			t.Errorf("%q: %d %s, want %d", tc.q, code, b, tc.code)
		}
	}
	tsrv, ids := traceServer(t, "secret")
	q := url.Values{"id": {fmt.Sprint(ids["in-c"])}}
	if code, _ := get(t, tsrv, q, ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := get(t, tsrv, q, "secret"); code != 200 {
		t.Fatalf("token: %d", code)
	}
}

func FuzzTraceParams(f *testing.F) {
	for _, s := range []string{"id=1", "trace_id=abc&format=otlp", "x_request_id=r1&zero_code=1&max_spans=5", "id=1&from=0&to=5", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/api/v1/trace", nil)
		r.URL.RawQuery = raw
		seed, cfg, _, err := traceRequest(r)
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) {
				t.Fatalf("error not a bad request: %v", err)
			}
			return
		}
		if seed.Empty() || cfg.MaxSpans > traceMaxSpans || cfg.MaxRounds > traceMaxRounds {
			t.Fatalf("accepted %q: %+v %+v", raw, seed, cfg)
		}
		for _, k := range append(seed.TraceIDs, seed.XRequestIDs...) {
			if len(k) > traceMaxKey {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
	})
}
