//go:build chdb

package chdbtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// conn is the process's one chDB session; each test uses its own
// database.
var conn *Conn

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chdbtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	conn, err = Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	conn.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shared is conn for one Store: Close does not end the session.
type shared struct{ clickhouse.Conn }

func (shared) Close() error { return nil }

func open(t testing.TB, db string, c clickhouse.Conn) *clickhouse.Store {
	t.Helper()
	s, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: db, Retention: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scalar(t testing.TB, q string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}

// frame encodes n l4 and n l7 records tagged with pod-<i%pods> and
// service svc-<i%3> (and team blue), with ids from dict when it is not
// nil; start is the records' start time.
func frame(t testing.TB, dict *encoding.AgentDict, n, pods int, start time.Time) *encoding.Batch {
	t.Helper()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range l4Records(n, pods, 0, "team", start) {
		enc.AddL4(r)
	}
	for _, r := range l7Records(n, pods, 0, "team", start) {
		enc.AddL7(r)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, f)
}

func keyValue(key string, port uint16) string {
	if key == "team" {
		return "blue"
	}
	return key + "-" + strconv.Itoa(int(port%4))
}

// l4Records are n flows with ids base+1..., client ports 40000+i, tagged
// pod-<i%pods> (client), svc-<i%3> and a tag key (server).
func l4Records(n, pods int, base uint64, key string, start time.Time) []*flow.Record {
	now := start.UnixNano()
	var out []*flow.Record
	for i := 0; i < n; i++ {
		r := new(flow.Record)
		r.FlowID = base + uint64(i+1)
		r.StartTime, r.EndTime = now, now+int64(i)
		r.IP0 = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		r.IP1 = netip.MustParseAddr("10.1.0.1")
		r.ClientPort, r.ServerPort, r.Protocol = uint16(40000+i), 80, 6
		r.L7Protocol = "HTTP"
		r.PacketTx, r.ByteTx, r.RTT, r.HasRTT = uint64(i), uint64(100*i), 42, true
		r.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(i%pods))
		r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(i%3))
		r.Tags.Set(tag.Server, key, keyValue(key, r.ClientPort))
		out = append(out, r)
	}
	return out
}

// l7Records are the requests of l4Records: GET /item/<i>'\, 200 or 500,
// trace-<i>, i+1 microseconds.
func l7Records(n, pods int, base uint64, key string, start time.Time) []*l7.Record {
	now := start.UnixNano()
	var out []*l7.Record
	for i := 0; i < n; i++ {
		q := new(l7.Record)
		q.FlowID = base + uint64(i+1)
		q.StartTime, q.EndTime = now, now+1000*int64(i+1)
		q.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(40000+i))
		q.Server = netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), 80)
		q.L7Protocol = "HTTP"
		q.HasRequest, q.HasResponse = true, true
		q.RequestType, q.RequestResource = []byte("GET"), []byte("/item/"+strconv.Itoa(i)+"'\\")
		q.ResponseCode, q.HasResponseCode = 200+int32(i%2)*300, true
		q.TraceID = []byte("trace-" + strconv.Itoa(i))
		q.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(i%pods))
		q.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(i%3))
		q.Tags.Set(tag.Server, key, keyValue(key, q.Client.Port()))
		out = append(out, q)
	}
	return out
}

