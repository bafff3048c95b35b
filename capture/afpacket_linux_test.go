//go:build linux

package capture_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

const nsPrefix = "mf-h2-"

func TestOpenAFPacket_Config(t *testing.T) {
	page := os.Getpagesize()
	for _, tc := range []struct {
		name string
		cfg  capture.AFPacketConfig
	}{
		{"block not page multiple", capture.AFPacketConfig{BlockSize: page + 1}},
		{"block too big", capture.AFPacketConfig{BlockSize: capture.MaxAFPacketBlockSize * 2}},
		{"ring too big", capture.AFPacketConfig{BlockSize: capture.MaxAFPacketBlockSize, NumBlocks: 64}},
		{"timeout too short", capture.AFPacketConfig{BlockTimeout: time.Microsecond}},
		{"snaplen too small", capture.AFPacketConfig{Snaplen: 10}},
		{"snaplen over block", capture.AFPacketConfig{BlockSize: page, Snaplen: page}},
		{"unknown fanout", capture.AFPacketConfig{Fanout: 9}},
		{"filter and bpf", capture.AFPacketConfig{Filter: "tcp", BPF: []bpf.RawInstruction{{Op: 6}}}},
		{"filter without compiler", capture.AFPacketConfig{Filter: "tcp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := capture.OpenAFPacket(tc.cfg)
			if err == nil {
				src.Close()
				t.Fatal("OpenAFPacket succeeded")
			}
			if !strings.Contains(err.Error(), "invalid AF_PACKET config") {
				t.Errorf("error %q does not name the config", err)
			}
		})
	}
}

// TestOpenAFPacket_Permission opens a socket in a child process without
// privileges (and with CAP_NET_RAW alone) and checks the error names the
// missing capability.
func TestOpenAFPacket_Permission(t *testing.T) {
	if mode := os.Getenv("MF_AFPACKET_CHILD"); mode != "" {
		src, err := capture.OpenAFPacket(capture.AFPacketConfig{Interface: "lo", NumBlocks: 1})
		switch mode {
		case "none":
			if !errors.Is(err, capture.ErrPermission) || !strings.Contains(err.Error(), "CAP_NET_RAW") {
				t.Fatalf("without privilege: err = %v, want ErrPermission naming CAP_NET_RAW", err)
			}
			t.Logf("error text: %v", err)
		case "netraw":
			if err != nil {
				t.Fatalf("with CAP_NET_RAW: %v", err)
			}
			src.Close()
		}
		return
	}
	if os.Geteuid() != 0 {
		_, err := capture.OpenAFPacket(capture.AFPacketConfig{Interface: "lo", NumBlocks: 1})
		if !errors.Is(err, capture.ErrPermission) || !strings.Contains(err.Error(), "CAP_NET_RAW") {
			t.Fatalf("err = %v, want ErrPermission naming CAP_NET_RAW", err)
		}
		return
	}
	// As root, run this test's binary again as nobody.
	dir, err := os.MkdirTemp("", "mf-h2-perm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "capture.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode string
		caps []uintptr
	}{{"none", nil}, {"netraw", []uintptr{13 /* CAP_NET_RAW */}}} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestOpenAFPacket_Permission$", "-test.v")
			cmd.Env = append(os.Environ(), "MF_AFPACKET_CHILD="+tc.mode)
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
				AmbientCaps: tc.caps,
			}
			out, err := cmd.CombinedOutput()
			t.Logf("child output:\n%s", out)
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
		})
	}
}

