//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture/socket"
)

// rawDo runs f on the connection's descriptor, waiting for readiness as
// the net package does.
func rawDo(t *testing.T, c syscall.Conn, write bool, f func(fd int) (int, error)) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ferr error
	op := func(fd uintptr) bool {
		n, ferr = f(int(fd))
		return ferr != unix.EAGAIN
	}
	if write {
		err = rc.Write(op)
	} else {
		err = rc.Read(op)
	}
	if err != nil || ferr != nil {
		t.Fatalf("raw call: %v %v", err, ferr)
	}
	return n
}

// TestTracer_Vectored checks that every iovec of writev, readv, sendmsg,
// recvmsg, sendmmsg and recvmmsg reaches the payload, and that each
// message of sendmmsg/recvmmsg is an event of its own.
func TestTracer_Vectored(t *testing.T) {
	t.Run("tracepoints", func(t *testing.T) { testVectored(t, false, 26320) })
	t.Run("raw_tracepoints", func(t *testing.T) { testVectored(t, true, 26325) })
}

// ownCgroup returns the cgroup v2 id (the inode of its directory) of the
// test process.
func ownCgroup(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("cgroup: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			var st unix.Stat_t
			if err := unix.Stat("/sys/fs/cgroup"+p, &st); err != nil {
				t.Skipf("cgroup v2 not mounted at /sys/fs/cgroup: %v", err)
			}
			return st.Ino
		}
	}
	t.Skip("no cgroup v2")
	return 0
}

