package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/clickhouse/chtest"
	"github.com/metaflow-go/metaflow/examples/server/query"
)

// TestServer_ClickHouse runs the server with -clickhouse on Debian's
// clickhouse-server 18.16 (the compatibility schema, chosen from its
// version): the agent replays the committed captures over HTTP, and the
// records read back through the query API equal what it printed.
func TestServer_ClickHouse(t *testing.T) {
	addr := chtest.StartServer(t)
	const token = "ch-token"
	s, err := newCHServer(options{clickhouse: addr, chDatabase: "mf_e2e", chUser: "default", token: token, maxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.mux}
	go hs.Serve(ln)
	defer hs.Close()
	ts := &testServer{url: "http://" + ln.Addr().String()}
	pcaps, _ := filepath.Glob("../../testdata/l7/*.pcap")
	var all4, all7 []map[string]any
	start := time.Now()
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
	el := time.Since(start)
	diff(t, "l7_flow_log", keys(allRows(t, ts, "/api/v1/l7", token, url.Values{}), l7Key), keys(all7, l7Key))
	diff(t, "l4_flow_log", keys(allRows(t, ts, "/api/v1/l4", token, url.Values{}), l4Key), keys(all4, l4Key))
	var want []map[string]any
	for _, m := range all7 {
		if m["service_1"] == "svc-6379" {
			want = append(want, m)
		}
	}
	diff(t, "l7 service_1=svc-6379", keys(allRows(t, ts, "/api/v1/l7", token, url.Values{"service_1": {"svc-6379"}}), l7Key), keys(want, l7Key))
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
	var st CHStats
	getJSON(t, ts.url+"/api/v1/stats", token, &st)
	if st.Store.L4Rows != uint64(len(all4)) || st.Store.L7Rows != uint64(len(all7)) || st.Ingest.Stored == 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d captures through HTTP into clickhouse-server: %d l4 and %d l7 rows in %d batches in %v", len(pcaps), len(all4), len(all7), st.Ingest.Stored, el)
}
