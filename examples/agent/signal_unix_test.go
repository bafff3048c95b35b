//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// buildAgent builds the agent binary once per test.
func buildAgent(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "agent")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestAgent_SIGINTDuringReplay: a replay interrupted with SIGINT (its input
// a pipe that has not ended) writes every record and its -stats, and exits
// with status 0.
func TestAgent_SIGINTDuringReplay(t *testing.T) {
	bin := buildAgent(t)
	data, err := os.ReadFile(testutil.Testdata(t, "l7/http-nginx.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "in.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-r", fifo, "-stats", "-shards", "2")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	// The pipe stays open: the agent waits for more packets. Give it a
	// second to read and decode what was written (a few kilobytes).
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("agent after SIGINT: %v\nstderr: %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("agent did not exit 10 s after SIGINT")
	}
	l4 := strings.Count(stdout.String(), `"type":"l4_flow_log"`)
	l7 := strings.Count(stdout.String(), `"type":"l7_flow_log"`)
	if l4 != 6 || l7 != 15 {
		t.Errorf("after SIGINT: %d l4 and %d l7 records; want all 6 and 15", l4, l7)
	}
	for _, want := range []string{"capture: packets=", "decode:", "flow:", "l7: segments=", "budget_gaps=", "sink 0: records=21"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("-stats output lacks %q:\n%s", want, stderr.String())
		}
	}
}
