package main

import (
	"context"
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

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/examples/server/store"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// metricsPort returns a free port of 41100-41199.
func metricsPort(t testing.TB) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(41100+rand.IntN(100))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in 41100-41199")
	return ""
}

func startChildArgs(t testing.TB, bin string, args ...string) *child {
	t.Helper()
	addr := metricsPort(t)
	cmd := exec.Command(bin, append([]string{"-listen", addr}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, addr: addr}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/api/v1/stats"); err == nil {
			resp.Body.Close()
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server did not start")
	return nil
}

// metricRecords are the records of frame f: l4 and l7 records every few
// milliseconds from a fixed time on, so that 40 frames span three minutes
// of 1 s and 1 min windows, tagged with pods, namespaces and services.
func metricRecords(f int, l4s []flow.Record, l7s []l7.Record) ([]flow.Record, []l7.Record) {
	const rows = 500
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).UnixNano()
	l4s, l7s = l4s[:0], l7s[:0]
	for j := 0; j < rows; j++ {
		n := uint64(f*rows + j)
		start := base + int64(n)*8*int64(time.Millisecond)
		var r flow.Record
		r.FlowID = n + 1
		r.StartTime, r.EndTime, r.Duration = start, start+int64(n%3000)*int64(time.Microsecond), int64(n%3000)*1000
		r.IP0 = netip.AddrFrom4([4]byte{10, 1, byte(n >> 8 % 4), byte(n % 50)})
		r.IP1 = netip.AddrFrom4([4]byte{10, 9, 0, byte(n % 5)})
		r.ClientPort, r.ServerPort, r.Protocol = uint16(1024+n%60000), uint16(80+n%3), 6
		r.L7Protocol = "HTTP"
		r.PacketTx, r.PacketRx, r.ByteTx, r.ByteRx = 1+n%10, n%9, 100+n, n*3
		r.L4ByteTx, r.L4ByteRx = n, n*2
		r.RTT, r.HasRTT = uint32(n%5000), n%4 != 0
		r.SRTMax, r.SRTSum, r.SRTCount = uint32(n%70), uint32(n%70)*2, 2
		r.RetransTx, r.RetransRx, r.ZeroWinTx = uint32(n%3), uint32(n%5/4), uint32(n%11/10)
		r.SynCount, r.SynAckCount, r.FinCount = 1, 1, 2
		r.CloseType = flow.CloseType(n % 12)
		r.Tags.Set(tag.Client, "pod", "pod-"+strconv.Itoa(int(n%13)))
		r.Tags.Set(tag.Client, "pod_ns", "ns-"+strconv.Itoa(int(n%3)))
		r.Tags.Set(tag.Server, "service", "svc-"+strconv.Itoa(int(n%5)))
		l4s = append(l4s, r)
		if n%4 == 0 {
			var q l7.Record
			q.FlowID = n + 1
			q.StartTime, q.EndTime = start, start+int64(n%900)*int64(time.Microsecond)
			q.Client, q.Server = netip.AddrPortFrom(r.IP0, r.ClientPort), netip.AddrPortFrom(r.IP1, r.ServerPort)
			q.Transport, q.L7Protocol = l7.TCP, "HTTP"
			q.HasRequest, q.HasResponse = true, n%17 != 0
			q.RequestType = []byte("GET")
			q.Endpoint = []byte("/api/" + strconv.Itoa(int(n%7)))
			q.Status, q.HasStatus = l7.Status(n%4), q.HasResponse
			q.Tags = r.Tags.Clone()
			l7s = append(l7s, q)
		}
	}
	return l4s, l7s
}

// TestServer_MetricsKillRestart SIGKILLs the server twice in the middle of
// a sustained ingest and once after it, each time with metric windows in
// memory only: the restarted server recomputes them from the stored
// records. At the end the metric tables equal what the aggregate package
// computes on every record sent (each batch stored once).
func TestServer_MetricsKillRestart(t *testing.T) {
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
	args := []string{"-db", db, "-token", token, "-metrics-flush", "700ms"}
	srv := startChildArgs(t, bin, args...)

	tags := []aggregate.TagKey{{Side: tag.Client, Key: "pod"}, {Side: tag.Client, Key: "pod_ns"}, {Side: tag.Server, Key: "service"}}
	want := metricSet{}
	ref := refAggregator(t, tags, want)

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
	var l4s []flow.Record
	var l7s []l7.Record
	var frame []byte
	sent := 0
	send := func(s *sender.Sender) {
		l4s, l7s = metricRecords(sent, l4s, l7s)
		for i := range l4s {
			enc.AddL4(&l4s[i])
			ref.WriteL4(&l4s[i])
		}
		for i := range l7s {
			enc.AddL7(&l7s[i])
			ref.WriteL7(&l7s[i])
		}
		var err error
		if frame, err = enc.AppendFrame(frame[:0]); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(frame); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	kill := func(after uint64, flush string) {
		for i := uint64(0); i < after; i++ {
			send(snd)
		}
		for deadline := time.Now().Add(20 * time.Second); snd.Stats().Acked < after && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		for i := 0; i < 4; i++ { // in flight when killed
			send(snd)
		}
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		for i := 0; i < 3; i++ { // spooled while down
			send(snd)
		}
		snd.Close()
		srv = startChildArgs(t, bin, "-db", db, "-token", token, "-metrics-flush", flush)
		dict = encoding.NewAgentDict()
		enc, _ = encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict})
		snd = newSender(srv.addr)
	}
	kill(12, "700ms")
	// From here on windows are written only when the server starts: the
	// next kills lose every window since.
	kill(8, "1h")
	for i := 0; i < 5; i++ {
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
	// A third kill, with the last batches' windows in memory only.
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	ref.Close()

	s, err := store.Open(store.Config{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var batches, rows int
	s.DB().QueryRow("SELECT count(*) FROM batches").Scan(&batches)
	s.DB().QueryRow("SELECT count(*) FROM l4_flow_log").Scan(&rows)
	if batches != sent || rows != sent*500 {
		t.Fatalf("sent %d batches, stored %d (%d l4 rows)", sent, batches, rows)
	}
	ms := s.Stats().Metrics
	if ms.Replayed == 0 {
		t.Fatalf("nothing recomputed on open: %+v", ms)
	}
	compareMetrics(t, storedMetrics(t, s, tags), want)
	var flushed int
	s.DB().QueryRow(`SELECT count(DISTINCT batch_seq) FROM "network.1s"`).Scan(&flushed)
	t.Logf("%d batches (%d duplicates acknowledged again), %d series equal after 3 kills; %d flushes wrote the network.1s rows; %d records recomputed on the last open",
		sent, st.Duplicates, len(want), flushed, ms.Replayed)
}
