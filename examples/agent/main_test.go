package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

func TestRun_JSON(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-r", testutil.Testdata(t, "l7/http-nginx.pcap")}, &out, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		typ, _ := rec["type"].(string)
		counts[typ]++
		if typ == "l7_flow_log" && rec["l7_protocol"] != "HTTP" {
			t.Errorf("l7 record with protocol %v, want HTTP", rec["l7_protocol"])
		}
	}
	// tshark on this capture: -z conv,tcp lists 6 conversations, and
	// -Y http.request -e http.request.method gives 15 methods in 13 frames
	// (three requests pipelined in one segment).
	if counts["l4_flow_log"] != 6 || counts["l7_flow_log"] != 15 {
		t.Fatalf("records by type = %v, want 6 l4_flow_log and 15 l7_flow_log", counts)
	}
}

// TestRun_Protocols checks -protocols: with HTTP left out, the HTTP
// capture gives its flows and no l7 record; "none" turns L7 off.
func TestRun_Protocols(t *testing.T) {
	file := testutil.Testdata(t, "l7/http-nginx.pcap")
	for _, protos := range []string{"DNS,redis", "none"} {
		var out bytes.Buffer
		if err := run([]string{"-r", file, "-protocols", protos}, &out, io.Discard); err != nil {
			t.Fatalf("-protocols %s: %v", protos, err)
		}
		l4, l7 := strings.Count(out.String(), `"type":"l4_flow_log"`), strings.Count(out.String(), `"type":"l7_flow_log"`)
		if l4 != 6 || l7 != 0 {
			t.Errorf("-protocols %s: %d l4 and %d l7 records, want 6 and 0", protos, l4, l7)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"-r", file, "-protocols", "HTTP"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if l7 := strings.Count(out.String(), `"type":"l7_flow_log"`); l7 != 15 {
		t.Errorf("-protocols HTTP: %d l7 records, want 15", l7)
	}
	if err := run([]string{"-r", file, "-protocols", "HTTP,gopher"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "gopher") {
		t.Errorf("-protocols HTTP,gopher: error %v, want one naming gopher", err)
	}
}

func TestRun_FilterAndText(t *testing.T) {
	file := testutil.Testdata(t, "l7/dns.pcap")
	var all, tcp bytes.Buffer
	if err := run([]string{"-r", file, "-o", "text"}, &all, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-r", file, "-o", "text", "-f", "tcp"}, &tcp, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(tcp.String()), "\n") {
		if strings.Contains(line, " UDP ") {
			t.Errorf("filter tcp let through %q", line)
		}
	}
	if tcp.Len() == 0 || tcp.Len() >= all.Len() {
		t.Errorf("filtered output %d bytes, unfiltered %d: want a non-empty strict subset", tcp.Len(), all.Len())
	}
}

func TestRun_BadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"none", nil, "need -r FILE, -i IFACE or -ebpf"},
		{"both", []string{"-r", "x", "-i", "y"}, "exclusive"},
		{"format", []string{"-r", "x", "-o", "xml"}, "-o must be"},
		{"missing file", []string{"-r", "/nonexistent/file.pcap"}, "no such file"},
		{"not a capture", []string{"-r", testutil.Testdata(t, "README.md")}, "capture"},
		{"bad filter", []string{"-r", testutil.Testdata(t, "l7/dns.pcap"), "-f", "port"}, "filter"},
		{"write without live", []string{"-r", "x", "-w", "y"}, "-w needs -i"},
		{"fanout without live", []string{"-r", "x", "-fanout"}, "-fanout needs -i"},
		{"short snapshot", []string{"-r", "x", "-snapshot", "10ms"}, "at least 1s"},
		{"bad port hint", []string{"-r", "x", "-port-hint", "http"}, "PORT=DECODER"},
		{"unknown decoder", []string{"-r", testutil.Testdata(t, "l7/dns.pcap"), "-port-hint", "53=Nope"}, "no decoder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestRun_SnaplenCut replays captures taken with a 256-byte snaplen under
// loss and reordering: the HTTP response head is cut inside its header
// block, yet the request pairs with it, with tshark's http.time latency.
func TestRun_SnaplenCut(t *testing.T) {
	for _, tc := range []struct {
		file   string
		wantUs float64 // tshark -Y http.response -e http.time
	}{
		{"flow/loss.pcap", 7180},
		{"flow/reorder.pcap", 539709},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var out bytes.Buffer
			if err := run([]string{"-r", testutil.Testdata(t, tc.file)}, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var l7recs []map[string]any
			for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
				var rec map[string]any
				if err := json.Unmarshal(line, &rec); err != nil {
					t.Fatal(err)
				}
				if rec["type"] == "l7_flow_log" {
					l7recs = append(l7recs, rec)
				}
			}
			if len(l7recs) != 1 {
				t.Fatalf("%d l7 records, want 1", len(l7recs))
			}
			r := l7recs[0]
			if r["response_code"] != float64(200) || r["response_status"] != "Ok" || r["response_duration"] != tc.wantUs {
				t.Errorf("record %v: want code 200, status Ok, response_duration %v", r, tc.wantUs)
			}
		})
	}
}

// TestRun_Snapshot checks that periodic reports split a long flow: the
// packets of its records add up to tshark's count for the conversation.
func TestRun_Snapshot(t *testing.T) {
	var out bytes.Buffer
	// zero-window.pcap: one TCP conversation over about 3 s; tshark
	// -z conv,tcp counts 30 frames client→server and 54 back.
	if err := run([]string{"-r", testutil.Testdata(t, "flow/zero-window.pcap"), "-snapshot", "1s"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var n int
	var tx, rx float64
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec["type"] == "l4_flow_log" {
			n++
			tx += rec["packet_tx"].(float64)
			rx += rec["packet_rx"].(float64)
		}
	}
	if n < 3 || tx != 30 || rx != 54 {
		t.Errorf("%d l4 records with %v+%v packets; want several records adding up to 30+54", n, tx, rx)
	}
}
