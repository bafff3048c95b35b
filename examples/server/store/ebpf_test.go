package store

import (
	"database/sql"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/l7"
)

// TestStore_EBPFColumns: a store created before the wire format carried
// the eBPF and capture-point columns (its l7_flow_log without them, the
// syscall trace ids as nullable extras) gets them on Open, keeps its old
// rows (read as 0 and ”), and stores what frames now carry.
func TestStore_EBPFColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	var old []column
	for _, c := range l7Columns {
		if c.name == "process_id_0" {
			break
		}
		old = append(old, c)
	}
	for _, q := range []string{
		createTable("l7_flow_log", old, []string{"syscall_trace_id_request", "syscall_trace_id_response"}, DefaultTagKeys),
		`ALTER TABLE l7_flow_log ADD COLUMN tap_side VARCHAR`,
		`INSERT INTO l7_flow_log (batch_seq, flow_id, start_time, end_time) VALUES (1, 1, 1, 2)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	st, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{AgentID: "node-a", LocalAddr: func(a netip.Addr) bool { return a == netip.MustParseAddr("10.0.0.2") }})
	if err != nil {
		t.Fatal(err)
	}
	r := l7.Record{FlowID: 2, StartTime: 10, EndTime: 20, Client: netip.MustParseAddrPort("10.0.0.1:4000"),
		Server: netip.MustParseAddrPort("10.0.0.2:80"), Transport: l7.TCP, L7Protocol: "HTTP", HasRequest: true,
		ProcessID1: 77, ProcessKName1: []byte("nginx"), SyscallTraceIDRequest: 1<<63 + 9, SyscallTraceIDResponse: 10,
		SyscallThread0: 78, SyscallThread1: 79}
	enc.AddL7(&r)
	r.ProcessID1, r.ProcessKName1, r.SyscallTraceIDRequest, r.SyscallTraceIDResponse, r.SyscallThread0, r.SyscallThread1 = 0, nil, 0, 0, 0, 0
	r.FlowID = 3
	enc.AddL7(&r) // the server's NIC: "s"
	f, err := enc.AppendFrame(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encoding.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest("b1", b); err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().Query(`SELECT flow_id, process_id_1, process_kname_1, COALESCE(syscall_trace_id_request, 0), COALESCE(syscall_trace_id_response, 0),
		syscall_thread_0, syscall_thread_1, COALESCE(tap_side, ''), agent_id FROM l7_flow_log ORDER BY flow_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		flow, pid      uint64
		kname          string
		req, resp      uint64
		th0, th1       uint64
		tapSide, agent string
	}
	want := []row{
		{1, 0, "", 0, 0, 0, 0, "", ""},
		{2, 77, "nginx", 1<<63 + 9, 10, 78, 79, "s-p", "node-a"},
		{3, 0, "", 0, 0, 0, 0, "s", "node-a"},
	}
	var got []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.flow, &x.pid, &x.kname, &x.req, &x.resp, &x.th0, &x.th1, &x.tapSide, &x.agent); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if len(got) != len(want) {
		t.Fatalf("rows %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: got %+v want %+v", i, got[i], want[i])
		}
	}
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'l7_flow_log' AND index_name LIKE 'l7_syscall_trace_id_%'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("syscall trace id indexes: %d %v", n, err)
	}
}
