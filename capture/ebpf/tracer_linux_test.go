//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// ev is an Event with its payload copied out of the tracer's buffer.
type ev struct {
	socket.Event
	data []byte
}

// collector reads a tracer's events in the background.
type collector struct {
	tr   *Tracer
	mu   sync.Mutex
	evs  []ev
	done chan struct{}
	err  error
}

func startTracer(t *testing.T, cfg Config) *collector {
	t.Helper()
	testutil.RequireEBPF(t)
	return newCollector(t, cfg)
}

// newCollector is startTracer without the environment check (which mounts
// tracefs).
func newCollector(t *testing.T, cfg Config) *collector {
	t.Helper()
	start := time.Now()
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Logf("New took %v", time.Since(start).Round(time.Millisecond))
	c := &collector{tr: tr, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var e socket.Event
		for {
			err := tr.ReadEvent(&e)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					c.err = err
				}
				return
			}
			c.mu.Lock()
			c.evs = append(c.evs, ev{Event: e, data: bytes.Clone(e.Payload)})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// wait returns the events seen once cond holds on them, or after timeout.
func (c *collector) wait(timeout time.Duration, cond func([]ev) bool) []ev {
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		evs := append([]ev(nil), c.evs...)
		c.mu.Unlock()
		if cond(evs) || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *collector) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	c.tr.Close()
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Errorf("ReadEvent did not return after Close")
	}
	if c.err != nil {
		t.Errorf("ReadEvent: %v", c.err)
	}
}

// dataOn returns the data events of one local port and direction.
func dataOn(evs []ev, local netip.AddrPort, dir socket.Direction) []ev {
	var out []ev
	for _, e := range evs {
		if e.Kind == socket.KindData && e.Local == local && e.Direction == dir {
			out = append(out, e)
		}
	}
	return out
}

func concat(evs []ev) []byte {
	var b []byte
	for _, e := range evs {
		b = append(b, e.data...)
	}
	return b
}

// echoExchange runs a TCP exchange inside the test process: the client
// writes req, the server reads it and writes resp back.
func echoExchange(t *testing.T, network, port string, req, resp []byte) (client, server netip.AddrPort) {
	t.Helper()
	host := "127.0.0.1"
	if network == "tcp6" {
		host = "[::1]"
	}
	ln, err := net.Listen(network, host+":"+port)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		buf := make([]byte, len(req))
		if _, err := io.ReadFull(c, buf); err != nil {
			errc <- err
			return
		}
		_, err = c.Write(resp)
		errc <- err
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(resp))); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
	return netip.MustParseAddrPort(c.LocalAddr().String()), netip.MustParseAddrPort(c.RemoteAddr().String())
}

