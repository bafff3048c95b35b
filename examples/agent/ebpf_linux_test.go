package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestAgent_EBPF runs the agent with -ebpf -comm on a redis-server and
// redis-cli exchange (port 26460): Redis l7_flow_log records from both
// processes with their names, and ebpf_socket_log records, written before
// the agent exits on SIGINT.
func TestAgent_EBPF(t *testing.T) {
	testutil.RequireEBPF(t)
	testutil.RequireCommand(t, "redis-server", "redis-cli")
	bin := buildAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agent := exec.CommandContext(ctx, bin, "-ebpf", "-comm", "redis-server,redis-cli", "-o", "json", "-stats")
	stdout, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	srv := exec.CommandContext(ctx, "redis-server", "--port", "26460", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:26460"); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server does not listen")
		}
	}
	// The tracer attaches while the agent starts (longer on a busy
	// machine): SET until records of it come out.
	var sets, socks int
	names := map[string]bool{}
	read := func(l string) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		switch rec["type"] {
		case "l7_flow_log":
			if rec["request_resource"] == "SET agentkey 1" && rec["response_status"] == "Ok" {
				sets++
				for _, k := range []string{"process_kname_0", "process_kname_1"} {
					if n, ok := rec[k].(string); ok {
						names[n] = true
					}
				}
			}
		case "ebpf_socket_log":
			if rec["server_port"] == 26460.0 {
				socks++
			}
		}
	}
	for deadline := time.Now().Add(30 * time.Second); sets < 2 || socks < 2; {
		if time.Now().After(deadline) {
			break
		}
		if out, err := exec.Command("redis-cli", "-p", "26460", "SET", "agentkey", "1").CombinedOutput(); err != nil {
			t.Fatalf("redis-cli: %v: %s", err, out)
		}
		for wait := time.After(500 * time.Millisecond); ; {
			select {
			case l := <-lines:
				read(l)
				continue
			case <-wait:
			}
			break
		}
	}
	t.Logf("before SIGINT: %d SET records, %d socket records", sets, socks)
	agent.Process.Signal(syscall.SIGINT)
	for l := range lines {
		read(l)
	}
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr.String())
	}
	if sets < 2 || sets%2 != 0 || !names["redis-cli"] || !names["redis-server"] || socks < 2 {
		t.Errorf("%d SET records (want 2 per command) from %v, %d socket records (want 2 or more)\nstderr:\n%s", sets, names, socks, stderr.String())
	}
	if !strings.Contains(stderr.String(), "socket: events=") {
		t.Errorf("-stats lacks the socket counters:\n%s", stderr.String())
	}
}

// TestAgent_EBPFNotRoot runs the agent with -ebpf as an unprivileged user:
// it exits with status 2 and a message naming the missing permission.
func TestAgent_EBPFNotRoot(t *testing.T) {
	testutil.RequireRoot(t)
	// A folder the unprivileged user can enter (t.TempDir's are 0700).
	dir, err := os.MkdirTemp("", "agent-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-ebpf")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("agent -ebpf as nobody: %v, want exit status 2: %s", err, out)
	}
	msg := strings.ToLower(string(out))
	if !strings.Contains(msg, "-ebpf") || !strings.Contains(msg, "permission") {
		t.Errorf("message %q does not say -ebpf lacks permission", out)
	}
}
