package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/examples/server/query"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

// testServer is the server on a random localhost port.
type RED = query.RED

type testServer struct {
	*server
	url string
	hs  *http.Server
}

func startServer(t testing.TB, o options) *testServer {
	t.Helper()
	s, err := newServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{server: s, url: "http://" + ln.Addr().String(), hs: &http.Server{Handler: s.mux}}
	go ts.hs.Serve(ln)
	t.Cleanup(func() {
		ts.hs.Close()
		s.st.Close()
	})
	return ts
}

// tagStage tags records as an AutoTagging stage would: the client side
// with a pod named after its address, the server side with a service
// named after its port.
type tagStage struct{}

func (tagStage) ProcessL4(r *flow.Record) bool {
	r.Tags.Set(tag.Client, "pod", "pod-"+r.IP0.String())
	r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(int(r.ServerPort)))
	return true
}

func (tagStage) ProcessL7(r *l7.Record) bool {
	r.Tags.Set(tag.Client, "pod", "pod-"+r.Client.Addr().String())
	r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(int(r.Server.Port())))
	return true
}

// jsonCollector keeps what the agent's JSON sink prints, parsed.
type jsonCollector struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	sink   *pipeline.WriterSink
	l4, l7 []map[string]any
}

func (c *jsonCollector) parse(t testing.TB) {
	dec := json.NewDecoder(&c.buf)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch m["type"] {
		case "l4_flow_log":
			c.l4 = append(c.l4, m)
		case "l7_flow_log":
			c.l7 = append(c.l7, m)
		default:
			t.Fatalf("record of type %v", m["type"])
		}
	}
}

// replay runs the agent's pipeline on pcap with a JSON sink and the
// server's sink, then waits for every batch to be acknowledged.
func replay(t testing.TB, pcap, serverURL, token string) (*jsonCollector, sender.Stats) {
	t.Helper()
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	dict := encoding.NewAgentDict()
	snd, err := sender.New(sender.Config{URL: serverURL, Token: token, Dir: t.TempDir(), Dict: dict, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	if err != nil {
		t.Fatal(err)
	}
	jc := &jsonCollector{}
	jc.sink = pipeline.NewJSONSink(&jc.buf)
	cfg := pipeline.Config{
		Shards: 1,
		Source: src,
		Stages: []pipeline.Stage{tagStage{}},
		Sinks:  []pipeline.SinkConfig{{Sink: jc.sink}, {Sink: encoding.NewSink(enc, 512, snd.Send)}},
	}
	cfg.L7.Registry = reg
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := snd.Flush(ctx); err != nil {
		t.Fatalf("%v (last error %v)", err, snd.LastError())
	}
	jc.parse(t)
	return jc, snd.Stats()
}

func getJSON(t testing.TB, u, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// allRows pages through a search endpoint.
func allRows(t testing.TB, ts *testServer, path, token string, q url.Values) []map[string]any {
	t.Helper()
	var out []map[string]any
	q.Set("limit", "7") // small pages: the cursor is exercised
	for {
		var p struct {
			Rows []map[string]any
			Next string
		}
		if code := getJSON(t, ts.url+path+"?"+q.Encode(), token, &p); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		out = append(out, p.Rows...)
		q.Set("limit", "5000")
		if p.Next == "" {
			return out
		}
		q.Set("cursor", p.Next)
	}
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// l7Key is what must match between the agent's JSON and the store.
func l7Key(m map[string]any) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", str(m["ip_0"]), str(m["ip_1"]), str(m["client_port"]), str(m["server_port"]),
		str(m["l7_protocol"]), str(m["request_type"]), str(m["request_resource"]), str(m["response_code"]), str(m["trace_id"]),
		str(m["pod_0"]), str(m["service_1"]))
}

func l4Key(m map[string]any) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s", str(m["ip_0"]), str(m["ip_1"]), str(m["client_port"]), str(m["server_port"]),
		str(m["l7_protocol"]), str(m["packet_tx"]), str(m["byte_rx"]), str(m["pod_0"]), str(m["service_1"]))
}

func keys(ms []map[string]any, key func(map[string]any) string) []string {
	var out []string
	for _, m := range ms {
		out = append(out, key(m))
	}
	sort.Strings(out)
	return out
}

func diff(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d stored, the agent printed %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d differs\nstored: %s\nagent:  %s", what, i, got[i], want[i])
		}
	}
}

