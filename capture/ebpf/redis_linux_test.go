//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// startRedis starts redis-server on 127.0.0.1:port as a child and returns
// its process once it answers.
func startRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	testutil.RequireCommand(t, "redis-server", "redis-cli")
	srv := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
		"--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return srv
		}
		if i > 100 {
			t.Fatalf("redis-server does not answer on %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heldCommand starts name args under a shell that waits for a line on its
// stdin before exec'ing the program, so that its pid is known before it
// makes a system call; release lets it run.
func heldCommand(t *testing.T, name string, args ...string) (cmd *exec.Cmd, out *bytes.Buffer, release func(stdin []byte)) {
	t.Helper()
	q := []string{"exec", name}
	for _, a := range args {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	cmd = exec.Command("sh", "-c", "read _ && "+strings.Join(q, " "))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out = new(bytes.Buffer)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cmd, out, func(stdin []byte) {
		io.WriteString(in, "go\n")
		in.Write(stdin)
		in.Close()
	}
}

// startTcpdump captures TCP port on lo into a pcap; stop ends it and
// returns the file.
func startTcpdump(t *testing.T, port int) (stop func() string) {
	t.Helper()
	testutil.RequireCommand(t, "tcpdump")
	path := filepath.Join(t.TempDir(), "lo.pcap")
	cmd := exec.Command("tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-s", "262144", "-w", path, "tcp port "+strconv.Itoa(port))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "listening on") {
				once = true
				close(ready)
			}
		}
		if !once {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatalf("tcpdump did not start")
	}
	return func() string {
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		return path
	}
}

// segment is a TCP segment with payload read from a pcap.
type segment struct {
	src, dst netip.AddrPort
	seq      uint32
	payload  []byte
}

func readSegments(t *testing.T, path string) []segment {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("pcap: %v", err)
	}
	var segs []segment
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip4 == nil || tcp == nil || len(tcp.Payload) == 0 {
			continue
		}
		src, _ := netip.AddrFromSlice(ip4.SrcIP.To4())
		dst, _ := netip.AddrFromSlice(ip4.DstIP.To4())
		segs = append(segs, segment{
			src: netip.AddrPortFrom(src, uint16(tcp.SrcPort)), dst: netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
			seq: tcp.Seq, payload: bytes.Clone(tcp.Payload),
		})
	}
	return segs
}