// TestAFPacketSource_Veth captures a real TCP exchange across a veth pair
// and checks every packet against tcpdump's capture of the same interface.
func TestAFPacketSource_Veth(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 21)
	for _, tc := range []struct {
		name  string
		cfg   capture.AFPacketConfig
		batch int // read with ReadPackets, up to batch packets a call
	}{
		{"defaults", capture.AFPacketConfig{Interface: pair.IfA}, 0},
		{"small blocks", capture.AFPacketConfig{Interface: pair.IfA, BlockSize: 1 << 17, NumBlocks: 64, BlockTimeout: 5 * time.Millisecond, Promiscuous: true}, 0},
		{"batches", capture.AFPacketConfig{Interface: pair.IfA}, 7},
		{"small blocks, batches", capture.AFPacketConfig{Interface: pair.IfA, BlockSize: 1 << 17, NumBlocks: 64, BlockTimeout: 5 * time.Millisecond}, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := openIn(t, pair.A, tc.cfg)
			if src.LinkType() != capture.LinkEthernet {
				t.Errorf("LinkType = %v, want ETHERNET", src.LinkType())
			}
			col := collectBatches(src, tc.batch)
			td := startTcpdump(t, pair.A, pair.IfA)
			tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31021), 4, 50, 3000)
			settle(tc.cfg)
			want, link, drops := td.stop(t)
			got := col.stop(t)
			if link != capture.LinkEthernet || drops != 0 {
				t.Fatalf("tcpdump: link %v, %d drops", link, drops)
			}
			if len(want) < 4*50*2 {
				t.Fatalf("tcpdump saw only %d packets", len(want))
			}
			compareRecs(t, "veth", got, want)
			st := src.Stats()
			if st.Packets != uint64(len(got)) || st.Dropped != 0 {
				t.Errorf("Stats = %+v, want Packets %d and no drops", st, len(got))
			}
		})
	}
}

// TestAFPacketSource_Any captures on all interfaces of a namespace (cooked
// headers) and compares with tcpdump -i any writing LINUX_SLL.
func TestAFPacketSource_Any(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 22)
	cfg := capture.AFPacketConfig{Interface: "any"}
	src := openIn(t, pair.A, cfg)
	if src.LinkType() != capture.LinkLinuxSLL {
		t.Errorf("LinkType = %v, want LINUX_SLL", src.LinkType())
	}
	col := collect(src)
	td := startTcpdump(t, pair.A, "any", "-y", "LINUX_SLL")
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31022), 2, 30, 2000)
	// Loopback traffic inside A too: each packet once, not twice.
	tcpEcho(t, pair.A, pair.A, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 31122), 1, 20, 500)
	settle(cfg)
	want, link, drops := td.stop(t)
	got := col.stop(t)
	if link != capture.LinkLinuxSLL || drops != 0 {
		t.Fatalf("tcpdump: link %v, %d drops", link, drops)
	}
	compareRecs(t, "any", got, want)
}

// TestAFPacketSource_Loopback checks that a namespace's own loopback is
// captured once per packet (not once leaving and once arriving), as
// tcpdump -i lo does.
func TestAFPacketSource_Loopback(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	ns := netns.NewT(t, nsPrefix+"lo-")
	cfg := capture.AFPacketConfig{Interface: "lo"}
	src := openIn(t, ns, cfg)
	col := collect(src)
	td := startTcpdump(t, ns, "lo")
	tcpEcho(t, ns, ns, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 31023), 2, 20, 1000)
	settle(cfg)
	want, _, _ := td.stop(t)
	got := col.stop(t)
	compareRecs(t, "lo", got, want)
}

// TestAFPacketSource_Fanout runs two sources in one fan-out group and
// checks that together they saw every packet tcpdump saw, each exactly once.
func TestAFPacketSource_Fanout(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 23)
	for i, mode := range []capture.FanoutMode{capture.FanoutHash, capture.FanoutLB, capture.FanoutCPU} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := capture.AFPacketConfig{Interface: pair.IfA, Fanout: mode, FanoutGroup: uint16(4200 + i)}
			c1, c2 := collect(openIn(t, pair.A, cfg)), collect(openIn(t, pair.A, cfg))
			td := startTcpdump(t, pair.A, pair.IfA)
			tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, uint16(31030+i)), 8, 10, 1000)
			settle(cfg)
			want, _, drops := td.stop(t)
			got1, got2 := c1.stop(t), c2.stop(t)
			t.Logf("%v: reader 1 %d, reader 2 %d, tcpdump %d (%d drops)", mode, len(got1), len(got2), len(want), drops)
			seen := map[string]int{}
			for _, r := range want {
				seen[string(r.data)]++
			}
			for _, r := range append(got1, got2...) {
				seen[string(r.data)]--
			}
			for k, n := range seen {
				if n != 0 {
					t.Fatalf("packet % x: tcpdump count minus fan-out count = %d", head([]byte(k)), n)
				}
			}
			if len(got1)+len(got2) != len(want) {
				t.Fatalf("readers saw %d+%d, tcpdump %d", len(got1), len(got2), len(want))
			}
			if mode == capture.FanoutLB && (len(got1) == 0 || len(got2) == 0) {
				t.Errorf("load balancing left a reader idle: %d and %d", len(got1), len(got2))
			}
		})
	}
}

