package clickhouse_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse/chtest"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// frame encodes n l4 and n l7 records tagged pod-<i%7> and svc-<i%3>,
// with ids from dict when it is not nil.
func frame(t testing.TB, dict *encoding.AgentDict, n int) []byte {
	t.Helper()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		var r flow.Record
		r.FlowID = uint64(i + 1)
		r.StartTime, r.EndTime = now, now+int64(i)
		r.IP0 = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		r.IP1 = netip.MustParseAddr("10.1.0.1")
		r.ClientPort, r.ServerPort, r.Protocol = uint16(i), 80, 6
		r.L7Protocol = "HTTP"
		r.PacketTx, r.PacketRx, r.ByteTx, r.ByteRx = uint64(i), 2, uint64(100*i), 300
		r.RTT, r.HasRTT = uint32(i%50), i%5 != 0
		r.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(i%7))
		r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(i%3))
		enc.AddL4(&r)
		var q l7.Record
		q.FlowID = r.FlowID
		q.StartTime, q.EndTime = now, now+1000*int64(i%100+1)
		q.Client = netip.AddrPortFrom(r.IP0, r.ClientPort)
		q.Server = netip.AddrPortFrom(r.IP1, 80)
		q.L7Protocol = "HTTP"
		q.HasRequest, q.HasResponse = true, true
		q.RequestType, q.RequestResource = []byte("GET"), []byte("/item/"+strconv.Itoa(i%10)+"'\\")
		q.ResponseCode, q.HasResponseCode = 200+int32(i%2)*300, true
		q.TraceID = []byte("trace-" + strconv.Itoa(i))
		q.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(i%7))
		q.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(i%3))
		enc.AddL7(&q)
	}
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decode(t testing.TB, f []byte) *encoding.Batch {
	t.Helper()
	b, err := encoding.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scalar(t testing.TB, c clickhouse.Conn, q string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
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

// exercise ingests batches through s on c (database db) and checks what
// ClickHouse holds; it returns the l4 rows/s of a large batch.
func exercise(t *testing.T, c clickhouse.Conn, s *clickhouse.Store, db string, big int) float64 {
	res, err := s.Ingest("b1", decode(t, frame(t, nil, 100)))
	if err != nil {
		t.Fatal(err)
	}
	ad := encoding.NewAgentDict()
	if err := ad.Apply(res.Ack); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Ingest("b2", decode(t, frame(t, ad, 50))); err != nil || len(r.Ack.Entries) != 0 {
		t.Fatalf("b2: %+v %v", r, err)
	}
	if r, err := s.Ingest("b1", decode(t, frame(t, nil, 100))); err != nil || !r.Duplicate {
		t.Fatalf("resend: %+v %v", r, err)
	}
	if n := scalar(t, c, "SELECT count() FROM "+db+".l7_flow_log"); n != "150" {
		t.Fatalf("l7 rows %s, want 150", n)
	}
	if v := scalar(t, c, "SELECT concat(request_resource, '|', toString(response_code), '|', ifNull(ip_0, 'NULL')) FROM "+db+".l7_flow_log WHERE trace_id = 'trace-5' AND batch_seq = 1"); v != `/item/5'\|500|10.0.0.5` {
		t.Fatalf("row 5: %q", v)
	}
	if v := scalar(t, c, "SELECT concat(toString(countIf(rtt IS NULL)), '/', toString(sum(ifNull(rtt, 0)))) FROM "+db+".l4_flow_log WHERE batch_seq = 1"); v != "20/2000" {
		t.Fatalf("rtt nulls/sum %s", v)
	}
	// The tag ids name the strings: tag_dict joined.
	if v := scalar(t, c, "SELECT count() FROM "+db+".l7_flow_log l ANY INNER JOIN (SELECT id AS service_id_1, value FROM "+db+".tag_dict WHERE key = 'service') d USING service_id_1 WHERE value = 'svc-1'"); v != "50" {
		t.Fatalf("svc-1 rows %s, want 50", v)
	}
	// Queries through the store.
	edges, err := s.ServiceMap(context.Background(), store.Filter{})
	if err != nil {
		t.Logf("service map on this server: %v", err)
	} else if len(edges) != 21 {
		t.Fatalf("%d edges, want 7 pods x 3 services", len(edges))
	}
	page, err := s.Search(context.Background(), "l4_flow_log", store.Filter{Conds: []string{"client_port = ?"}, Args: []any{int64(7)}}, -1, 10)
	if err != nil || len(page) != 2 {
		t.Fatalf("search: %d rows, %v", len(page), err)
	}
	// A large batch: the native write path's rate.
	f := frame(t, nil, big)
	b := decode(t, f)
	start := time.Now()
	if _, err := s.Ingest("big", b); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if n := scalar(t, c, "SELECT count() FROM "+db+".l4_flow_log"); n != strconv.Itoa(150+big) {
		t.Fatalf("l4 rows %s, want %d", n, 150+big)
	}
	return float64(2*big) / el.Seconds()
}

// TestStore_Server runs the store's native write path (clickhouse-go)
// against Debian's clickhouse-server 18.16 with the compatibility schema.
func TestStore_Server(t *testing.T) {
	addr := chtest.StartServer(t)
	c, err := clickhouse.Dial(clickhouse.DialConfig{Addr: addr, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ver := scalar(t, c, "SELECT version()")
	if compat, err := clickhouse.NeedsCompat(context.Background(), c); err != nil || !compat {
		t.Fatalf("18.16 needs the compatibility schema: %v %v", compat, err)
	}
	s, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: "mf_test", Compat: true})
	if err != nil {
		t.Fatal(err)
	}
	rate := exercise(t, c, s, "mf_test", 50_000)
	t.Logf("clickhouse-server %s: one batch of 50,000 l4 + 50,000 l7 rows at %.0f rows/s", ver, rate)
	// Reopened on the tables: dictionary and batch ids restored.
	epoch := s.Dict().Epoch()
	s2, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: "mf_test", Compat: true})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Dict().Epoch() != epoch || s2.Dict().Version() != s.Dict().Version() {
		t.Fatalf("dictionary not restored")
	}
	if r, err := s2.Ingest("big", decode(t, frame(t, nil, 3))); err != nil || !r.Duplicate || r.Seq != 3 {
		t.Fatalf("resend after reopen: %+v %v", r, err)
	}
}