// resp encodes a command as a RESP array of bulk strings.
func resp(args ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// TestTracer_Redis traces a real redis-server and redis-cli: a SET of a
// 40 KiB value and a GET of it. Both sides' payloads must concatenate to
// the RESP bytes, lengths add up, roles, addresses and command names are
// right, and the first byte of each request and reply carries the TCP
// sequence number tcpdump sees on lo.
func TestTracer_Redis(t *testing.T) {
	testutil.RequireEBPF(t)
	const port = 26310
	srv := startRedis(t, port)
	value := strings.Repeat("0123456789abcdef", 40<<10/16)
	setCmd := resp("SET", "k40", value)
	// redis-cli --pipe writes what it reads from stdin in writes of at most
	// 16 KiB (then an ECHO of its own to know when the server is done).
	cli, cliOut, release := heldCommand(t, "redis-cli", "-p", strconv.Itoa(port), "--pipe")
	c := startTracer(t, Config{
		Pids:        []uint32{uint32(srv.Process.Pid), uint32(cli.Process.Pid)},
		PayloadSize: MaxPayloadSize,
	})
	stop := startTcpdump(t, port)
	release(setCmd)
	if err := cli.Wait(); err != nil || !strings.Contains(cliOut.String(), "errors: 0, replies: 1") {
		t.Fatalf("redis-cli --pipe SET: %v %q", err, cliOut)
	}
	get, getOut, release2 := heldCommand(t, "redis-cli", "-p", strconv.Itoa(port), "GET", "k40")
	if err := c.tr.AddPids(uint32(get.Process.Pid)); err != nil {
		t.Fatalf("AddPids: %v", err)
	}
	release2(nil)
	if err := get.Wait(); err != nil || strings.TrimSpace(getOut.String()) != value {
		t.Fatalf("redis-cli GET: %v (%d bytes)", err, getOut.Len())
	}
	getCmd := resp("GET", "k40")
	getReply := []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(value), value))
	srvPid := uint32(srv.Process.Pid)
	evs := c.wait(5*time.Second, func(evs []ev) bool {
		var n int64
		for _, e := range evs {
			if e.Kind == socket.KindData && e.Pid == srvPid && e.Direction == socket.Egress {
				n += e.Length
			}
		}
		return n >= int64(5+len(getReply))
	})
	pcap := stop()
	for _, e := range evs {
		if p := e.Pid; p != srvPid && p != uint32(cli.Process.Pid) && p != uint32(get.Process.Pid) {
			t.Errorf("event of pid %d passed the pid filter: %+v", p, e.Event)
			break
		}
	}

	// Group data events by (pid, socket, direction).
	type key struct {
		pid    uint32
		socket uint64
		dir    socket.Direction
	}
	groups := map[key][]ev{}
	var order []key
	for _, e := range evs {
		if e.Kind != socket.KindData {
			continue
		}
		k := key{e.Pid, e.SocketID, e.Direction}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	find := func(pid uint32, dir socket.Direction, prefix []byte) []ev {
		for _, k := range order {
			g := groups[k]
			if k.pid == pid && k.dir == dir && bytes.HasPrefix(g[0].data, prefix[:min(len(prefix), len(g[0].data))]) && len(g[0].data) > 0 {
				return g
			}
		}
		t.Fatalf("no %v events of pid %d starting with %q", dir, pid, trunc(prefix))
		return nil
	}
	cliPid := uint32(cli.Process.Pid)
	cliSet := find(cliPid, socket.Egress, setCmd)
	srvSet := find(srvPid, socket.Ingress, setCmd)
	srvOK := find(srvPid, socket.Egress, []byte("+OK\r\n"))
	cliOK := find(cliPid, socket.Ingress, []byte("+OK\r\n"))
	srvGet := find(srvPid, socket.Ingress, getCmd)
	srvReply := find(srvPid, socket.Egress, getReply)
	cliReply := find(uint32(get.Process.Pid), socket.Ingress, getReply)

	// Each event's payload is the next bytes of the stream: whole when the
	// call moved at most the capture size, else its first 16 KiB.
	check := func(name string, g []ev, want []byte, whole bool) {
		t.Helper()
		off := 0
		var all []byte
		for _, e := range g {
			if off >= len(want) {
				break
			}
			end := min(off+len(e.data), len(want))
			if !bytes.Equal(e.data[:end-off], want[off:end]) {
				t.Errorf("%s: payload at offset %d differs from the bytes sent", name, off)
				return
			}
			wantLen := min(e.Length, MaxPayloadSize)
			if int64(len(e.data)) != wantLen {
				t.Errorf("%s: payload %d bytes for a call of %d", name, len(e.data), e.Length)
			}
			all = append(all, e.data...)
			off += int(e.Length)
		}
		if off < len(want) {
			t.Errorf("%s: calls moved %d bytes, want %d", name, off, len(want))
		}
		if whole && !bytes.HasPrefix(all, want) {
			t.Errorf("%s: payloads concatenate to %d bytes %q, want %d bytes %q", name, len(all), trunc(all), len(want), trunc(want))
		}
	}
	check("client SET writes", cliSet, setCmd, true)
	check("server SET reads", srvSet, setCmd, false)
	check("server +OK write", srvOK, []byte("+OK\r\n"), true)
	check("client +OK read", cliOK, []byte("+OK\r\n"), true)
	check("server GET read", srvGet, getCmd, true)
	check("server GET reply", srvReply, getReply, false)
	check("client GET reply reads", cliReply, getReply, true)
	if len(cliSet) < 3 {
		t.Errorf("redis-cli wrote the 40 KiB SET in %d calls; want it split", len(cliSet))
	}
	if st := c.tr.Stats(); st.Truncated == 0 || st.Lost != 0 {
		t.Errorf("Stats %+v: want truncated events and no loss", st)
	}

	// Roles, addresses, names.
	srvAddr := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", port))
	for _, d := range []struct {
		g    []ev
		role socket.Role
		comm string
	}{{cliSet, socket.RoleClient, "redis-cli"}, {cliOK, socket.RoleClient, "redis-cli"},
		{srvSet, socket.RoleServer, "redis-server"}, {srvOK, socket.RoleServer, "redis-server"}} {
		for _, e := range d.g {
			if e.Role != d.role || e.CommString() != d.comm || e.Transport != socket.TCP {
				t.Errorf("%s event: role %v comm %q transport %v", d.comm, e.Role, e.CommString(), e.Transport)
			}
		}
	}
	if cliSet[0].Remote != srvAddr || srvSet[0].Local != srvAddr || srvSet[0].Remote != cliSet[0].Local {
		t.Errorf("addresses: client %v->%v, server %v<-%v", cliSet[0].Local, cliSet[0].Remote, srvSet[0].Local, srvSet[0].Remote)
	}
	if cliSet[0].SocketID == srvSet[0].SocketID {
		t.Errorf("client and server sockets share id %d", cliSet[0].SocketID)
	}
	// The server thread's read of SET and write of +OK share a trace id.
	if srvSet[0].SyscallTraceID == 0 || srvSet[0].SyscallTraceID != srvOK[0].SyscallTraceID {
		t.Errorf("server trace ids: SET read %d, +OK write %d", srvSet[0].SyscallTraceID, srvOK[0].SyscallTraceID)
	}
	if srvGet[0].SyscallTraceID == srvSet[0].SyscallTraceID {
		t.Errorf("GET and SET share trace id %d", srvGet[0].SyscallTraceID)
	}

	// TCP sequence numbers against the wire.
	segs := readSegments(t, pcap)
	if len(segs) == 0 {
		t.Fatalf("tcpdump captured no segments")
	}
	for _, d := range []struct {
		name string
		e    ev
		from netip.AddrPort
	}{
		{"client SET write", cliSet[0], cliSet[0].Local},
		{"server SET read", srvSet[0], srvSet[0].Remote},
		{"server +OK write", srvOK[0], srvAddr},
		{"client +OK read", cliOK[0], srvAddr},
		{"server GET read", srvGet[0], srvGet[0].Remote},
		{"server GET reply", srvReply[0], srvAddr},
		{"client GET reply read", cliReply[0], srvAddr},
	} {
		if !d.e.HasSeq {
			t.Errorf("%s: no TCP sequence", d.name)
			continue
		}
		var first *segment
		for i := range segs {
			s := &segs[i]
			if s.src == d.from && len(d.e.data) > 0 && bytes.HasPrefix(s.payload, d.e.data[:min(len(d.e.data), len(s.payload), 32)]) && s.seq == d.e.TCPSeq {
				first = s
				break
			}
		}
		if first == nil {
			var seqs []uint32
			for _, s := range segs {
				if s.src == d.from {
					seqs = append(seqs, s.seq)
				}
			}
			t.Errorf("%s: event seq %d matches no segment from %v carrying its first bytes (segments' seqs %v)", d.name, d.e.TCPSeq, d.from, seqs)
		}
	}
}
