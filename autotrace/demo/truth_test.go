package demo

import (
	"strings"
	"testing"
	"time"
)

func TestReadTruth(t *testing.T) {
	in := `{"service":"python","kind":"thread-per-request","pid":7,"tid":9,"id":"py-1","protocol":"HTTP","local":"10.216.2.2:8000","remote":"10.216.2.1:40000","start":"2026-12-04T21:00:00.000000100Z","end":"2026-12-04T21:00:00.005Z","request":"GET /order?id=1","status":200,"x_request_id":"abc","calls":[{"protocol":"DNS","local":"10.216.6.1:5000","remote":"10.216.6.2:53","start":"2026-12-04T21:00:00.001Z","end":"2026-12-04T21:00:00.002Z","request":"A db.mfat."}]}

{"service":"client","kind":"load","pid":3,"id":"client-0-0","calls":[]}
`
	ts, err := ReadTruth(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 {
		t.Fatalf("got %d lines, want 2", len(ts))
	}
	if ts[0].TID != 9 || ts[0].XRequestID != "abc" || len(ts[0].Calls) != 1 || ts[0].Calls[0].Remote != "10.216.6.2:53" {
		t.Errorf("first line: %+v", ts[0])
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "{\"service\":\"go\"}\nnope\n", "line 2"},
		{"no service", "{\"kind\":\"load\"}\n", "line 1: no service"},
		{"wrong type", "{\"service\":\"go\",\"pid\":\"x\"}\n", "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTruth(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReadRecords(t *testing.T) {
	in := `{"tap":"ebpf","tap_side":"c-p","type":"l7_flow_log","start_time":"2026-12-04T21:00:00Z","ip_0":"10.216.5.1","ip_1":"10.216.5.2","client_port":1,"server_port":6379,"l7_protocol":"Redis"}
{"tap":"db","tap_side":"s","type":"l4_flow_log","ip_0":"10.216.5.1"}
{"tap":"ebpf","type":"ebpf_socket_log","tap_side":"c-p"}
`
	recs, err := ReadRecords(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Tap != "ebpf" || recs[0].TapSide != "c-p" || recs[0].ServerPort != 6379 {
		t.Fatalf("got %+v, want the one l7_flow_log", recs)
	}
	if _, err := ReadRecords(strings.NewReader("{}\n[\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want one naming line 2", err)
	}
}

func at(ms int) string {
	return time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
}

func rec(tap, side, cli, srv string, cport, sport uint16, proto string, startMs int) Record {
	return Record{Type: "l7_flow_log", Tap: tap, TapSide: side, StartTime: at(startMs), IP0: cli, IP1: srv,
		ClientPort: cport, ServerPort: sport, L7Protocol: proto}
}

func TestCover(t *testing.T) {
	truths := []Truth{
		{Service: "python", Protocol: "HTTP", Local: "10.216.2.2:8000", Remote: "10.216.2.1:4000", Start: at(0), End: at(50),
			Calls: []Call{
				{Protocol: "Redis", Local: "10.216.5.1:5000", Remote: "10.216.5.2:6379", Start: at(10), End: at(11), Request: "GET a"},
				{Protocol: "Redis", Local: "10.216.5.1:5000", Remote: "10.216.5.2:6379", Start: at(12), End: at(13), Request: "GET b"},
				{Protocol: "MySQL", Local: "10.216.5.1:6000", Remote: "10.216.5.2:3306", Start: at(14), End: at(15), Request: "login"},
				{Protocol: "MySQL", Local: "10.216.5.1:6000", Remote: "10.216.5.2:3306", Start: at(16), End: at(17), Request: "SELECT 1"},
				{Protocol: "HTTP", Local: "10.216.3.1:7000", Remote: "10.216.3.2:8080", Start: at(20), End: at(30), Error: "refused"},
				{Protocol: "DNS", Local: "10.216.6.1:9000", Remote: "10.216.6.2:53", Start: at(31), End: at(32), Request: "A x."},
			}},
	}
	recs := []Record{
		// Both Redis calls seen by eBPF; only the second on the NIC.
		rec("ebpf", "c-p", "10.216.5.1", "10.216.5.2", 5000, 6379, "Redis", 10),
		rec("ebpf", "c-p", "10.216.5.1", "10.216.5.2", 5000, 6379, "Redis", 12),
		rec("python", "c", "10.216.5.1", "10.216.5.2", 5000, 6379, "Redis", 12),
		// The query right after the login: the login must not take it.
		rec("ebpf", "c-p", "10.216.5.1", "10.216.5.2", 6000, 3306, "MySQL", 16),
		// DNS seen far too late: not this call.
		rec("ebpf", "c-p", "10.216.6.1", "10.216.6.2", 9000, 53, "DNS", 100),
		// The inbound request, seen 3 ms before the service noted it.
		rec("ebpf", "s-p", "10.216.2.1", "10.216.2.2", 4000, 8000, "HTTP", -3),
		// Another protocol on the same ports is no match.
		rec("ebpf", "c-p", "10.216.6.1", "10.216.6.2", 9000, 53, "HTTP", 31),
	}
	cov := Cover(truths, recs, 2*time.Millisecond)
	got := map[string]HopCoverage{}
	for _, h := range cov.Hops {
		got[h.Hop] = h
	}
	for _, want := range []struct {
		hop            string
		calls, covered int
		byTap          map[string]int
	}{
		{"python->Redis", 2, 2, map[string]int{"ebpf/c-p": 2, "python/c": 1}},
		{"python->MySQL", 1, 1, map[string]int{"ebpf/c-p": 1}},
		{"python->DNS", 1, 0, map[string]int{}},
		{"inbound python HTTP", 1, 1, map[string]int{"ebpf/s-p": 1}},
	} {
		h := got[want.hop]
		if h.Calls != want.calls || h.Covered != want.covered || len(h.ByTap) != len(want.byTap) {
			t.Errorf("%s: %+v, want %d calls, %d covered, %v", want.hop, h, want.calls, want.covered, want.byTap)
			continue
		}
		for k, v := range want.byTap {
			if h.ByTap[k] != v {
				t.Errorf("%s at %s: %d, want %d", want.hop, k, h.ByTap[k], v)
			}
		}
	}
	if _, ok := got["python->HTTP"]; ok {
		t.Errorf("a failed call was counted: %+v", got["python->HTTP"])
	}
	if len(cov.Missed) != 1 || !strings.Contains(cov.Missed[0], "10.216.6.1:9000") {
		t.Errorf("missed = %q, want the DNS call", cov.Missed)
	}
	if len(cov.Hops) != 4 || cov.Hops[0].Hop != "inbound python HTTP" {
		t.Errorf("hops not sorted or extra: %+v", cov.Hops)
	}

	bad := []Truth{{Service: "go", Calls: []Call{{Protocol: "Redis", Local: "nope", Remote: "10.216.4.2:6379", Start: at(0), End: at(1)}}}}
	if c := Cover(bad, nil, time.Millisecond); c.Unknown != 1 || c.Hops[0].Covered != 0 {
		t.Errorf("unparsable call: %+v", c)
	}
}

func FuzzReadTruth(f *testing.F) {
	f.Add([]byte(`{"service":"go","kind":"goroutines","pid":1,"id":"go-1","calls":[{"protocol":"Redis","local":"1.2.3.4:5","remote":"1.2.3.4:6","start":"x","end":"y","request":"GET a"}]}`))
	f.Add([]byte("{\"service\":\"dns\"}\n\n{"))
	f.Add([]byte(`{"service":"nginx","calls":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ReadTruth(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		// Whatever parsed can be matched without a panic.
		Cover(ts, nil, time.Millisecond)
		for _, tr := range ts {
			if tr.Service == "" {
				t.Fatalf("a line without service was accepted: %+v", tr)
			}
		}
	})
}