func TestTracer_ReadEvent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     bool
		network string
		port    string
	}{
		{"tracepoints", false, "tcp4", "26301"},
		{"raw_tracepoints", true, "tcp4", "26302"},
		{"tracepoints_ipv6", false, "tcp6", "26303"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startTracer(t, Config{Pids: []uint32{uint32(os.Getpid())}, PayloadSize: MaxPayloadSize, ForceRawTracepoints: tc.raw, Logger: testLogger(t)})
			if c.tr.RawTracepoints() != tc.raw {
				t.Fatalf("RawTracepoints() = %v, want %v", c.tr.RawTracepoints(), tc.raw)
			}
			req := []byte("PING " + strings.Repeat("q", 100) + "\r\n")
			resp := []byte("PONG " + strings.Repeat("r", 5000) + "\r\n")
			cli, srv := echoExchange(t, tc.network, tc.port, req, resp)
			if tc.network == "tcp6" && !cli.Addr().Is6() {
				t.Fatalf("client address %v is not IPv6", cli)
			}
			evs := c.wait(3*time.Second, func(evs []ev) bool {
				return len(concat(dataOn(evs, cli, socket.Ingress))) >= len(resp)
			})

			cw := dataOn(evs, cli, socket.Egress)
			sr := dataOn(evs, srv, socket.Ingress)
			sw := dataOn(evs, srv, socket.Egress)
			cr := dataOn(evs, cli, socket.Ingress)
			for _, d := range []struct {
				name string
				evs  []ev
				want []byte
				role socket.Role
				peer netip.AddrPort
			}{
				{"client write", cw, req, socket.RoleClient, srv},
				{"server read", sr, req, socket.RoleServer, cli},
				{"server write", sw, resp, socket.RoleServer, cli},
				{"client read", cr, resp, socket.RoleClient, srv},
			} {
				if got := concat(d.evs); !bytes.Equal(got, d.want) {
					t.Errorf("%s: payloads %q, want %q", d.name, trunc(got), trunc(d.want))
					continue
				}
				var n int64
				for _, e := range d.evs {
					n += e.Length
					if e.Role != d.role || e.Remote != d.peer || e.Transport != socket.TCP ||
						e.Pid != uint32(os.Getpid()) || e.CommString() != commOf(t) || !e.HasSeq ||
						e.SocketID == 0 || e.Fd < 0 || e.Origin != socket.OriginSyscall {
						t.Errorf("%s: event %+v", d.name, e.Event)
					}
					if e.ExitNs < e.EnterNs || abs(time.Now().UnixNano()-e.ExitNs) > int64(10*time.Second) {
						t.Errorf("%s: times enter %d exit %d not near now", d.name, e.EnterNs, e.ExitNs)
					}
				}
				if n != int64(len(d.want)) {
					t.Errorf("%s: lengths sum to %d, want %d", d.name, n, len(d.want))
				}
			}
			if len(cw) > 0 && len(sr) > 0 && cw[0].TCPSeq != sr[0].TCPSeq {
				t.Errorf("request: client write seq %d != server read seq %d", cw[0].TCPSeq, sr[0].TCPSeq)
			}
			if len(sw) > 0 && len(cr) > 0 && sw[0].TCPSeq != cr[0].TCPSeq {
				t.Errorf("response: server write seq %d != client read seq %d", sw[0].TCPSeq, cr[0].TCPSeq)
			}
			// The server thread read then wrote: one syscall trace id.
			if len(sr) > 0 && len(sw) > 0 && sr[0].Tid == sw[0].Tid &&
				(sr[0].SyscallTraceID == 0 || sr[0].SyscallTraceID != sw[0].SyscallTraceID) {
				t.Errorf("server trace ids: read %d write %d", sr[0].SyscallTraceID, sw[0].SyscallTraceID)
			}
			// connect and accept open the sockets with their roles; the
			// sockets' close() calls close them, under the same ids.
			evs = c.wait(2*time.Second, func(evs []ev) bool {
				n := 0
				for _, e := range evs {
					if e.Kind == socket.KindClose && (e.Local == cli || e.Local == srv) {
						n++
					}
				}
				return n >= 2
			})
			for _, d := range []struct {
				name       string
				data       []ev
				local, rem netip.AddrPort
				role       socket.Role
			}{{"client", cw, cli, srv, socket.RoleClient}, {"server", sr, srv, cli, socket.RoleServer}} {
				var open, closed int
				for _, e := range evs {
					if len(d.data) == 0 || e.SocketID != d.data[0].SocketID {
						continue
					}
					switch e.Kind {
					case socket.KindOpen:
						open++
						if e.Role != d.role || e.Local != d.local || e.Remote != d.rem || e.Fd != d.data[0].Fd {
							t.Errorf("%s open event %+v", d.name, e.Event)
						}
					case socket.KindClose:
						closed++
						if e.Fd != d.data[0].Fd {
							t.Errorf("%s close event fd %d, data fd %d", d.name, e.Fd, d.data[0].Fd)
						}
					}
				}
				if open != 1 || closed != 1 {
					t.Errorf("%s socket: %d open and %d close events, want 1 and 1", d.name, open, closed)
				}
			}
			if st := c.tr.Stats(); st.Lost != 0 || st.Events == 0 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

func commOf(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return append(b[:80:80], "..."...)
	}
	return b
}

func TestNew_Config(t *testing.T) {
	for _, cfg := range []Config{
		{PayloadSize: MaxPayloadSize + 1},
		{PayloadSize: -1},
		{RingSize: 3 << 20},
		{Pids: make([]uint32, maxFilterItems+1)},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestTracer_Stats fills a small ring buffer while nothing reads it: the
// events that did not fit are counted in Lost, and every send is either
// delivered or lost.
func TestTracer_Stats(t *testing.T) {
	testutil.RequireEBPF(t)
	tr, err := New(Config{Pids: []uint32{uint32(os.Getpid())}, RingSize: 64 << 10, PayloadSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 26304})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	txAddr := netip.MustParseAddrPort(tx.LocalAddr().String())
	const sends = 500
	msg := bytes.Repeat([]byte("L"), 1000)
	for range sends {
		if _, err := tx.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	// Read what the ring held.
	got := 0
	var e socket.Event
	done := time.AfterFunc(2*time.Second, func() { tr.Close() })
	defer done.Stop()
	bad := 0
	read := func() bool {
		if tr.ReadEvent(&e) != nil {
			return false
		}
		if e.Kind == socket.KindData && e.Local == txAddr {
			got++
			if len(e.Payload) != 1000 || e.Length != 1000 {
				bad++
			}
		}
		return true
	}
	// The ring holds about 55 events: reading the first 21 allocates nothing.
	if n := testing.AllocsPerRun(20, func() { read() }); n != 0 {
		t.Errorf("ReadEvent allocates %v times per event", n)
	}
	for got+int(tr.Stats().Lost) < sends && read() {
	}
	if bad != 0 {
		t.Errorf("%d events without their 1000 bytes", bad)
	}
	st := tr.Stats()
	tr.Close()
	if after := tr.Stats(); after.Lost != st.Lost {
		t.Errorf("Lost after Close %d, before %d", after.Lost, st.Lost)
	}
	if st.Lost == 0 || got == 0 || got+int(st.Lost) < sends || st.Events < uint64(got) {
		t.Errorf("%d sends: %d delivered, stats %+v", sends, got, st)
	}
	t.Logf("%d sends into a 64 KiB ring: %d delivered, %d lost", sends, got, st.Lost)
}

// TestTracer_Peek: a MSG_PEEK read is not reported; the read that takes
// the bytes is, once, with the sequence of its first byte.
func TestTracer_Peek(t *testing.T) {
	c := startTracer(t, Config{Pids: []uint32{uint32(os.Getpid())}})
	ln, err := net.Listen("tcp4", "127.0.0.1:26305")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := cli.Write([]byte("peek-me")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n := rawDo(t, srv.(syscall.Conn), false, func(fd int) (int, error) {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_PEEK)
		return n, err
	})
	if string(buf[:n]) != "peek-me" {
		t.Fatalf("peeked %q", buf[:n])
	}
	if n, err := srv.Read(buf); err != nil || string(buf[:n]) != "peek-me" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	srvAddr := netip.MustParseAddrPort(srv.LocalAddr().String())
	cliAddr := netip.MustParseAddrPort(cli.LocalAddr().String())
	evs := c.wait(2*time.Second, func(evs []ev) bool { return len(dataOn(evs, srvAddr, socket.Ingress)) >= 2 })
	in := dataOn(evs, srvAddr, socket.Ingress)
	out := dataOn(evs, cliAddr, socket.Egress)
	if len(in) != 1 || len(out) != 1 || string(in[0].data) != "peek-me" || in[0].TCPSeq != out[0].TCPSeq {
		t.Errorf("ingress %+v, egress %+v: want one read of \"peek-me\" at the write's sequence", in, out)
	}
}

// TestTracer_Self: tracing the whole machine leaves out the tracer's own
// system calls and keeps other processes'.
func TestTracer_Self(t *testing.T) {
	testutil.RequireCommand(t, "python3")
	c := startTracer(t, Config{})
	ln, err := net.Listen("tcp4", "127.0.0.1:26306")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, s)
		s.Close()
	}()
	child := exec.Command("python3", "-c", `import socket; s = socket.create_connection(("127.0.0.1", 26306)); s.sendall(b"from-child"); s.close()`)
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("python3: %v %s", err, out)
	}
	pid := uint32(child.Process.Pid)
	evs := c.wait(3*time.Second, func(evs []ev) bool {
		for _, e := range evs {
			if e.Pid == pid && string(e.data) == "from-child" {
				return true
			}
		}
		return false
	})
	seen := false
	for _, e := range evs {
		if e.Kind == socket.KindData && e.Pid == uint32(os.Getpid()) {
			t.Fatalf("the tracer's own call was traced: %+v", e.Event)
		}
		seen = seen || (e.Pid == pid && string(e.data) == "from-child")
	}
	if !seen {
		t.Errorf("the child's send was not traced (%d events)", len(evs))
	}
}

// TestTracer_TLSActive: while a thread is marked in tls_active (a TLS
// library call in progress), its socket writes are not reported and the
// socket's descriptor is written into the entry; unmarked, they are.
func TestTracer_TLSActive(t *testing.T) {
	c := startTracer(t, Config{Pids: []uint32{uint32(os.Getpid())}})
	ln, err := net.Listen("tcp4", "127.0.0.1:26307")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, s)
		s.Close()
	}()
	cli, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f, err := cli.(*net.TCPConn).File() // a blocking duplicate descriptor
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	key := uint64(os.Getpid())<<32 | uint64(unix.Gettid())
	type tlsVal struct{ Fd, Flags uint32 }
	m := c.tr.TLSActiveMap()
	if err := m.Put(key, tlsVal{Fd: ^uint32(0)}); err != nil {
		t.Fatalf("tls_active: %v", err)
	}
	if _, err := unix.Write(fd, []byte("inside-tls")); err != nil {
		t.Fatal(err)
	}
	var v tlsVal
	if err := m.Lookup(key, &v); err != nil || v.Fd != uint32(fd) {
		t.Errorf("tls_active entry after the write: %+v %v, want fd %d", v, err, fd)
	}
	if err := m.Delete(key); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte("outside-tls")); err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddrPort(cli.LocalAddr().String())
	evs := c.wait(2*time.Second, func(evs []ev) bool { return len(dataOn(evs, local, socket.Egress)) >= 1 })
	time.Sleep(50 * time.Millisecond)
	evs = c.wait(0, func([]ev) bool { return true })
	g := dataOn(evs, local, socket.Egress)
	if len(g) != 1 || string(g[0].data) != "outside-tls" {
		var got []string
		for _, e := range g {
			got = append(got, string(e.data))
		}
		t.Errorf("egress payloads %q, want only \"outside-tls\"", got)
	}
}

