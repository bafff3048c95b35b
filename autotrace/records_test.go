package autotrace

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

func sampleRecord() *l7.Record {
	r := &l7.Record{
		FlowID: 0x80000001, StartTime: t0 + 123, EndTime: t0 + 5*ms,
		Client: netip.MustParseAddrPort("10.0.0.2:51234"), Server: netip.MustParseAddrPort("10.0.0.3:6379"),
		Transport: l7.TCP, L7Protocol: "Redis", HasRequest: true, HasResponse: true,
		ReqTCPSeq: 4000000000, RespTCPSeq: 17, RequestType: []byte("GET"), RequestResource: []byte("GET k"),
		Status: l7.StatusServerError, HasStatus: true,
		TraceID: []byte("4bf92f3577b34da6a3ce929d0e0e4736"), SpanID: []byte("00f067aa0ba902b7"),
		XRequestID0: []byte("req-1"),
		ProcessID0:  4242, ProcessKName0: []byte("python3"),
		SyscallTraceIDRequest: 1 << 40, SyscallTraceIDResponse: 1<<40 + 1, SyscallThread0: 4243, SyscallThread1: 4243,
	}
	r.Tags.Add(tag.Client, "service", "py")
	r.Tags.Add(tag.Client, "host", "node-1")
	return r
}

func TestParseRecordJSON_MatchesFromRecord(t *testing.T) {
	// The agent's JSON output of a record reads back as the span
	// FromRecord makes of it.
	r := sampleRecord()
	line := r.AppendJSON(nil)
	got, err := ParseRecordJSON(line, 9)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	want := FromRecord(r, 9, TapUnknown)
	if got != want {
		t.Fatalf("from JSON:\n%+v\nfrom record:\n%+v\nline %s", got, want, line)
	}
	if got.TapSide != ClientProcess || got.Agent != "node-1" || got.Service0 != "py" {
		t.Fatalf("tap %v agent %q service %q", got.TapSide, got.Agent, got.Service0)
	}
}

func TestParseRecordJSON_Errors(t *testing.T) {
	cases := []struct {
		name, line string
		want       error
	}{
		{"l4", `{"type":"l4_flow_log","flow_id":1}`, ErrNotL7},
		{"no type", `{"flow_id":1}`, ErrNotL7},
		{"not json", `{"type":`, ErrRecord},
		{"seq out of range", `{"type":"l7_flow_log","req_tcp_seq":4294967296}`, ErrRecord},
		{"bad time", `{"type":"l7_flow_log","start_time":"yesterday"}`, ErrRecord},
		{"bad ip", `{"type":"l7_flow_log","ip_0":"10.0.0.256"}`, ErrRecord},
		{"bad tap side", `{"type":"l7_flow_log","tap_side":"x"}`, ErrTapSide},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecordJSON([]byte(tc.line), 1)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadRecords(t *testing.T) {
	r := sampleRecord()
	in := `{"type":"l4_flow_log","flow_id":1}` + "\n\n" + string(r.AppendJSON(nil)) + "\n" +
		`{"type":"l7_flow_log","tap":"python","tap_side":"c","ip_0":"10.0.0.2","client_port":1,"ip_1":"10.0.0.3","server_port":2,"protocol":"TCP","req_tcp_seq":5}` + "\n"
	spans, err := ReadRecords(strings.NewReader(in), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 || spans[0].ID != 100 || spans[1].ID != 101 || spans[1].TapSide != ClientNIC || spans[1].Agent != "" {
		t.Fatalf("spans %+v", spans)
	}
	if _, err := ReadRecords(strings.NewReader(in+"{\n"), 1); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseRecordJSON(f *testing.F) {
	f.Add(sampleRecord().AppendJSON(nil))
	f.Add([]byte(`{"type":"l7_flow_log","tap_side":"s-p","process_id_1":3,"syscall_trace_id_request":1}`))
	f.Add([]byte(`{"type":"l7_flow_log","start_time":"2026-12-04T12:00:00.000000001Z","ip_0":"::1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseRecordJSON(b, 1)
		if err != nil {
			if s != (Span{}) {
				t.Fatal("error with a span")
			}
			if !errors.Is(err, ErrRecord) && !errors.Is(err, ErrNotL7) && !errors.Is(err, ErrTapSide) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever reads assembles and exports.
		tr := Assemble([]Span{s, s}, Config{})
		if len(tr.Nodes) != 1 {
			t.Fatal(len(tr.Nodes))
		}
		if !json.Valid(tr.AppendOTLP(nil)) {
			t.Fatal("invalid OTLP JSON")
		}
	})
}
