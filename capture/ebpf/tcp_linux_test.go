//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// lossyNetns makes a network namespace whose loopback (MTU 1500) drops loss
// percent (two digits) of its packets, or skips the test when neither netem
// nor iptables can drop them.
func lossyNetns(t *testing.T, name, loss string) {
	t.Helper()
	testutil.RequireCommand(t, "ip", "tc")
	run := func(args ...string) error {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	exec.Command("ip", "netns", "del", name).Run()
	if err := run("ip", "netns", "add", name); err != nil {
		t.Skipf("needs network namespaces: %v", err)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	if err := run("ip", "-n", name, "link", "set", "lo", "up", "mtu", "1500"); err != nil {
		t.Fatal(err)
	}
	// Without segmentation offloads every 1500-byte packet can be dropped.
	// Without ethtool, drop more of the fewer, larger packets.
	if exec.Command("ip", "netns", "exec", name, "ethtool", "-K", "lo", "tso", "off", "gso", "off", "gro", "off").Run() != nil {
		loss = "30"
	}
	// netem where the kernel has it, else iptables' statistic match.
	err := run("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "loss", loss+"%")
	if err != nil {
		err2 := run("ip", "netns", "exec", name, "iptables", "-A", "INPUT", "-p", "tcp", "-m", "statistic",
			"--mode", "random", "--probability", fmt.Sprintf("0.%02s", loss), "-j", "DROP")
		if err2 != nil {
			t.Skipf("needs tc netem (%v) or iptables' statistic match (%v) to drop packets", err, err2)
		}
	}
}

// The client sends 200 KB to the server over the lossy loopback, which
// echoes a short acknowledgement, then both close.
const lossyScript = `
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 26330))
srv.listen()
def serve():
    c, _ = srv.accept()
    n = 0
    while n < 200000:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    c.sendall(b"got %d" % n)
    c.close()
t = threading.Thread(target=serve)
t.start()
cli = socket.create_connection(("127.0.0.1", 26330))
cli.sendall(b"z" * 200000)
print(cli.recv(100).decode())
cli.close()
t.join()
srv.close()
`

// TestTracer_TCPLife checks KindState (the client's and server's TCP state
// changes, attributed to the process) and KindRetransmit (segments netem
// dropped), in a network namespace whose loopback loses 10% of packets.
func TestTracer_TCPLife(t *testing.T) {
	testutil.RequireEBPF(t)
	testutil.RequireCommand(t, "python3")
	lossyNetns(t, "mfebpf26330", "10")
	cmd, out, release := heldCommand(t, "ip", "netns", "exec", "mfebpf26330", "python3", "-c", lossyScript)
	pid := uint32(cmd.Process.Pid)
	c := startTracer(t, Config{Pids: []uint32{pid}})
	release(nil)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || strings.TrimSpace(out.String()) != "got 200000" {
			t.Fatalf("python: %v %q", err, out)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("python did not finish over the lossy loopback")
	}
	// Until the client's socket reaches CLOSE: under 10% loss its last
	// FIN or the ACK of it may be retransmitted several times (RTO
	// backoff), after python has exited.
	evs := c.wait(20*time.Second, func(evs []ev) bool {
		var id uint64
		n := 0
		for _, e := range evs {
			if id == 0 && e.Kind == socket.KindData && e.Direction == socket.Egress && e.Role == socket.RoleClient {
				id = e.SocketID
			}
			if e.Kind == socket.KindState && e.NewState == 7 {
				n++
			}
		}
		if id == 0 || n < 3 { // client, server child, listener
			return false
		}
		for _, e := range evs {
			if e.SocketID == id && e.Kind == socket.KindState && e.NewState == 7 {
				return true
			}
		}
		return false
	})

	// The client socket: its first data event is the 200 KB send.
	var cli ev
	for _, e := range evs {
		if e.Kind == socket.KindData && e.Direction == socket.Egress && e.Role == socket.RoleClient {
			cli = e
			break
		}
	}
	if cli.SocketID == 0 {
		t.Fatalf("no client data event among %d events", len(evs))
	}
	// Egress bytes and first sequence per socket, to place retransmits.
	type stream struct {
		seq uint32
		n   int64
		e   ev
	}
	streams := map[uint64]*stream{}
	for _, e := range evs {
		if e.Kind == socket.KindData && e.Direction == socket.Egress {
			if st := streams[e.SocketID]; st != nil {
				st.n += e.Length
			} else {
				streams[e.SocketID] = &stream{e.TCPSeq, e.Length, e}
			}
		}
	}
	var states []string
	var retrans []ev
	for _, e := range evs {
		if e.Pid != pid && e.Kind >= socket.KindState {
			t.Errorf("event of pid %d, want %d: %+v", e.Pid, pid, e.Event)
		}
		if e.Kind == socket.KindRetransmit {
			retrans = append(retrans, e)
		}
		if e.SocketID == cli.SocketID && e.Kind == socket.KindState {
			states = append(states, fmt.Sprintf("%d>%d", e.OldState, e.NewState))
			if e.Local.Port() != cli.Local.Port() && e.NewState != 7 && e.OldState != 7 {
				t.Errorf("state event local %v, want %v", e.Local, cli.Local)
			}
		}
	}
	// The server's connection, created by the kernel before accept(),
	// belongs to the process that listens on the port: the listener's
	// LISTEN, then the connection's SYN_RECV>ESTABLISHED.
	var srvStates []string
	for _, e := range evs {
		if e.Kind == socket.KindState && e.Local.Port() == 26330 && e.Pid == pid {
			srvStates = append(srvStates, fmt.Sprintf("%d>%d", e.OldState, e.NewState))
		}
	}
	if s := strings.Join(srvStates, " "); !strings.Contains(s, "7>10") || !strings.Contains(s, "3>1") {
		t.Errorf("server port states of pid %d: %q, want 7>10 (listen) and 3>1 (connection established)", pid, s)
	}
	// CLOSE>SYN_SENT, SYN_SENT>ESTABLISHED, then the close handshake down
	// to CLOSE (FIN_WAIT1, FIN_WAIT2, TIME_WAIT or CLOSING, ...).
	got := strings.Join(states, " ")
	if !strings.HasPrefix(got, "7>2 2>1 1>") || !strings.HasSuffix(got, ">7") {
		t.Errorf("client states %q, want 7>2 2>1 1>... >7", got)
	}
	if len(retrans) == 0 {
		t.Errorf("no retransmission reported under 10%% loss")
	}
	for _, e := range retrans {
		st := streams[e.SocketID]
		if st == nil {
			if e.SocketID == 0 || !e.HasSeq {
				t.Errorf("retransmit of an unknown socket: %+v", e.Event)
			}
			continue // the handshake's SYN or SYN-ACK
		}
		// Offsets 0..n, n being the FIN, or -1: the SYN.
		if off := e.TCPSeq - st.seq; !e.HasSeq || (int64(off) > st.n && off != ^uint32(0)) || e.Comm != st.e.Comm || e.Remote != st.e.Remote {
			t.Errorf("retransmit seq %d (offset %d of %d sent), comm %q, remote %v", e.TCPSeq, off, st.n, e.CommString(), e.Remote)
		}
	}
	t.Logf("client states %s; server port states %s; %d retransmissions", got, strings.Join(srvStates, " "), len(retrans))
}
