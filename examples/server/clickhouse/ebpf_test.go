package clickhouse_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse/chtest"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/l7"
)

// TestStore_EBPFColumns: an l7_flow_log created by an older server
// (without the eBPF and capture-point columns, the syscall trace ids as
// Nullable(UInt64)) gets the missing columns on Open and stores what
// frames now carry, the syscall ids into its nullable columns.
func TestStore_EBPFColumns(t *testing.T) {
	addr := chtest.StartServer(t)
	c, err := clickhouse.Dial(clickhouse.DialConfig{Addr: addr, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("CREATE TABLE mf_old.l7_flow_log (batch_seq UInt64, row_no UInt32")
	types := map[encoding.ColumnType]string{encoding.ColUvarint: "UInt64", encoding.ColVarint: "Int64", encoding.ColDelta: "Int64",
		encoding.ColOptUvarint: "Nullable(UInt64)", encoding.ColOptVarint: "Nullable(Int64)", encoding.ColAddr: "Nullable(String)", encoding.ColString: "String"}
	for _, col := range store.RecordColumns("l7_flow_log") {
		if col.Name == "process_id_0" {
			break
		}
		fmt.Fprintf(&b, ", %s %s", col.Name, types[col.Wire])
	}
	b.WriteString(", syscall_trace_id_request Nullable(UInt64), syscall_trace_id_response Nullable(UInt64)")
	for _, k := range store.DefaultTagKeys {
		fmt.Fprintf(&b, ", %s_id_0 UInt32 DEFAULT 0, %s_id_1 UInt32 DEFAULT 0", k, k)
	}
	b.WriteString(") ENGINE = MergeTree PARTITION BY toYYYYMMDD(toDateTime(intDiv(end_time, 1000000000))) ORDER BY (batch_seq, row_no)")
	for _, q := range []string{"CREATE DATABASE mf_old", b.String()} {
		if err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: "mf_old", Compat: true})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{AgentID: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	r := l7.Record{FlowID: 2, StartTime: 1.8e18, EndTime: 1.8e18 + 10, Client: netip.MustParseAddrPort("10.0.0.1:4000"),
		Server: netip.MustParseAddrPort("10.0.0.2:80"), Transport: l7.TCP, L7Protocol: "HTTP", HasRequest: true,
		ProcessID0: 77, ProcessKName0: []byte("curl"), SyscallTraceIDRequest: 1<<63 + 9, SyscallTraceIDResponse: 10,
		SyscallThread0: 78, SyscallThread1: 79}
	enc.AddL7(&r)
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest("b1", decode(t, f)); err != nil {
		t.Fatal(err)
	}
	got := scalar(t, c, "SELECT concat(toString(process_id_0), '|', process_kname_0, '|', toString(syscall_trace_id_request), '|', "+
		"toString(syscall_trace_id_response), '|', toString(syscall_thread_1), '|', tap_side, '|', agent_id) FROM mf_old.l7_flow_log")
	if want := fmt.Sprintf("77|curl|%d|10|79|c-p|node-a", uint64(1<<63+9)); got != want {
		t.Fatalf("row %q, want %q", got, want)
	}
	// A new table has them as plain columns.
	s2, err := clickhouse.Open(clickhouse.Config{Conn: c, Database: "mf_new", Compat: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Ingest("b1", decode(t, f)); err != nil {
		t.Fatal(err)
	}
	if got := scalar(t, c, "SELECT concat(toTypeName(syscall_trace_id_request), '|', toString(syscall_trace_id_request), '|', tap_side) FROM mf_new.l7_flow_log"); got != fmt.Sprintf("UInt64|%d|c-p", uint64(1<<63+9)) {
		t.Fatalf("new table: %q", got)
	}
}
