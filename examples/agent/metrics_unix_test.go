//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestAgent_MetricsScrape runs the agent on a capture with -metrics-addr
// and -map, scrapes its Prometheus endpoint while it runs, and checks the
// request counters per edge and the service map against the l7 records it
// wrote; SIGINT then stops it with status 0.
func TestAgent_MetricsScrape(t *testing.T) {
	bin := buildAgent(t)
	mapFile := filepath.Join(t.TempDir(), "map.json")
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "-r", testutil.Testdata(t, "l7/http-nginx.pcap"), "-snapshot", "1s",
		"-metrics-addr", "127.0.0.1:0", "-map", mapFile)
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "metrics served on "); ok {
				addr <- strings.Fields(a)[0]
			}
		}
		close(addr)
	}()
	var url string
	select {
	case url = <-addr:
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not start serving")
	}
	if url == "" {
		t.Fatal("the agent ended without serving")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent: %v", err)
	}

	// Requests per edge from the records (captured_request_byte is
	// written exactly when a record has a request).
	want := map[string]float64{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r["type"] == "l7_flow_log" && r["captured_request_byte"] != nil {
			want[fmt.Sprintf("%v %v %v %v %v", r["ip_0"], r["ip_1"], r["server_port"], r["protocol"], r["l7_protocol"])]++
		}
	}
	got := map[string]float64{}
	for _, m := range families["metaflow_application_map_request_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		got[fmt.Sprintf("%s %s %s %s %s", l["client_ip"], l["server_ip"], l["server_port"], l["protocol"], l["l7_protocol"])] += m.GetCounter().GetValue()
	}
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests scraped %v, records %v", got, want)
	}

	data, err := os.ReadFile(mapFile)
	if err != nil {
		t.Fatal(err)
	}
	var sm struct {
		Edges []struct {
			Client, Server string
			Application    []struct {
				L7Protocol string  `json:"l7_protocol"`
				Request    float64 `json:"request"`
			}
		}
	}
	if err := json.Unmarshal(data, &sm); err != nil {
		t.Fatal(err)
	}
	var mapped float64
	for _, e := range sm.Edges {
		for _, a := range e.Application {
			mapped += a.Request
		}
	}
	var total float64
	for _, v := range want {
		total += v
	}
	if len(sm.Edges) == 0 || mapped != total {
		t.Errorf("service map: %d edges, %v requests, records %v", len(sm.Edges), mapped, total)
	}
}