// TestStore_Live runs the modern schema (TTL, skip indexes, dictionary,
// dedup tokens) on the server at CLICKHOUSE_ADDR.
func TestStore_Live(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR not set: no live modern ClickHouse to test on")
	}
	c, err := clickhouse.Dial(clickhouse.DialConfig{Addr: addr, User: os.Getenv("CLICKHOUSE_USER"), Password: os.Getenv("CLICKHOUSE_PASSWORD"), Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	db := fmt.Sprintf("mf_test_%d", time.Now().UnixNano())
	s, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: db, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	rate := exercise(t, c, s, db, 50_000)
	t.Logf("%s at %s: %.0f rows/s", scalar(t, c, "SELECT version()"), addr, rate)
}

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		q    string
		args []any
		want string
		err  bool
	}{
		{"a = ? AND b = ?", []any{int64(-3), "x'y\\z"}, `a = -3 AND b = 'x\'y\\z'`, false},
		{"s = '?' AND n = ?", []any{uint32(7)}, "s = '?' AND n = 7", false},
		{`s = 'it\'s ?' AND n = ?`, []any{uint64(1)}, `s = 'it\'s ?' AND n = 1`, false},
		{"c = ?", []any{"\n\x00"}, `c = '\x0a\x00'`, false},
		{"a = ?", nil, "", true},
		{"a = 1", []any{1}, "", true},
		{"a = ?", []any{struct{}{}}, "", true},
	} {
		got, err := clickhouse.Bind(tc.q, tc.args...)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Bind(%q, %v) = %q, %v; want %q", tc.q, tc.args, got, err, tc.want)
		}
	}
}

func FuzzBind(f *testing.F) {
	f.Add("x = ? AND y = '?'", "it's")
	f.Add(`'\`, "\\")
	f.Fuzz(func(t *testing.T, q, arg string) {
		out, err := clickhouse.Bind(q, arg)
		if err != nil {
			return
		}
		// The argument stays one literal: its quotes are escaped.
		if strings.Count(out, "'")-strings.Count(q, "'") != 2+strings.Count(arg, "'") {
			t.Fatalf("Bind(%q, %q) = %q", q, arg, out)
		}
	})
}

// BenchmarkStore_Ingest writes batches of 10,000 l4 and 10,000 l7 rows
// through clickhouse-go into clickhouse-server 18.16.
func BenchmarkStore_Ingest(b *testing.B) {
	addr := chtest.StartServer(b)
	c, err := clickhouse.Dial(clickhouse.DialConfig{Addr: addr, Compress: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: "mf_bench", Compat: true})
	if err != nil {
		b.Fatal(err)
	}
	const rows = 10_000
	f := frame(b, nil, rows)
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		n++
		if _, err := s.Ingest("bench-"+strconv.Itoa(n), decode(b, f)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*rows*n)/time.Since(start).Seconds(), "rows/s")
}
