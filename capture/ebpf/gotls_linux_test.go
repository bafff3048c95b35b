//go:build linux

package ebpf

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture/socket"
)

// TestTLS_GoPlaintext runs a Go HTTPS server and 8 clients x 100 requests in
// one process under the Go TLS probes, unstripped (offsets from DWARF) and
// stripped (offsets from the build-info table), and checks that every
// request and response is seen in plaintext on both sides, with the fd,
// addresses and socket id of the connection, and that the target exits 0.
func TestTLS_GoPlaintext(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		name  string
		strip bool
	}{{"gotlsapp", false}, {"gotlsapp-strip", true}} {
		t.Run(tc.name, func(t *testing.T) {
			bin := buildGoTLSApp(t, dir, tc.name, tc.strip)
			b, err := analyzeGoBinary(bin)
			if err != nil {
				t.Fatal(err)
			}
			if b.Offsets.FromDWARF == tc.strip || !b.KnownOffsets {
				t.Fatalf("offsets of %s: %+v known=%v", tc.name, b.Offsets, b.KnownOffsets)
			}
			port := 26410 + i
			const clients, requests = 8, 100
			rec := startTLSRecorder(t, []string{tc.name}, TLSConfig{GoBinaries: []string{bin}})
			if st := rec.tls.Stats(); st.GoBinaries != 1 || st.Probes < 4 {
				t.Fatalf("stats after attach: %+v", st)
			}
			cmd := exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port),
				"-clients", strconv.Itoa(clients), "-requests", strconv.Itoa(requests), "-size", "3000")
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("target failed under the probes: %v\n%s", err, out)
			}
			elapsed := time.Since(start)
			evs := ofPids(rec.stop(), cmd.Process.Pid)
			checkGoTLSEvents(t, evs, port, clients, requests)
			t.Logf("%s: %d requests in %v, %d events of the target", tc.name, clients*requests, elapsed, len(evs))
		})
	}
}

func checkGoTLSEvents(t *testing.T, evs []tlsEvent, port, clients, requests int) {
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
		if e.Kind != socket.KindData || e.Fd < 0 || e.Goroutine == 0 || e.SocketID == 0 {
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
			resp := []byte(fmt.Sprintf("pong c%d/r%d.", c, r))
			for _, w := range []struct {
				role string
				dir  socket.Direction
				want []byte
			}{
				{"client", socket.Egress, req}, {"server", socket.Ingress, req},
				{"server", socket.Egress, resp}, {"client", socket.Ingress, resp},
			} {
				if !bytes.Contains(get(w.role, w.dir), w.want) {
					t.Fatalf("%s %v plaintext lacks %q (%d TLS events)", w.role, w.dir, w.want, nTLS)
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
