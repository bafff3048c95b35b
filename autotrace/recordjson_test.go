package autotrace_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/metaflow-go/metaflow/autotrace"
	"github.com/metaflow-go/metaflow/l7"
)

// TestRecordJSON reads the demo recording's l7 lines into l7.Records and
// writes them back with AppendJSON: the same keys and values, but the
// recording's stamps (tap, tap_side), which RecordJSON returns.
func TestRecordJSON(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(open(t, "records-1c.jsonl")))
	sc.Buffer(nil, 1<<20)
	var r l7.Record
	n, taps := 0, map[string]int{}
	for sc.Scan() {
		line := sc.Bytes()
		tap, side, err := autotrace.RecordJSON(line, &r)
		if errors.Is(err, autotrace.ErrNotL7) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var want, got map[string]any
		if err := json.Unmarshal(line, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.AppendJSON(nil), &got); err != nil {
			t.Fatal(err)
		}
		if want["tap"] != tap || want["tap_side"] != side {
			t.Fatalf("tap %q side %q of %s", tap, side, line)
		}
		delete(want, "tap")
		delete(want, "tap_side")
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("line %s\nwritten back as %s", line, r.AppendJSON(nil))
		}
		n++
		taps[tap+"/"+side]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no l7 record")
	}
	t.Logf("%d records read and written back: %v", n, taps)

	tagged := `{"type":"l7_flow_log","start_time":"2026-01-01T00:00:00Z","ip_0":"10.0.0.1","client_port":1,"protocol":"TCP","pod_0":"web-1","service_1":"db"}`
	if _, _, err := autotrace.RecordJSON([]byte(tagged), &r); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Tags.Get(0, "pod"); v != "web-1" {
		t.Errorf("pod_0 %q", v)
	}
	if v, _ := r.Tags.Get(1, "service"); v != "db" || r.Tags.Len() != 2 {
		t.Errorf("service_1 %q, %d tags", v, r.Tags.Len())
	}
	for _, tc := range []struct {
		line  string
		field string
	}{
		{`{"type":"l7_flow_log","start_time":"yesterday"}`, "start_time"},
		{`{"type":"l7_flow_log","ip_1":"10.0.0.300"}`, "ip_1"},
		{`{"type":"l7_flow_log","response_status":"Fine"}`, "response_status"},
		{`{"type":"l7_flow_log","tap_side":"x"}`, "tap_side"},
		{`{"type":"l7_flow_log","protocol":"SCTP"}`, "protocol"},
		{`{"type":"l7_flow_log","region_0":7}`, "region_0"},
	} {
		_, _, err := autotrace.RecordJSON([]byte(tc.line), &r)
		var fe *autotrace.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v, want a FieldError of %s", tc.line, err, tc.field)
		}
	}
	if _, _, err := autotrace.RecordJSON([]byte(`{"type":"l4_flow_log"}`), &r); !errors.Is(err, autotrace.ErrNotL7) {
		t.Errorf("l4: %v", err)
	}
	if _, _, err := autotrace.RecordJSON([]byte(`{"type":`), &r); !errors.Is(err, autotrace.ErrRecord) {
		t.Errorf("truncated: %v", err)
	}
}

// FuzzRecordJSON: no input panics; a record read is written back by
// AppendJSON as a line that reads as the same record.
func FuzzRecordJSON(f *testing.F) {
	f.Add([]byte(`{"tap":"ebpf","tap_side":"c-p","type":"l7_flow_log","flow_id":2,"start_time":"2026-12-04T22:03:41.018559079Z","end_time":"2026-12-04T22:03:41.019254556Z","ip_0":"10.216.6.1","ip_1":"10.216.6.2","client_port":48979,"server_port":53,"protocol":"UDP","l7_protocol":"DNS","is_tls":false,"request_length":25,"captured_request_byte":25,"captured_response_byte":41,"request_type":"A","request_resource":"db.mfat","request_id":31529,"response_status":"Ok","response_code":0,"process_id_0":7563,"process_kname_0":"python3","syscall_trace_id_request":4087579680511623193,"syscall_thread_0":7759}`))
	f.Add([]byte(`{"type":"l7_flow_log","protocol":"TCP","req_tcp_seq":5,"captured_request_byte":3,"x_request_id_1":"r","pod_1":"p"}`))
	f.Add([]byte(`{"type":"l4_flow_log"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var r, r2 l7.Record
		if _, _, err := autotrace.RecordJSON(line, &r); err != nil {
			return
		}
		out := r.AppendJSON(nil)
		if _, _, err := autotrace.RecordJSON(out, &r2); err != nil {
			t.Fatalf("%s written back as %s: %v", line, out, err)
		}
		if out2 := r2.AppendJSON(nil); !bytes.Equal(out, out2) {
			t.Fatalf("%s\nthen %s", out, out2)
		}
	})
}