// TestNew_NotRoot: without privileges New says what is missing, and the
// error matches ErrPermission.
func TestNew_NotRoot(t *testing.T) {
	if os.Getenv("METAFLOW_EBPF_UNPRIVILEGED") == "1" {
		_, err := New(Config{})
		fmt.Printf("permission=%v notsupported=%v err=%v\n", errors.Is(err, ErrPermission), errors.Is(err, capture.ErrNotSupported), err)
		return
	}
	testutil.RequireRoot(t)
	// Run this test again, as nobody, from a copy everyone may execute.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir makes both 0700
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "ebpf.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestNew_NotRoot$", "-test.count=1")
	cmd.Env = append(os.Environ(), "METAFLOW_EBPF_UNPRIVILEGED=1")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the test as nobody: %v %s", err, out)
	}
	if !strings.Contains(string(out), "permission=true") || !strings.Contains(string(out), "CAP_BPF") {
		t.Errorf("New as nobody: %s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// TestNew_NoTracefs: where tracefs is not mounted, New falls back to the
// raw tracepoints by itself and still delivers data events. The test runs
// itself again in a private mount namespace without tracefs.
func TestNew_NoTracefs(t *testing.T) {
	if os.Getenv("METAFLOW_EBPF_NO_TRACEFS") == "1" {
		if _, err := os.Stat("/sys/kernel/tracing/events/syscalls"); err == nil {
			t.Fatal("tracefs still mounted")
		}
		c := newCollector(t, Config{Pids: []uint32{uint32(os.Getpid())}})
		if !c.tr.RawTracepoints() {
			t.Fatal("classic tracepoints attached without tracefs")
		}
		req, resp := []byte("no-tracefs-request"), []byte("no-tracefs-response")
		cli, _ := echoExchange(t, "tcp4", "26308", req, resp)
		evs := c.wait(3*time.Second, func(evs []ev) bool { return len(dataOn(evs, cli, socket.Ingress)) > 0 })
		if g := concat(dataOn(evs, cli, socket.Egress)); !bytes.Equal(g, req) {
			t.Errorf("client writes %q, want %q", g, req)
		}
		fmt.Println("fallback ok")
		return
	}
	testutil.RequireEBPF(t)
	testutil.RequireCommand(t, "unshare", "umount")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; exec "$0" -test.run='^TestNew_NoTracefs$' -test.count=1 -test.v`, exe)
	cmd.Env = append(os.Environ(), "METAFLOW_EBPF_NO_TRACEFS=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fallback ok") {
		t.Errorf("without tracefs: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