func TestStore_Ingest(t *testing.T) {
	s := open(t, "t_ingest", shared{conn})
	res, err := s.Ingest("b1", frame(t, nil, 100, 7, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.L4 != 100 || res.L7 != 100 || res.Seq != 1 {
		t.Fatalf("result %+v", res)
	}
	if len(res.Ack.Entries) != 11 || res.Ack.From != 0 {
		t.Fatalf("ack from %d with %d entries, want 0 and 11", res.Ack.From, len(res.Ack.Entries))
	}
	ad := encoding.NewAgentDict()
	if err := ad.Apply(res.Ack); err != nil {
		t.Fatal(err)
	}
	res2, err := s.Ingest("b2", frame(t, ad, 50, 7, time.Now()))
	if err != nil || len(res2.Ack.Entries) != 0 || res2.Seq != 2 {
		t.Fatalf("b2: %+v %v", res2, err)
	}
	if r, err := s.Ingest("b1", frame(t, nil, 100, 7, time.Now())); err != nil || !r.Duplicate {
		t.Fatalf("resend: %+v %v", r, err)
	}
	if n := scalar(t, "SELECT count() FROM t_ingest.l4_flow_log"); n != "150" {
		t.Fatalf("l4 rows %s, want 150", n)
	}
	// The strings through ClickHouse's dictionary, as SQL users read them.
	if n := scalar(t, "SELECT count() FROM t_ingest.l7_flow_log WHERE dictGet('t_ingest.tag_names', 'value', ('service', service_id_1)) = 'svc-1' AND team_id_1 > 0"); n != "50" {
		t.Fatalf("svc-1 rows %s, want 50", n)
	}
	if v := scalar(t, "SELECT concat(request_resource, '|', toString(response_code), '|', toString(rtt)) FROM t_ingest.l7_flow_log l JOIN t_ingest.l4_flow_log f USING (batch_seq, flow_id) WHERE trace_id = 'trace-5' AND batch_seq = 1"); v != `/item/5'\|500|42` {
		t.Fatalf("row 5: %q", v)
	}
	// The schema: partitions by day, TTL, skip indexes, dedup window.
	ddl := scalar(t, "SELECT create_table_query FROM system.tables WHERE database = 't_ingest' AND name = 'l7_flow_log'")
	for _, want := range []string{"PARTITION BY toYYYYMMDD(", "TTL toDateTime(intDiv(end_time, 1000000000)) + toIntervalSecond(2592000)", "non_replicated_deduplication_window = 100000", "`team_id_1` UInt32"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("l7_flow_log lacks %q:\n%s", want, ddl)
		}
	}
	if idx := scalar(t, "SELECT arrayStringConcat(groupArray(name), ' ') FROM (SELECT name FROM system.data_skipping_indices WHERE database = 't_ingest' AND table = 'l7_flow_log' ORDER BY name)"); idx != "req_tcp_seq_bf resp_tcp_seq_bf start_time_mm syscall_trace_id_request_bf syscall_trace_id_response_bf trace_id_bf x_request_id_0_bf x_request_id_1_bf" {
		t.Errorf("skip indexes: %s", idx)
	}
	epoch, version := s.Dict().Epoch(), s.Dict().Version()
	s.Close()

	// Reopened: same dictionary and batch ids, seq continues.
	s = open(t, "t_ingest", shared{conn})
	defer s.Close()
	if s.Dict().Epoch() != epoch || s.Dict().Version() != version {
		t.Fatalf("dictionary %d/%d, want %d/%d", s.Dict().Epoch(), s.Dict().Version(), epoch, version)
	}
	if r, err := s.Ingest("b2", frame(t, ad, 50, 7, time.Now())); err != nil || !r.Duplicate || r.Seq != 2 {
		t.Fatalf("resend after reopen: %+v %v", r, err)
	}
	if r, err := s.Ingest("b3", frame(t, ad, 5, 7, time.Now())); err != nil || r.Seq != 3 {
		t.Fatalf("b3: %+v %v", r, err)
	}
	// Ids of another epoch: the dictionary error ingest answers 409 to.
	bad := encoding.NewAgentDict()
	bad.Apply(&encoding.Delta{Epoch: epoch + 1, Entries: []encoding.Entry{{Key: "pod", Value: "pod-0", ID: 1}}})
	_, err = s.Ingest("b4", frame(t, bad, 5, 7, time.Now()))
	var re *encoding.ResyncError
	if !errors.As(err, &re) {
		t.Fatalf("other epoch: %v", err)
	}
	if st := s.Stats(); st.Batches != 1 || st.Duplicates != 1 || st.Failed != 1 {
		t.Fatalf("stats %+v", st)
	}
	_ = store.ErrSchema
}

// TestStore_InsertRate stores one batch of 50,000 l4 and 50,000 l7 rows
// and reports the rate (the TabSeparated text chDB parses is the cost here; a
// server takes clickhouse-go's native blocks).
func TestStore_InsertRate(t *testing.T) {
	s := open(t, "t_rate", shared{conn})
	defer s.Close()
	const n = 50_000
	b := frame(t, nil, n, 1000, time.Now())
	start := time.Now()
	res, err := s.Ingest("big", b)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if res.L4 != n || res.L7 != n {
		t.Fatalf("%+v", res)
	}
	if got := scalar(t, "SELECT count() FROM t_rate.l4_flow_log"); got != strconv.Itoa(n) {
		t.Fatalf("l4 rows %s", got)
	}
	t.Logf("chDB: %d l4 + %d l7 rows in %v: %.0f rows/s", n, n, el, 2*n/el.Seconds())
	// The trace search's bloom filter skips granules: one trace id reads
	// one granule of the seven.
	plan := scalar(t, "EXPLAIN indexes = 1 SELECT count() FROM t_rate.l7_flow_log WHERE trace_id = 'trace-12345'")
	i := strings.Index(plan, "Name: trace_id_bf")
	if i < 0 || !strings.Contains(plan[i:], "Granules: 1/7") {
		t.Fatalf("the trace_id bloom filter does not skip granules:\n%s", plan)
	}
}
