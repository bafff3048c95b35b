//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestTLS_GoPlaintext runs a Go HTTPS server and its clients in one process
// under the Go TLS probes, unstripped (offsets from DWARF) and stripped
// (offsets from the build-info table): 8 clients x 100 requests, and 100 KB
// responses written in one call (several events each). Every request and
// response must be seen in plaintext on both sides, with the fd, addresses
// and socket id of the connection, and the target must exit 0.
func TestTLS_GoPlaintext(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	type target struct {
		name                    string
		toolchain               string
		strip                   bool
		clients, requests, size int
		bin                     string
	}
	cases := []target{
		{name: "gotlsapp", toolchain: "local", clients: 8, requests: 100, size: 3000},
		{name: "gotlsapp-strip", toolchain: "local", strip: true, clients: 8, requests: 100, size: 3000},
		{name: "gotlsapp-big", toolchain: "local", clients: 2, requests: 5, size: 100000},
	}
	// Stripped builds of older Go versions whose toolchains are at hand:
	// their offsets come from the table.
	for _, tc := range []string{"go1.24.0", "go1.25.0"} {
		if !testing.Short() && toolchainCached(dir, tc) {
			cases = append(cases, target{name: "gotlsapp-" + tc, toolchain: tc, strip: true, clients: 4, requests: 25, size: 3000})
		}
	}
	var cfg Config
	for i := range cases {
		tc := &cases[i]
		ldflags := ""
		if tc.strip {
			ldflags = "-s -w"
		}
		tc.bin = buildApp(t, dir, tc.name, tc.toolchain, []string{"GOPROXY=off"}, ldflags)
		b, err := analyzeGoBinary(tc.bin)
		if err != nil {
			t.Fatal(err)
		}
		if b.Offsets.FromDWARF == tc.strip || !b.KnownOffsets {
			t.Fatalf("offsets of %s: %+v known=%v", tc.name, b.Offsets, b.KnownOffsets)
		}
		cfg.Comms = append(cfg.Comms, tc.name)
		cfg.TLS.GoBinaries = append(cfg.TLS.GoBinaries, tc.bin)
	}
	rec := startTLSRecorder(t, cfg)
	if st := rec.tr.TLSStats(); st.GoBinaries != uint64(len(cases)) || st.Probes < 4*uint64(len(cases)) {
		t.Fatalf("stats after attach: %+v", st)
	}
	pids := make([]int, len(cases))
	for i, tc := range cases {
		cmd := exec.Command(tc.bin, "-addr", "127.0.0.1:"+strconv.Itoa(26410+i), "-clients", strconv.Itoa(tc.clients),
			"-requests", strconv.Itoa(tc.requests), "-size", strconv.Itoa(tc.size))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s failed under the probes: %v\n%s", tc.name, err, out)
		}
		pids[i] = cmd.Process.Pid
		t.Logf("%s: %d requests in %v", tc.name, tc.clients*tc.requests, time.Since(start))
	}
	evs := rec.stop()
	t.Logf("tracer stats %+v", rec.tr.Stats())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoTLSEvents(t, ofPids(evs, pids[i]), 26410+i, tc.clients, tc.requests, tc.size)
		})
	}
}

// TestTLS_GoScanProcs finds a Go program that is already running through
// /proc and traces its TLS calls.
func TestTLS_GoScanProcs(t *testing.T) {
	testutil.RequireRoot(t)
	bin := buildApp(t, t.TempDir(), "gotlsapp-scan", "local", nil, "-s -w")
	const port = 26419
	cmd := exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port), "-clients", "2", "-requests", "20", "-wait")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening") {
		t.Fatalf("target: %q %v", line, err)
	}
	rec := startTLSRecorder(t, Config{Pids: []uint32{uint32(cmd.Process.Pid)}, TLS: TLSConfig{GoScanProcs: true, Rescan: -1}})
	if st := rec.tr.TLSStats(); st.GoBinaries == 0 || st.Scans != 1 {
		t.Fatalf("stats after the scan: %+v", st)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("target failed under the probes: %v\n%s", err, stderr.Bytes())
	}
	checkGoTLSEvents(t, ofPids(rec.stop(), cmd.Process.Pid), port, 2, 20, 64)
}