// TestOpenAFPacketFanout: two sets of sources opened on one interface get
// groups of their own (each set sees every packet tcpdump sees, each
// packet once), and a TCP conversation reaches one source of a set in
// both directions.
func TestOpenAFPacketFanout(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 35)
	cfg := capture.AFPacketConfig{Interface: pair.IfA, FanoutDefrag: true}
	var sets [2][]*capture.AFPacketSource
	for i := range sets {
		if err := pair.A.Do(func() (err error) {
			sets[i], err = capture.OpenAFPacketFanout(cfg, 2)
			return err
		}); err != nil {
			t.Fatalf("OpenAFPacketFanout: %v", err)
		}
		for _, s := range sets[i] {
			t.Cleanup(func() { s.Close() })
		}
	}
	var cols [2][2]*collector
	for i := range sets {
		for j, s := range sets[i] {
			cols[i][j] = collect(s)
		}
	}
	td := startTcpdump(t, pair.A, pair.IfA)
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31035), 8, 10, 1000)
	settle(cfg)
	want, _, drops := td.stop(t)
	for i := range sets {
		got := [2][]rec{cols[i][0].stop(t), cols[i][1].stop(t)}
		t.Logf("set %d: %d + %d packets, tcpdump %d (%d drops)", i, len(got[0]), len(got[1]), len(want), drops)
		if len(got[0])+len(got[1]) != len(want) {
			t.Errorf("set %d: sources saw %d+%d packets, tcpdump %d", i, len(got[0]), len(got[1]), len(want))
		}
		// A TCP conversation's frames carry its client port (the
		// server's is 31035): each port's frames reach one source.
		where := map[uint16]int{}
		for j, rs := range got {
			for _, r := range rs {
				if len(r.data) < 14+20+4 || r.data[12] != 0x08 || r.data[13] != 0x00 || r.data[14+9] != 6 {
					continue
				}
				l4 := r.data[14+int(r.data[14]&0x0f)*4:]
				port := uint16(l4[0])<<8 | uint16(l4[1])
				if port == 31035 {
					port = uint16(l4[2])<<8 | uint16(l4[3])
				}
				where[port] |= 1 << j
			}
		}
		if len(where) < 8 {
			t.Errorf("set %d: frames of %d client ports, want the 8 connections'", i, len(where))
		}
		for port, m := range where {
			if m == 3 {
				t.Errorf("set %d: the conversation of client port %d reached both sources", i, port)
			}
		}
	}
	if _, err := capture.OpenAFPacketFanout(cfg, 0); err == nil {
		t.Error("OpenAFPacketFanout(cfg, 0) succeeded")
	}
}

// TestAFPacketSource_ReadDeadline checks that a deadline ends a wait on an
// idle link with os.ErrDeadlineExceeded, that the source still delivers
// packets after it (also past the deadline, while it holds some), and that
// SetReadDeadline after Close gives ErrClosed.
func TestAFPacketSource_ReadDeadline(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	pair := netns.NewPairT(t, nsPrefix, 34)
	src := openIn(t, pair.A, capture.AFPacketConfig{Interface: pair.IfA, BlockTimeout: 5 * time.Millisecond})
	var p capture.Packet
	for _, wait := range []time.Duration{30 * time.Millisecond, 0, -time.Second} {
		start := time.Now()
		if err := src.SetReadDeadline(start.Add(wait)); err != nil {
			t.Fatalf("SetReadDeadline: %v", err)
		}
		err := src.ReadPacket(&p)
		el := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("deadline in %v: ReadPacket = %v, want os.ErrDeadlineExceeded", wait, err)
		}
		if el < wait || el > max(wait, 0)+500*time.Millisecond {
			t.Errorf("deadline in %v: ReadPacket returned after %v", wait, el)
		}
	}

	// Past its deadline the source still delivers what it has captured.
	dst := netip.AddrPortFrom(pair.AddrA, 31034)
	udpSink(t, pair.A, dst)
	udpBlast(t, pair.B, dst, 20, 64, 20, 0)
	time.Sleep(100 * time.Millisecond) // the block is retired
	if err := src.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	got := 0
	for {
		err := src.ReadPacket(&p)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("ReadPacket past the deadline: %v", err)
		}
		got++
	}
	if got < 20 {
		t.Errorf("read %d packets past the deadline, want at least the 20 sent", got)
	}

	// A deadline cleared while the reader waits leaves it waiting; a
	// packet then wakes it.
	if err := src.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := readAsync(src)
	stillWaiting(t, done, "without a deadline")
	udpBlast(t, pair.B, dst, 1, 64, 1, 0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ReadPacket after a packet: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("reader still waiting 1 s after a packet")
	}

	src.Close()
	if err := src.SetReadDeadline(time.Now()); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("SetReadDeadline after Close = %v, want ErrClosed", err)
	}
}