func TestServer_EndToEnd(t *testing.T) {
	const token = "s3cret"
	ts := startServer(t, options{db: filepath.Join(t.TempDir(), "e2e.duckdb"), token: token, maxBytes: 64 << 20})
	pcaps, _ := filepath.Glob("../../testdata/l7/*.pcap")
	if len(pcaps) < 5 {
		t.Fatalf("captures: %v", pcaps)
	}
	var all4, all7 []map[string]any
	for _, pcap := range pcaps {
		jc, st := replay(t, pcap, ts.url, token)
		if st.Refused != 0 || st.Dropped != 0 || st.Acked != st.Batches {
			t.Fatalf("%s: sender %+v", pcap, st)
		}
		all4 = append(all4, jc.l4...)
		all7 = append(all7, jc.l7...)
	}
	if len(all7) < 1000 || len(all4) < 50 {
		t.Fatalf("only %d l4 and %d l7 records", len(all4), len(all7))
	}
	// Every row, read back through the query API with its tags as
	// strings, equals what the agent printed.
	diff(t, "l7_flow_log", keys(allRows(t, ts, "/api/v1/l7", token, url.Values{}), l7Key), keys(all7, l7Key))
	diff(t, "l4_flow_log", keys(allRows(t, ts, "/api/v1/l4", token, url.Values{}), l4Key), keys(all4, l4Key))

	// A tag filter by string: the requests to svc-6379 are Redis's.
	var want []map[string]any
	for _, m := range all7 {
		if m["service_1"] == "svc-6379" {
			want = append(want, m)
		}
	}
	q := url.Values{"service_1": {"svc-6379"}}
	got := allRows(t, ts, "/api/v1/l7", token, q)
	if len(want) < 100 {
		t.Fatalf("%d redis records", len(want))
	}
	diff(t, "l7 service_1=svc-6379", keys(got, l7Key), keys(want, l7Key))
	if rows := allRows(t, ts, "/api/v1/l7", token, url.Values{"service_1": {"no-such-service"}}); len(rows) != 0 {
		t.Fatalf("unknown service: %d rows", len(rows))
	}
	// Service map: the client -> server pairs of the l7 records.
	wantEdges := map[string]int64{}
	for _, m := range all7 {
		wantEdges[str(m["pod_0"])+" -> "+str(m["service_1"])+" "+str(m["l7_protocol"])]++
	}
	var sm struct{ Edges []query.Edge }
	if code := getJSON(t, ts.url+"/api/v1/servicemap?from=0&to="+strconv.FormatInt(time.Now().Add(time.Hour).UnixNano(), 10), token, &sm); code != 200 {
		t.Fatalf("servicemap: %d", code)
	}
	gotEdges := map[string]int64{}
	for _, e := range sm.Edges {
		gotEdges[e.Client+" -> "+e.Server+" "+e.L7Protocol] += e.Requests
	}
	if fmt.Sprint(gotEdges) != fmt.Sprint(wantEdges) {
		t.Fatalf("service map\ngot:  %v\nwant: %v", gotEdges, wantEdges)
	}
	var red struct{ Rows []RED }
	if code := getJSON(t, ts.url+"/api/v1/red?group=endpoint&service_1=svc-80", token, &red); code != 200 || len(red.Rows) == 0 {
		t.Fatalf("red: %d %+v", code, red)
	}
	var st Stats
	getJSON(t, ts.url+"/api/v1/stats", token, &st)
	if st.Store.L4Rows != uint64(len(all4)) || st.Store.L7Rows != uint64(len(all7)) || st.Ingest.Stored == 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d captures: %d l4 and %d l7 rows in %d batches, %d edges", len(pcaps), len(all4), len(all7), st.Ingest.Stored, len(sm.Edges))
}

// frameOf encodes the records of redis-pipeline.pcap (repeated up to rows
// l7 rows), tagged, without dictionary ids.
func frameOf(t testing.TB, rows int) []byte {
	t.Helper()
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile("../../testdata/l7/redis-pipeline.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var c collect
	cfg := pipeline.Config{Shards: 1, Source: src, Stages: []pipeline.Stage{tagStage{}}, Sinks: []pipeline.SinkConfig{{Sink: &c}}}
	cfg.L7.Registry = reg
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	enc, _ := encoding.NewEncoder(nil)
	for i := 0; i < rows; i++ {
		r := c.l7[i%len(c.l7)]
		r.FlowID = uint64(i) // distinct rows
		enc.AddL7(r)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type collect struct {
	l7 []*l7.Record
}

func (c *collect) WriteL4(r *flow.Record) error { return nil }
func (c *collect) WriteL7(r *l7.Record) error {
	c.l7 = append(c.l7, r.Clone())
	return nil
}
