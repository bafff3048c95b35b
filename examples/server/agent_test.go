package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServer_AgentCLI runs the example agent binary with -server against
// the server: the rows stored are the records it printed.
func TestServer_AgentCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	build := exec.Command("go", "build", "-o", bin, "../agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // the agent stays cgo-free
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	const token = "agent-token"
	ts := startServer(t, options{db: filepath.Join(dir, "cli.duckdb"), token: token, maxBytes: 64 << 20})
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "-r", "../../testdata/l7/http-nginx.pcap", "-server", ts.url, "-server-token", token, "-spool", filepath.Join(dir, "spool"))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("agent: %v: %s", err, errb.String())
	}
	n4 := strings.Count(out.String(), `"type":"l4_flow_log"`)
	n7 := strings.Count(out.String(), `"type":"l7_flow_log"`)
	var s4, s7 int
	ts.st.DB().QueryRow("SELECT count(*) FROM l4_flow_log").Scan(&s4)
	ts.st.DB().QueryRow("SELECT count(*) FROM l7_flow_log").Scan(&s7)
	if n7 == 0 || s4 != n4 || s7 != n7 {
		t.Fatalf("agent printed %d l4 and %d l7 records, the server stored %d and %d", n4, n7, s4, s7)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "spool")); len(ents) != 0 {
		t.Fatalf("%d files left in the spool", len(ents))
	}
	// A wrong token: the agent reports the batches it could not deliver.
	cmd = exec.Command(bin, "-r", "../../testdata/l7/http-nginx.pcap", "-server", ts.url, "-server-token", "wrong", "-server-wait", "300ms")
	errb.Reset()
	cmd.Stdout, cmd.Stderr = nil, &errb
	if err := cmd.Run(); err == nil || !strings.Contains(errb.String(), "401") {
		t.Fatalf("agent with a wrong token: %v: %s", err, errb.String())
	}
}