func testVectored(t *testing.T, raw bool, port int) {
	cfg := Config{Pids: []uint32{uint32(os.Getpid())}, PayloadSize: MaxPayloadSize, ForceRawTracepoints: raw}
	if raw {
		// The other filters pass the process too.
		cfg.CgroupIDs = []uint64{ownCgroup(t)}
		cfg.Comms = []string{commOf(t)}
	}
	c := startTracer(t, cfg)

	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- s
	}()
	cli, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv := <-acc
	if srv == nil {
		t.Fatal("accept failed")
	}
	defer srv.Close()
	cliAddr := netip.MustParseAddrPort(cli.LocalAddr().String())
	srvAddr := netip.MustParseAddrPort(srv.LocalAddr().String())

	// writev of three iovecs, readv into three buffers.
	w1 := [][]byte{[]byte("ab"), []byte("cdef"), bytes.Repeat([]byte("x"), 3000)}
	msg1 := bytes.Join(w1, nil)
	if n := rawDo(t, cli.(syscall.Conn), true, func(fd int) (int, error) { return unix.Writev(fd, w1) }); n != len(msg1) {
		t.Fatalf("writev wrote %d", n)
	}
	got := 0
	for got < len(msg1) {
		bufs := [][]byte{make([]byte, 1), make([]byte, 10), make([]byte, 5000)}
		got += rawDo(t, srv.(syscall.Conn), false, func(fd int) (int, error) { return unix.Readv(fd, bufs) })
	}
	// sendmsg of four buffers, recvmsg into two.
	w2 := [][]byte{[]byte("SEND"), []byte("MSG-"), bytes.Repeat([]byte("y"), 2000), []byte("-END")}
	msg2 := bytes.Join(w2, nil)
	rawDo(t, cli.(syscall.Conn), true, func(fd int) (int, error) { return unix.SendmsgBuffers(fd, w2, nil, nil, 0) })
	got = 0
	for got < len(msg2) {
		bufs := [][]byte{make([]byte, 7), make([]byte, 5000)}
		got += rawDo(t, srv.(syscall.Conn), false, func(fd int) (int, error) {
			n, _, _, _, err := unix.RecvmsgBuffers(fd, bufs, nil, 0)
			return n, err
		})
	}

	// sendmmsg of three UDP messages of two buffers each; recvmmsg.
	u1, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer u1.Close()
	u2, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 2}, u1.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer u2.Close()
	var sent [][]byte
	var batch []ipv4.Message
	for i := range 3 {
		b := [][]byte{[]byte("dgram-" + string(rune('A'+i)) + "-"), bytes.Repeat([]byte{byte('0' + i)}, 100*(i+1))}
		sent = append(sent, bytes.Join(b, nil))
		batch = append(batch, ipv4.Message{Buffers: b})
	}
	if n, err := ipv4.NewPacketConn(u2).WriteBatch(batch, 0); err != nil || n != 3 {
		t.Fatalf("WriteBatch: %d %v", n, err)
	}
	rb := make([]ipv4.Message, 3)
	for i := range rb {
		rb[i].Buffers = [][]byte{make([]byte, 8), make([]byte, 1000)}
	}
	u1.SetReadDeadline(time.Now().Add(2 * time.Second))
	nr := 0
	for nr < 3 {
		n, err := ipv4.NewPacketConn(u1).ReadBatch(rb[nr:], 0)
		if err != nil {
			t.Fatalf("ReadBatch: %v", err)
		}
		nr += n
	}
	u1Addr := netip.MustParseAddrPort(u1.LocalAddr().String())
	u2Addr := netip.MustParseAddrPort(u2.LocalAddr().String())

	// sendto and recvfrom on unconnected sockets: the peer comes from the
	// call's address.
	u3, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 3})
	if err != nil {
		t.Fatal(err)
	}
	defer u3.Close()
	u3Addr := netip.MustParseAddrPort(u3.LocalAddr().String())
	if _, err := u3.WriteToUDPAddrPort([]byte("to-u1"), u1Addr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, from, err := u1.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "to-u1" || from != u3Addr {
		t.Fatalf("ReadFrom: %q %v %v", buf[:n], from, err)
	}

	evs := c.wait(3*time.Second, func(evs []ev) bool {
		return len(dataOn(evs, u1Addr, socket.Ingress)) >= 4
	})
	if g := dataOn(evs, u3Addr, socket.Egress); len(g) != 1 || string(g[0].data) != "to-u1" || g[0].Remote != u1Addr {
		t.Errorf("sendto: %d events, want one to %v: %+v", len(g), u1Addr, g)
	}
	if g := dataOn(evs, u1Addr, socket.Ingress); len(g) != 4 || string(g[3].data) != "to-u1" || g[3].Remote != u3Addr {
		t.Errorf("recvfrom: want the 4th event of %v from %v: %+v", u1Addr, u3Addr, g)
	}
	want := append(append([]byte(nil), msg1...), msg2...)
	if g := concat(dataOn(evs, cliAddr, socket.Egress)); !bytes.Equal(g, want) {
		t.Errorf("writev+sendmsg: payloads %q, want %q", trunc(g), trunc(want))
	}
	if g := dataOn(evs, cliAddr, socket.Egress); len(g) != 2 || g[0].Length != int64(len(msg1)) || g[1].Length != int64(len(msg2)) {
		t.Errorf("writev+sendmsg: %d events, want 2 of %d and %d bytes", len(g), len(msg1), len(msg2))
	}
	if g := concat(dataOn(evs, srvAddr, socket.Ingress)); !bytes.Equal(g, want) {
		t.Errorf("readv+recvmsg: payloads %q, want %q", trunc(g), trunc(want))
	}
	for _, d := range []struct {
		name  string
		local netip.AddrPort
		dir   socket.Direction
		peer  netip.AddrPort
	}{{"sendmmsg", u2Addr, socket.Egress, u1Addr}, {"recvmmsg", u1Addr, socket.Ingress, u2Addr}} {
		g := dataOn(evs, d.local, d.dir)
		if len(g) < 3 {
			t.Errorf("%s: %d events, want 3", d.name, len(g))
			continue
		}
		g = g[:3]
		for i, e := range g {
			if !bytes.Equal(e.data, sent[i]) || e.Length != int64(len(sent[i])) || e.Transport != socket.UDP || e.HasSeq {
				t.Errorf("%s message %d: %q (length %d, %v), want %q", d.name, i, trunc(e.data), e.Length, e.Transport, trunc(sent[i]))
			}
			if e.Remote != d.peer {
				t.Errorf("%s message %d: remote %v, want %v", d.name, i, e.Remote, d.peer)
			}
		}
	}
	for _, e := range evs {
		if e.CgroupID == 0 || (cfg.CgroupIDs != nil && e.CgroupID != cfg.CgroupIDs[0]) {
			t.Errorf("event of cgroup %d, want %v", e.CgroupID, cfg.CgroupIDs)
			break
		}
	}
}