// TestAFPacketSource_CloseUnblocks checks that Close wakes a reader blocked
// in the poller on an idle interface within 200 ms.
func TestAFPacketSource_CloseUnblocks(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, nsPrefix, 24)
	src := openIn(t, pair.A, capture.AFPacketConfig{Interface: pair.IfA, BlockTimeout: time.Minute})
	done := readAsync(src)
	stillWaiting(t, done, "before Close")
	start := time.Now()
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The block timeout is a minute: a reader back within seconds was woken
	// by Close (it takes milliseconds; a loaded host once took 201 ms).
	select {
	case err := <-done:
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("reader returned %v after Close", el)
		} else {
			t.Logf("reader returned %v after Close", el)
		}
		if !errors.Is(err, capture.ErrClosed) {
			t.Errorf("ReadPacket = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader still blocked 10 s after Close")
	}
	var p capture.Packet
	if err := src.ReadPacket(&p); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("ReadPacket after Close = %v, want ErrClosed", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestAFPacketSource_CloseReleasesFDs opens and closes sources, some with
// a reader waiting in the poller when Close comes: every descriptor (the
// socket and its duplicate in the poller) is closed.
func TestAFPacketSource_CloseReleasesFDs(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, nsPrefix, 25)
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd: %v", err)
		}
		return len(ents)
	}
	before := fds()
	for i := range 20 {
		src := openIn(t, pair.A, capture.AFPacketConfig{Interface: pair.IfA, BlockTimeout: time.Minute})
		done := make(chan error, 1)
		if i%2 == 0 {
			done = readAsync(src)
			time.Sleep(5 * time.Millisecond)
		} else {
			done <- capture.ErrClosed
		}
		if err := src.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-done; !errors.Is(err, capture.ErrClosed) {
			t.Fatalf("ReadPacket = %v, want ErrClosed", err)
		}
	}
	if after := fds(); after != before {
		t.Errorf("%d descriptors open before 20 sources, %d after they closed", before, after)
	}
}

// TestAFPacketSource_Drops stalls the reader on a tiny ring and checks that
// every packet sent is either read or counted as dropped by the kernel.
func TestAFPacketSource_Drops(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, nsPrefix, 25)
	page := os.Getpagesize()
	cfg := capture.AFPacketConfig{Interface: pair.IfA, BlockSize: page, NumBlocks: 2, Snaplen: 128, BlockTimeout: time.Millisecond}
	src := openIn(t, pair.A, cfg)
	dst := netip.AddrPortFrom(pair.AddrA, 31025)
	udpSink(t, pair.A, dst)
	const sent = 2000
	udpBlast(t, pair.B, dst, sent, 200, 100, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	// Now drain what the ring kept.
	col := collect(src)
	deadline := time.Now().Add(3 * time.Second)
	for last := -1; time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if n := col.count(); n == last {
			break
		} else {
			last = n
		}
	}
	st := src.Stats()
	got := col.stop(t)
	t.Logf("sent %d, read %d, stats %+v", sent, len(got), st)
	if st.Dropped == 0 || st.Freezes == 0 {
		t.Errorf("Stats = %+v, want drops and freezes", st)
	}
	if uint64(len(got))+st.Dropped != sent {
		t.Errorf("read %d + dropped %d != sent %d", len(got), st.Dropped, sent)
	}
	for _, r := range got {
		if len(r.data) != 128 || r.length != 14+20+8+200 {
			t.Fatalf("packet caplen %d len %d, want 128 of %d", len(r.data), r.length, 14+20+8+200)
		}
	}
	if st.Truncated != uint64(len(got)) {
		t.Errorf("Truncated = %d, want %d", st.Truncated, len(got))
	}
}