func checkGoTLSEvents(t *testing.T, evs []tlsEvent, port, clients, requests, size int) {
	t.Helper()
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	// Plaintext per direction and side, in event order per socket.
	type side struct {
		role string
		dir  socket.Direction
	}
	streams := map[uint64]*bytes.Buffer{}
	sideOf := map[uint64]side{}
	sockets := map[uint64]bool{} // socket ids of TLS events
	var nTLS int
	for _, e := range evs {
		if e.Origin != socket.OriginGoTLS {
			continue
		}
		nTLS++
		// A goroutine id read at a wrong offset would not be a small number.
		if e.Kind != socket.KindData || e.Fd < 0 || e.Goroutine == 0 || e.Goroutine > 1<<20 || e.SocketID == 0 {
			t.Fatalf("TLS event without kind/fd/goroutine/socket: %+v", e.Event)
		}
		var s side
		switch {
		case e.Local == server:
			s.role = "server"
		case e.Remote == server:
			s.role = "client"
		default:
			t.Fatalf("TLS event on another socket: %v -> %v", e.Local, e.Remote)
		}
		s.dir = e.Direction
		if int64(len(e.Data)) != e.Length {
			t.Fatalf("payload %d bytes, length %d", len(e.Data), e.Length)
		}
		key := e.SocketID<<2 | uint64(e.Direction)
		if streams[key] == nil {
			streams[key] = &bytes.Buffer{}
		}
		streams[key].Write(e.Data)
		sideOf[key] = s
		sockets[e.SocketID] = true
	}
	all := map[side]*bytes.Buffer{}
	for k, b := range streams {
		s := sideOf[k]
		if all[s] == nil {
			all[s] = &bytes.Buffer{}
		}
		all[s].Write(b.Bytes())
		all[s].WriteByte(0)
	}
	get := func(role string, d socket.Direction) []byte {
		if b := all[side{role, d}]; b != nil {
			return b.Bytes()
		}
		return nil
	}
	for c := 0; c < clients; c++ {
		for r := 0; r < requests; r++ {
			req := []byte(fmt.Sprintf("GET /c%d/r%d HTTP/1.1\r\n", c, r))
			resp := fmt.Appendf(nil, "pong c%d/r%d", c, r)
			resp = append(resp, bytes.Repeat([]byte("."), size-len(resp))...)
			for _, w := range []struct {
				role string
				dir  socket.Direction
				want []byte
			}{
				{"client", socket.Egress, req}, {"server", socket.Ingress, req},
				{"server", socket.Egress, resp}, {"client", socket.Ingress, resp},
			} {
				if !bytes.Contains(get(w.role, w.dir), w.want) {
					got := get(w.role, w.dir)
					i := bytes.Index(got, w.want[:10])
					t.Fatalf("%s %v plaintext lacks %.40q (%d TLS events); around: %q", w.role, w.dir, w.want, nTLS, bytes.ReplaceAll(got[max(i, 0)-100:max(i, 0)+len(w.want)+100], []byte(".........."), []byte("_")))
				}
			}
		}
	}
	if !bytes.Contains(get("server", socket.Egress), []byte("HTTP/1.1 200 OK\r\n")) {
		t.Fatal("no response status line in the server's plaintext")
	}
	// The syscall events of the same sockets carry the same ids: the
	// ciphertext can be told apart from the plaintext.
	matched := map[uint64]bool{}
	for _, e := range evs {
		if e.Origin == socket.OriginSyscall && e.Kind == socket.KindData && sockets[e.SocketID] {
			matched[e.SocketID] = true
		}
	}
	if len(matched) != len(sockets) {
		t.Fatalf("%d of %d TLS sockets seen by the syscall probes with the same id", len(matched), len(sockets))
	}
	if len(sockets) != 2*clients {
		t.Logf("note: %d sockets for %d clients (reconnects)", len(sockets), clients)
	}
}
