package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

// freePort returns a free port of the test range 26700-26799.
func freePort(t testing.TB) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(26700+rand.IntN(100))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in 26700-26799")
	return ""
}

// child is the server built with go build, run as a process of its own.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t testing.TB, bin, db, token string) *child {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, "-listen", addr, "-db", db, "-token", token)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, addr: addr}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/api/v1/stats")
		if err == nil {
			resp.Body.Close()
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server did not start")
	return nil
}

// rowsPerFrame is more than a row group of the store (4096 rows): each
// batch is written compressed at its commit (DuckDB's optimistic write),
// the WAL pointing at it, and the kill must not lose nor repeat one.
const rowsPerFrame = 5000

// l4Frame is a frame of rowsPerFrame full l4 records, flow ids from
// first, tagged with a few pods and services.
func l4Frame(enc *encoding.Encoder, first uint64, dst []byte) []byte {
	return l4FrameN(enc, first, rowsPerFrame, dst)
}

// l4FrameN is l4Frame with n rows.
func l4FrameN(enc *encoding.Encoder, first uint64, n int, dst []byte) []byte {
	now := time.Now().UnixNano()
	var r flow.Record
	for i := uint64(0); i < uint64(n); i++ {
		n := first + i
		r.Tags.Reset()
		r.FlowID = n
		r.StartTime, r.EndTime, r.Duration = now, now+int64(n%1000)*1000, int64(n%1000)
		r.IP0 = netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
		r.IP1 = netip.AddrFrom4([4]byte{10, 9, 0, byte(n % 7)})
		r.ClientPort, r.ServerPort, r.Protocol = uint16(1024+n%60000), 443, 6
		r.L7Protocol = "HTTP"
		r.PacketTx, r.PacketRx, r.ByteTx, r.ByteRx = n%100, n%90, n*10, n*9
		r.L4ByteTx, r.L4ByteRx = n*8, n*7
		r.RTT, r.HasRTT = uint32(n%5000), true
		r.SRTMax, r.SRTSum, r.SRTCount = 10, 30, 3
		r.ARTMax, r.ARTSum, r.ARTCount = 20, 40, 2
		r.RetransTx, r.SynCount, r.SynAckCount, r.FinCount = uint32(n%3), 1, 1, 2
		r.L7Request, r.L7Response = 5, 5
		r.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(int(n%300)))
		r.Tags.Set(tag.Client, "pod_ns", "ns-"+strconv.Itoa(int(n%5)))
		r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(int(n%7)))
		enc.AddL4(&r)
	}
	f, err := enc.AppendFrame(dst[:0])
	if err != nil {
		panic(err)
	}
	return f
}

// TestServer_KillRestart SIGKILLs the server in the middle of a sustained
// ingest and restarts it on the same file; the agent restarts too, and its
// spool delivers the rest: every batch is stored exactly once.
func TestServer_KillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	db := filepath.Join(dir, "kill.duckdb")
	spool := filepath.Join(dir, "spool")
	const token = "k"
	srv := startChild(t, bin, db, token)

	dict := encoding.NewAgentDict()
	newSender := func(addr string) *sender.Sender {
		s, err := sender.New(sender.Config{URL: "http://" + addr, Token: token, Dir: spool, Dict: dict,
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	snd := newSender(srv.addr)
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	var frame []byte
	next := uint64(1)
	sent := 0
	send := func(s *sender.Sender) {
		frame = l4Frame(enc, next, frame)
		next += rowsPerFrame
		if err := s.Send(frame); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	// Sustained ingest until 15 batches are acknowledged, then kill -9
	// while batches are in flight.
	for snd.Stats().Acked < 15 {
		send(snd)
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		send(snd)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	acked := snd.Stats().Acked
	// The server is down: the agent spools, then restarts.
	for i := 0; i < 10; i++ {
		send(snd)
	}
	snd.Close()
	pending := sent - int(acked)
	srv = startChild(t, bin, db, token)
	// A new agent process: an empty dictionary, learnt again from acks;
	// the spooled batches carry the ids of the killed server.
	dict = encoding.NewAgentDict()
	enc, _ = encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
	snd = newSender(srv.addr)
	if got := snd.Stats().Recovered; got == 0 || int(got) > pending {
		t.Fatalf("recovered %d batches from the spool, %d were not acknowledged", got, pending)
	}
	for i := 0; i < 10; i++ {
		send(snd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := snd.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := snd.Stats()
	snd.Close()
	if st.Refused != 0 || st.Dropped != 0 {
		t.Fatalf("sender %+v", st)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	s, err := store.Open(store.Config{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batches, ids, bad, rows, flows int
	q := func(sql string, v *int) {
		if err := s.DB().QueryRow(sql).Scan(v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q("SELECT count(*) FROM batches", &batches)
	q("SELECT count(DISTINCT batch_id) FROM batches", &ids)
	q(fmt.Sprintf(`SELECT count(*) FROM batches b LEFT JOIN (SELECT batch_seq, count(*) AS n FROM l4_flow_log GROUP BY batch_seq) r
		ON r.batch_seq = b.seq WHERE b.l4_rows != %d OR r.n IS NULL OR r.n != %d`, rowsPerFrame, rowsPerFrame), &bad)
	q("SELECT count(*) FROM l4_flow_log", &rows)
	q("SELECT count(DISTINCT flow_id) FROM l4_flow_log", &flows)
	if batches != sent || ids != sent || bad != 0 || rows != sent*rowsPerFrame || flows != rows {
		t.Fatalf("sent %d batches of %d rows; stored %d batches (%d ids, %d with a wrong row count), %d rows, %d flows",
			sent, rowsPerFrame, batches, ids, bad, rows, flows)
	}
	var pods int
	q("SELECT count(DISTINCT d.value) FROM l4_flow_log l JOIN tag_dict d ON d.key = 'pod' AND d.id = l.pod_id_0", &pods)
	if pods != 300 {
		t.Fatalf("%d pods", pods)
	}
	t.Logf("sent %d batches; %d acknowledged before the kill, %d recovered from the spool, %d duplicates acknowledged again; all stored once",
		sent, acked, st.Recovered, st.Duplicates)
}
