package main

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestAgent_Live runs the agent on a veth in a network namespace with -w:
// the pcap header is on disk at once, records of finished connections
// reach the output while the agent runs (not only at exit), the pcap file
// grows within a second of the traffic, and SIGTERM ends it cleanly: with
// one reader and two shards, and with -fanout (a socket per shard).
func TestAgent_Live(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip")
	bin := buildAgent(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"reader", []string{"-shards", "2"}},
		{"fanout", []string{"-shards", "2", "-fanout"}},
	} {
		t.Run(tc.name, func(t *testing.T) { agentLive(t, bin, tc.args) })
	}
}

func agentLive(t *testing.T, bin string, args []string) {
	pair := netns.NewPairT(t, "mfag", 62)
	dump := filepath.Join(t.TempDir(), "live.pcap")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := pair.A.Command(ctx, bin, append([]string{"-i", pair.IfA, "-w", dump, "-o", "text", "-stats"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := os.Stat(dump); err == nil && st.Size() >= 24 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pcap header in the -w file 5 s after start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	netns.TCPEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31062), 2, 5, 200)
	sent := time.Now()
	seen := 0
	timeout := time.After(6 * time.Second)
wait:
	for seen < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				break wait
			}
			if strings.Contains(l, ":31062 ") && strings.Contains(l, "Finish") {
				seen++
			}
		case <-timeout:
			break wait
		}
	}
	if seen != 2 {
		t.Fatalf("%d of 2 finished connections printed while the agent runs (%s after the traffic)", seen, time.Since(sent))
	}
	if st, err := os.Stat(dump); err != nil || st.Size() <= 24 {
		t.Errorf("the -w file holds no packets %s after the traffic (size %v, %v)", time.Since(sent), st.Size(), err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "pcap writer: packets=") {
		t.Errorf("no -stats after SIGTERM:\n%s", stderr.String())
	}
}
