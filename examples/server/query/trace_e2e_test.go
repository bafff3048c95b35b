package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/autotrace"
	"github.com/metaflow-go/metaflow/autotrace/demo"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse/chtest"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/l7"
)

// TestTrace_DemoEndToEnd sends the 10-client demo recording to the server
// as its agents would have (each capture point's records through its own
// encoder: AgentID the capture point, LocalAddr its namespace's addresses,
// so the encoder decides the packet records' tap sides; frames decoded
// and ingested by the DuckDB store), then asks GET /api/v1/trace for the
// trees of a sample of the load generator's requests, zero-code. Each
// answer must be the tree that autotrace.Build finds in memory on the same
// records (same spans, parents and rules), the whole chain nginx -> python
// -> go -> redis/mysql/dns with syscall links; and the accuracy of the
// server-built trees against the ground truth (autotrace.Evaluate) must
// equal the in-memory trees'.
func TestTrace_DemoEndToEnd(t *testing.T) {
	raw := demoFile(t, "records-10c.jsonl")
	truths, err := demo.ReadTruth(bytes.NewReader(demoFile(t, "groundtruth-10c.jsonl")))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := demo.TruthRequests(truths)
	if err != nil {
		t.Fatal(err)
	}

	// The recording: in-memory spans (ids in line order) and records by
	// capture point; the addresses each packet capture point owns (the
	// client's of its "c" records, the server's of its "s" records).
	type rec struct {
		r       *l7.Record
		tapSide string
	}
	// The first seconds of the recording (the requests whose trees are
	// checked start in the first half of them), for a quick test.
	const keep = 4 * time.Second
	var t0 int64
	var spans []autotrace.Span
	byTap := map[string][]rec{}
	local := map[string]map[netip.Addr]bool{}
	wantSides := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		r := new(l7.Record)
		tap, side, err := autotrace.RecordJSON(line, r)
		if errors.Is(err, autotrace.ErrNotL7) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if t0 == 0 {
			t0 = r.StartTime
		}
		if r.StartTime > t0+int64(keep) {
			continue // lines are in order of time, within a second
		}
		s, err := autotrace.ParseRecordJSON(line, uint64(len(spans)+1))
		if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, s)
		byTap[tap] = append(byTap[tap], rec{r, side})
		wantSides[tap+"/"+side]++
		if local[tap] == nil {
			local[tap] = map[netip.Addr]bool{}
		}
		switch side {
		case "c":
			local[tap][r.Client.Addr()] = true
		case "s":
			local[tap][r.Server.Addr()] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	frames, bytesSent := 0, 0
	var sent [][]byte // the frames, for the ClickHouse store
	taps := make([]string, 0, len(byTap))
	for tap := range byTap {
		taps = append(taps, tap)
	}
	sort.Strings(taps)
	for _, tap := range taps {
		cfg := &encoding.EncoderConfig{AgentID: tap}
		if tap != "ebpf" {
			own := local[tap]
			cfg.LocalAddr = func(a netip.Addr) bool { return own[a] }
		}
		enc, err := encoding.NewEncoder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		send := func() {
			f, err := enc.AppendFrame(nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := encoding.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Ingest(fmt.Sprintf("%s-%d", tap, frames), b); err != nil {
				t.Fatal(err)
			}
			frames++
			bytesSent += len(f)
			sent = append(sent, f)
		}
		for _, x := range byTap[tap] {
			enc.AddL7(x.r)
			if enc.Rows() == encoding.DefaultBatchRows {
				send()
			}
		}
		if enc.Rows() > 0 {
			send()
		}
	}
	t.Logf("%d records of %d capture points sent in %d frames (%d bytes) and stored in %v",
		len(spans), len(taps), frames, bytesSent, time.Since(start).Round(time.Millisecond))

	// The stored tap sides are the recording's: the encoder decided the
	// packet records' from LocalAddr, the eBPF records' from their
	// process ids.
	rows, err := st.DB().Query(`SELECT agent_id, COALESCE(tap_side, ''), count(*) FROM l7_flow_log GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	gotSides := map[string]int{}
	for rows.Next() {
		var a, s string
		var n int
		if err := rows.Scan(&a, &s, &n); err != nil {
			t.Fatal(err)
		}
		gotSides[a+"/"+s] = n
	}
	rows.Close()
	if fmt.Sprint(gotSides) != fmt.Sprint(wantSides) {
		t.Fatalf("stored agent/tap_side %v\nrecording %v", gotSides, wantSides)
	}

	// Server span ids (rowid + 1) by a key of the observation.
	key := func(side autotrace.TapSide, s *autotrace.Span) string {
		return fmt.Sprintf("%s|%d|%d|%d|%s|%s", side, s.FlowID, s.Start, s.End, s.Client, s.Server)
	}
	memKey := map[uint64]string{}
	memByKey := map[string]*autotrace.Span{}
	for i := range spans {
		s := &spans[i]
		k := key(s.TapSide, s)
		if memByKey[k] != nil {
			t.Fatalf("two spans with key %s", k)
		}
		memKey[s.ID], memByKey[k] = k, s
	}
	srvKey := map[uint64]string{}
	srvID := map[string]uint64{}
	rows, err = st.DB().Query(`SELECT rowid + 1, flow_id, start_time, end_time, ip_0, client_port, ip_1, server_port, tap_side FROM l7_flow_log`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, flowID uint64
		var s autotrace.Span
		var ip0, ip1, side string
		var p0, p1 uint16
		if err := rows.Scan(&id, &flowID, &s.Start, &s.End, &ip0, &p0, &ip1, &p1, &side); err != nil {
			t.Fatal(err)
		}
		s.FlowID = flowID
		s.Client = netip.AddrPortFrom(netip.MustParseAddr(ip0), p0)
		s.Server = netip.AddrPortFrom(netip.MustParseAddr(ip1), p1)
		ts, err := autotrace.ParseTapSide(side)
		if err != nil {
			t.Fatal(err)
		}
		k := key(ts, &s)
		if memByKey[k] == nil {
			t.Fatalf("stored row %s is no recorded span", k)
		}
		srvKey[id], srvID[k] = k, id
	}
	rows.Close()
	if len(srvID) != len(spans) {
		t.Fatalf("%d distinct stored rows of %d spans", len(srvID), len(spans))
	}

	a := New(st, "")
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mem := autotrace.NewMemStore()
	if err := mem.Add(spans...); err != nil {
		t.Fatal(err)
	}

	// Seeds: the load generator's requests (its process's c-p spans to
	// nginx), a sample spread over the recording.
	var seeds []*autotrace.Span
	for i := range spans {
		if s := &spans[i]; s.TapSide == autotrace.ClientProcess && s.Server.Port() == 80 && s.Start < t0+int64(keep/2) {
			seeds = append(seeds, s)
		}
	}
	slices.SortFunc(seeds, func(x, y *autotrace.Span) int { return int(x.Start - y.Start) })
	const sample = 12
	cfg := autotrace.Config{IgnoreAppIDs: true}
	var memAll, srvAll autotrace.Trace
	var sampled []uint64 // in-memory ids of the seeds
	var wants [][]string // their trees
	merged := map[string]bool{}
	whole, withSyscall, checked := 0, 0, 0
	var rounds, sizes int
	took, tookMem := time.Duration(0), time.Duration(0)
	for k := 0; k < len(seeds) && checked < sample; k += max(1, len(seeds)/sample) {
		seed := seeds[k]
		sid := srvID[memKey[seed.ID]]
		t1 := time.Now()
		trM, _, err := autotrace.Build(context.Background(), mem, &autotrace.Query{IDs: []uint64{seed.ID}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		tookMem += time.Since(t1)
		t0 := time.Now()
		code, b := get(t, srv, url.Values{"id": {fmt.Sprint(sid)}, "zero_code": {"true"}}, "")
		took += time.Since(t0)
		if code != 200 {
			t.Fatalf("seed %d: %d %s", sid, code, b)
		}
		var ans TraceAnswer
		if err := json.Unmarshal(b, &ans); err != nil {
			t.Fatal(err)
		}
		// The same tree: spans, parents and rules.
		var want, got []string
		for _, n := range trM.Nodes {
			p := "-"
			if n.Parent >= 0 {
				p = memKey[trM.Nodes[n.Parent].ID]
			}
			want = append(want, memKey[n.ID]+" < "+p+" "+n.Rule.String())
		}
		ports := map[uint16]bool{}
		rules := map[string]int{}
		for _, s := range ans.Spans {
			p := "-"
			if s.Parent >= 0 {
				p = srvKey[ans.Spans[s.Parent].ID]
			}
			got = append(got, srvKey[s.ID]+" < "+p+" "+s.Rule)
			if ap, err := netip.ParseAddrPort(s.Server); err == nil {
				ports[ap.Port()] = true
			}
			rules[s.Rule]++
		}
		slices.Sort(want)
		slices.Sort(got)
		sampled, wants = append(sampled, seed.ID), append(wants, want)
		if !slices.Equal(want, got) {
			t.Fatalf("seed %s: the server's tree (%d spans) is not the in-memory one (%d spans):\nserver %q\nmemory %q", memKey[seed.ID], len(got), len(want), got, want)
		}
		if ports[80] && ports[8000] && ports[8080] && ports[6379] && ports[3306] && ports[53] {
			whole++
		}
		if rules["syscall"] > 0 {
			withSyscall++
		}
		checked++
		rounds += ans.Rounds
		sizes += len(ans.Spans)

		// For the accuracy: the server-built Trace (the handler's
		// search and assembly) and the in-memory one, each tree once.
		trS, _, err := a.trace(context.Background(), &autotrace.Query{IDs: []uint64{sid}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		dup := false
		for _, n := range trM.Nodes {
			dup = dup || merged[memKey[n.ID]]
		}
		if dup {
			continue
		}
		for _, n := range trM.Nodes {
			merged[memKey[n.ID]] = true
		}
		appendTrace(&memAll, trM)
		appendTrace(&srvAll, trS)
	}
	t.Logf("%d requests' trees: %.1f spans, %.1f search rounds, %v a request over HTTP (%v in memory) on average; %d with every hop (nginx, python, go, redis, mysql, dns), %d with syscall links",
		checked, float64(sizes)/float64(checked), float64(rounds)/float64(checked), (took / time.Duration(checked)).Round(time.Millisecond),
		(tookMem / time.Duration(checked)).Round(time.Millisecond), whole, withSyscall)
	if whole*10 < checked*9 || withSyscall != checked {
		t.Errorf("of %d trees, %d hold every hop and %d syscall links", checked, whole, withSyscall)
	}
	accM := autotrace.Evaluate(&memAll, truth, 3*time.Millisecond)
	accS := autotrace.Evaluate(&srvAll, truth, 3*time.Millisecond)
	for _, l := range strings.Split(strings.TrimSpace(accS.String()), "\n") {
		t.Logf("  server: %s", l)
	}
	if accS.String() != accM.String() || fmt.Sprint(accS.ByKind) != fmt.Sprint(accM.ByKind) || accS.Total != accM.Total {
		t.Errorf("server accuracy differs from the in-memory one:\nserver %s\nmemory %s", accS, accM)
	}
	for _, k := range []string{"proxy", "thread-per-request"} {
		if s := accS.ByKind[k]; s == nil || s.Truth == 0 {
			t.Errorf("%s: no truth edge in the sample", k)
		}
	}

	// The same frames in ClickHouse (-clickhouse): the same trees.
	t.Run("clickhouse", func(t *testing.T) {
		addr := chtest.StartServer(t)
		c, err := clickhouse.Dial(clickhouse.DialConfig{Addr: addr, Compress: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		compat, err := clickhouse.NeedsCompat(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: "mf_trace", Compat: compat})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range sent {
			b, err := encoding.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ch.Ingest(fmt.Sprint(i), b); err != nil {
				t.Fatal(err)
			}
		}
		chKey := map[uint64]string{}
		chID := map[string]uint64{}
		rows, err := c.Query(context.Background(), "SELECT bitOr(bitShiftLeft(batch_seq, 32), toUInt64(row_no)) + 1, flow_id, start_time, end_time, ip_0, client_port, ip_1, server_port, ifNull(tap_side, '') FROM mf_trace.l7_flow_log")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, p0, p1 uint64
			var flowID int64
			var s autotrace.Span
			var ip0, ip1, side string
			if err := rows.Scan(&id, &flowID, &s.Start, &s.End, &ip0, &p0, &ip1, &p1, &side); err != nil {
				t.Fatal(err)
			}
			s.FlowID = uint64(flowID)
			s.Client = netip.AddrPortFrom(netip.MustParseAddr(ip0), uint16(p0))
			s.Server = netip.AddrPortFrom(netip.MustParseAddr(ip1), uint16(p1))
			ts, err := autotrace.ParseTapSide(side)
			if err != nil {
				t.Fatal(err)
			}
			chKey[id], chID[key(ts, &s)] = key(ts, &s), id
		}
		rows.Close()
		if len(chID) != len(spans) {
			t.Fatalf("%d distinct ClickHouse rows of %d spans", len(chID), len(spans))
		}
		mux := http.NewServeMux()
		NewBackend(ch, "").Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		t0 := time.Now()
		for i, id := range sampled {
			code, b := get(t, srv, url.Values{"id": {fmt.Sprint(chID[memKey[id]])}, "zero_code": {"true"}}, "")
			var ans TraceAnswer
			if code != 200 || json.Unmarshal(b, &ans) != nil {
				t.Fatalf("seed %s: %d %s", memKey[id], code, b)
			}
			var got []string
			for _, s := range ans.Spans {
				p := "-"
				if s.Parent >= 0 {
					p = chKey[ans.Spans[s.Parent].ID]
				}
				got = append(got, chKey[s.ID]+" < "+p+" "+s.Rule)
			}
			slices.Sort(got)
			if !slices.Equal(got, wants[i]) {
				t.Fatalf("seed %s: ClickHouse's tree (%d spans) is not the in-memory one (%d spans):\nclickhouse %q\nmemory %q", memKey[id], len(got), len(wants[i]), got, wants[i])
			}
		}
		t.Logf("ClickHouse (compat %v): the same %d trees, %v a request over HTTP", compat, len(sampled), (time.Since(t0) / time.Duration(len(sampled))).Round(time.Millisecond))
	})
}

// TestTrace_L7RowsAndFilters: /api/v1/l7 rows carry their span id, which
// /api/v1/trace takes; the eBPF and capture-point filters select rows; a
// server on another Backend than DuckDB answers the trace endpoint 501.
func TestTrace_L7RowsAndFilters(t *testing.T) {
	st, err := store.Open(store.Config{Path: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{AgentID: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	const big = uint64(1<<63 + 5) // a syscall trace id above 2^63
	r := l7.Record{FlowID: 1, StartTime: 1.8e18, EndTime: 1.8e18 + 1e6, Client: netip.MustParseAddrPort("10.0.0.1:4000"),
		Server: netip.MustParseAddrPort("10.0.0.2:80"), Transport: l7.TCP, L7Protocol: "HTTP", HasRequest: true, HasResponse: true,
		ReqTCPSeq: 10, RespTCPSeq: 20, ProcessID0: 41, SyscallTraceIDRequest: 7, SyscallTraceIDResponse: big,
		SyscallCoroutine0: 555}
	enc.AddL7(&r) // c-p
	r.ProcessID0, r.ProcessID1, r.SyscallTraceIDRequest, r.SyscallTraceIDResponse, r.SyscallCoroutine0 = 0, 42, 8, 8, 0
	r.StartTime, r.EndTime = r.StartTime+1e5, r.EndTime-1e5
	enc.AddL7(&r) // s-p, the same call
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encoding.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest("b", b); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(st, "").Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	search := func(q url.Values) []map[string]any {
		t.Helper()
		resp, err := http.Get(srv.URL + "/api/v1/l7?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct{ Rows []map[string]any }
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		if err := dec.Decode(&p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", q.Encode(), resp.StatusCode, err)
		}
		return p.Rows
	}
	for _, tc := range []struct {
		q    url.Values
		want []string // tap sides
	}{
		{url.Values{}, []string{"c-p", "s-p"}},
		{url.Values{"tap_side": {"s-p"}}, []string{"s-p"}},
		{url.Values{"agent_id": {"node-a"}, "process_id": {"41"}}, []string{"c-p"}},
		{url.Values{"process_id_1": {"42"}}, []string{"s-p"}},
		{url.Values{"syscall_trace_id": {fmt.Sprint(big)}}, []string{"c-p"}},
		{url.Values{"syscall_trace_id_request": {"8"}}, []string{"s-p"}},
		{url.Values{"syscall_trace_id": {"9"}}, nil},
		{url.Values{"syscall_coroutine_0": {"555"}}, []string{"c-p"}},
	} {
		var got []string
		for _, row := range search(tc.q) {
			got = append(got, fmt.Sprint(row["tap_side"]))
			id := fmt.Sprint(row["id"])
			code, body := get(t, srv, url.Values{"id": {id}}, "")
			var ans TraceAnswer
			if code != 200 || json.Unmarshal(body, &ans) != nil || len(ans.Spans) != 2 || ans.Calls != 1 {
				t.Fatalf("trace of row %s: %d %s", id, code, body)
			}
			for _, s := range ans.Spans {
				if (s.TapSide == "c-p") != (s.Coroutine0 == 555 && s.Agent == "node-a" && s.ProcessID0 == 41) {
					t.Errorf("trace span %+v", s)
				}
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: rows %v, want %v", tc.q.Encode(), got, tc.want)
		}
	}
	resp, err := http.Get(srv.URL + "/api/v1/l7?syscall_trace_id=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad syscall_trace_id: %d", resp.StatusCode)
	}

	// Another Backend (as -clickhouse serves): 501.
	mux2 := http.NewServeMux()
	NewBackend(st, "").Register(mux2)
	srv2 := httptest.NewServer(mux2)
	defer srv2.Close()
	if code, body := get(t, srv2, url.Values{"id": {"1"}}, ""); code != http.StatusNotImplemented {
		t.Errorf("trace on another backend: %d %s", code, body)
	}
	if rows := search(url.Values{}); len(rows) != 2 {
		t.Fatal(rows)
	}
}

// appendTrace adds the nodes of src to dst, as trees of their own.
func appendTrace(dst, src *autotrace.Trace) {
	off, calls := len(dst.Nodes), dst.Calls
	for _, n := range src.Nodes {
		if n.Parent >= 0 {
			n.Parent += off
		}
		n.Call += calls
		dst.Nodes = append(dst.Nodes, n)
	}
	dst.Calls += src.Calls
}