// TestAFPacketSource_BPF attaches tcpdump's own compiled program for a
// filter and checks the source selects exactly what tcpdump selects.
func TestAFPacketSource_BPF(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 26)
	const expr = "tcp port 31026 and tcp[tcpflags] & tcp-push != 0"
	out, err := pair.A.Command(t.Context(), "tcpdump", "-i", pair.IfA, "-ddd", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump -ddd: %v", err)
	}
	prog := parseDDD(t, string(out))
	cfg := capture.AFPacketConfig{Interface: pair.IfA, BPF: prog}
	src := openIn(t, pair.A, cfg)
	col := collect(src)
	td := startTcpdump(t, pair.A, pair.IfA, expr)
	// Traffic the filter rejects (other port, UDP) mixed with traffic it keeps.
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31126), 1, 20, 500)
	udpSink(t, pair.A, netip.AddrPortFrom(pair.AddrA, 31226))
	udpBlast(t, pair.B, netip.AddrPortFrom(pair.AddrA, 31226), 50, 100, 0, 0)
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31026), 2, 20, 500)
	settle(cfg)
	want, _, _ := td.stop(t)
	got := col.stop(t)
	if len(want) == 0 {
		t.Fatal("tcpdump selected nothing")
	}
	compareRecs(t, "bpf", got, want)
}

// parseDDD reads tcpdump -ddd output: a count line, then "op jt jf k" lines.
func parseDDD(t *testing.T, s string) []bpf.RawInstruction {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var prog []bpf.RawInstruction
	for _, l := range lines[1:] {
		var op uint16
		var jt, jf uint8
		var k uint32
		if _, err := fmt.Sscan(l, &op, &jt, &jf, &k); err != nil {
			t.Fatalf("parse %q: %v", l, err)
		}
		prog = append(prog, bpf.RawInstruction{Op: op, Jt: jt, Jf: jf, K: k})
	}
	return prog
}

// TestAFPacketSource_ReadPacketAllocs checks that reading packets from the
// ring allocates nothing.
func TestAFPacketSource_ReadPacketAllocs(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, nsPrefix, 27)
	cfg := capture.AFPacketConfig{Interface: pair.IfA, BlockSize: 1 << 16, NumBlocks: 64}
	src := openIn(t, pair.A, cfg)
	dst := netip.AddrPortFrom(pair.AddrA, 31027)
	udpSink(t, pair.A, dst)
	// Enough packets for the run, all in the ring before it starts (the ring
	// holds about 20000 of them).
	const sent = 1500
	udpBlast(t, pair.B, dst, sent, 64, 250, time.Millisecond)
	settle(cfg)
	if st := src.Stats(); st.Dropped != 0 {
		t.Fatalf("kernel dropped %d packets before the run", st.Dropped)
	}
	var p capture.Packet
	if err := src.ReadPacket(&p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := src.ReadPacket(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadPacket allocates %v times per packet", allocs)
	}
	ps := make([]capture.Packet, 4)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := src.ReadPackets(ps); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadPackets allocates %v times per call", allocs)
	}
}

// TestAFPacketSource_VLAN injects 802.1Q and 802.1ad tagged frames into
// the veth pair and captures them on the other side: the kernel strips the
// outer tag into metadata and the source must put it back, as libpcap does.
func TestAFPacketSource_VLAN(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 28)
	var frames [][]byte
	for i, tag := range []struct{ tpid, tci uint16 }{{0x8100, 100}, {0x88a8, 0x2000 | 7}, {0x8100, 4095}} {
		for n := range 10 {
			f := []byte{0x02, 0, 0x0a, 0xc9, 0, 1, 0x02, 0, 0x0a, 0xc9, 0, 2,
				byte(tag.tpid >> 8), byte(tag.tpid), byte(tag.tci >> 8), byte(tag.tci), 0x08, 0x00,
				0x45, 0, 0, 28, 0, byte(i*10 + n), 0, 0, 64, 17, 0, 0, 10, 201, 28, 2, 10, 201, 28, 1,
				0x7a, 0x69, 0x7a, 0x6a, 0, 8, 0, 0}
			frames = append(frames, append(f, make([]byte, n*7)...))
		}
	}
	for _, tc := range []struct {
		name, iface string
		tdArgs      []string
		at          int
	}{{"ethernet", pair.IfA, nil, 12}, {"cooked", "any", []string{"-y", "LINUX_SLL"}, 14}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := capture.AFPacketConfig{Interface: tc.iface}
			src := openIn(t, pair.A, cfg)
			col := collect(src)
			td := startTcpdump(t, pair.A, tc.iface, tc.tdArgs...)
			inject(t, pair.B, pair.IfB, frames)
			settle(cfg)
			want, _, _ := td.stop(t)
			got := col.stop(t)
			tagged := 0
			for _, r := range want {
				if len(r.data) > tc.at+4 && (r.data[tc.at] == 0x81 || r.data[tc.at] == 0x88) {
					tagged++
				}
			}
			if tagged != len(frames) {
				t.Fatalf("tcpdump saw %d tagged packets of %d sent", tagged, len(frames))
			}
			compareRecs(t, "vlan "+tc.name, got, want)
		})
	}
}

