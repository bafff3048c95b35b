package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestRun_Tags replays curl fetching from nginx with -tags naming both
// ends, and checks the tags on every record.
func TestRun_Tags(t *testing.T) {
	tags := filepath.Join(testutil.ModuleRoot(t), "autotag", "testdata", "http-nginx.json")
	var out bytes.Buffer
	if err := run([]string{"-r", testutil.Testdata(t, "l7/http-nginx.pcap"), "-tags", tags}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	types := map[string]int{}
	for _, l := range lines {
		for _, want := range []string{`"pod_0":"curl-7f9c"`, `"pod_1":"nginx-5d8b"`, `"service_1":"nginx"`, `"az_0":"lab-1a"`} {
			if !strings.Contains(l, want) {
				t.Errorf("no %s in %s", want, l)
			}
		}
		switch {
		case strings.Contains(l, `"type":"l4_flow_log"`):
			types["l4"]++
		case strings.Contains(l, `"type":"l7_flow_log"`):
			types["l7"]++
		}
	}
	if types["l4"] == 0 || types["l7"] == 0 {
		t.Fatalf("records %v", types)
	}
	// With the local processes too (none of them owns the capture's
	// sockets): the same tags.
	out.Reset()
	if err := run([]string{"-r", testutil.Testdata(t, "l7/http-nginx.pcap"), "-tags", tags, "-tags-proc"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `"pod_0":"curl-7f9c"`) || !strings.Contains(s, `"service_1":"nginx"`) {
		t.Errorf("-tags-proc: %s", s)
	}
	// The same capture in another VPC gets only the other VPC's entries.
	out.Reset()
	if err := run([]string{"-r", testutil.Testdata(t, "l7/http-nginx.pcap"), "-tags", tags, "-vpc", "7"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `"pod_1":"other-vpc"`) || strings.Contains(s, "pod_0") {
		t.Errorf("-vpc 7: %s", s)
	}
}

func TestRun_TagsBadFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "tags.json")
	os.WriteFile(bad, []byte("{\n\"addrs\": [{\"cidrs\": [\"10.0.0.0/40\"]}]}"), 0o644)
	err := run([]string{"-r", testutil.Testdata(t, "l7/http-nginx.pcap"), "-tags", bad}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), bad+":2: addrs[0].cidrs[0]") {
		t.Fatalf("error %v", err)
	}
}