// inject sends raw Ethernet frames out of an interface in ns.
func inject(t *testing.T, ns *netns.Namespace, iface string, frames [][]byte) {
	t.Helper()
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("inject frames: %v", err)
	}
}

// TestAFPacketSource_InterfaceGone deletes the captured interface under a
// blocked reader, which must return an error rather than block forever.
func TestAFPacketSource_InterfaceGone(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, nsPrefix, 30)
	src := openIn(t, pair.A, capture.AFPacketConfig{Interface: pair.IfA})
	done := readAsync(src)
	time.Sleep(50 * time.Millisecond)
	if err := pair.A.IP("link", "del", pair.IfA); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("ReadPacket: %v", err)
		if err == nil || errors.Is(err, capture.ErrClosed) {
			t.Errorf("ReadPacket = %v, want a socket error", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("reader still blocked 2 s after the interface went away")
	}
}

// TestAFPacketSource_Tun captures on a layer-3 tun device (no link-layer
// header): packets come as LinkRaw, as tcpdump writes them.
func TestAFPacketSource_Tun(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "tcpdump", "ip")
	t.Parallel()
	ns := netns.NewT(t, nsPrefix+"tun-")
	var tun int
	if err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq("mftun0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return err
		}
		tun = fd
		return nil
	}); err != nil {
		t.Skipf("no tun device: %v", err)
	}
	defer unix.Close(tun)
	for _, step := range [][]string{{"addr", "add", "10.201.33.1/24", "dev", "mftun0"}, {"link", "set", "mftun0", "up"}} {
		if err := ns.IP(step...); err != nil {
			t.Fatal(err)
		}
	}
	cfg := capture.AFPacketConfig{Interface: "mftun0"}
	src := openIn(t, ns, cfg)
	if src.LinkType() != capture.LinkRaw {
		t.Errorf("LinkType = %v, want RAW", src.LinkType())
	}
	col := collect(src)
	td := startTcpdump(t, ns, "mftun0")
	udpBlast(t, ns, netip.MustParseAddrPort("10.201.33.2:31033"), 40, 120, 0, 0)
	settle(cfg)
	want, link, _ := td.stop(t)
	got := col.stop(t)
	// The kernel's own IPv6 router solicitations after link up may come
	// before tcpdump started: compare the test's IPv4 packets.
	want, got = ipv4Only(want), ipv4Only(got)
	if link != capture.LinkRaw || len(want) != 40 {
		t.Fatalf("tcpdump: link %v, %d packets", link, len(want))
	}
	compareRecs(t, "tun", got, want)
}

// ipv4Only returns the records of raw (LinkRaw) IPv4 packets of rs.
func ipv4Only(rs []rec) []rec {
	var out []rec
	for _, r := range rs {
		if len(r.data) > 0 && r.data[0]>>4 == 4 {
			out = append(out, r)
		}
	}
	return out
}

// readAsync calls src.ReadPacket on a goroutine of its own; its result
// arrives on the channel returned.
func readAsync(src *capture.AFPacketSource) chan error {
	done := make(chan error, 1)
	go func() {
		var p capture.Packet
		done <- src.ReadPacket(&p)
	}()
	return done
}

// stillWaiting fails t unless the read behind done is still waiting
// 100 ms later, on an idle link (when names the situation).
func stillWaiting(t *testing.T, done chan error, when string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("ReadPacket returned %s on an idle link: %v", when, err)
	default:
	}
}
