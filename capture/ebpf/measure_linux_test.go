//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"encoding/csv"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// benchRPS parses redis-benchmark --csv output: requests per second per
// test.
func benchRPS(t *testing.T, out string) map[string]float64 {
	t.Helper()
	rps := map[string]float64{}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("redis-benchmark output: %v: %q", err, out)
	}
	for _, r := range recs {
		if len(r) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(r[1], 64); err == nil {
			rps[r[0]] = v
		}
	}
	if len(rps) == 0 {
		t.Fatalf("no rates in redis-benchmark output %q", out)
	}
	return rps
}

// TestTracer_Measure prints the tracer's costs under redis-benchmark:
// kernel ns per traced system call (BPF run-time statistics), events per
// second delivered with zero loss, the reader's user+system CPU per 100,000
// events, and redis-benchmark's throughput with and without tracing. It
// takes one to two minutes and runs only with METAFLOW_EBPF_MEASURE=1.
func TestTracer_Measure(t *testing.T) {
	if os.Getenv("METAFLOW_EBPF_MEASURE") == "" {
		t.Skip("measurement; run with METAFLOW_EBPF_MEASURE=1")
	}
	testutil.RequireEBPF(t)
	testutil.RequireCommand(t, "redis-benchmark")
	const port = 26340
	srv := startRedis(t, port)
	args := []string{"-p", strconv.Itoa(port), "-n", "100000", "-c", "20", "-t", "set,get", "-d", "64", "--csv"}
	// Without tracing, before and after the traced run: the machine's
	// load varies, the better of the two is the baseline.
	without := map[string]float64{}
	baseline := func() {
		base, baseOut, release := heldCommand(t, "redis-benchmark", args...)
		release(nil)
		if err := base.Wait(); err != nil {
			t.Fatalf("redis-benchmark: %v %s", err, baseOut)
		}
		for k, v := range benchRPS(t, baseOut.String()) {
			without[k] = max(without[k], v)
		}
	}
	baseline()

	// With tracing, filtered on the server and the benchmark.
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		t.Fatalf("enable BPF statistics: %v", err)
	}
	defer stats.Close()
	type result struct {
		rps         map[string]float64
		events      uint64
		bytes       uint64
		elapsed     time.Duration
		cpu         time.Duration
		lost        uint64
		enter, exit time.Duration // kernel run time of the syscall programs
		calls       uint64        // exits run
		state       *ebpf.ProgramStats
	}
	traced := func() result {
		var r result
		bench, benchOut, release := heldCommand(t, "redis-benchmark", args...)
		tr, err := New(Config{Pids: []uint32{uint32(srv.Process.Pid), uint32(bench.Process.Pid)}})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		var events, bytes atomic.Uint64
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			runtime.LockOSThread()
			var r0, r1 unix.Rusage
			unix.Getrusage(unix.RUSAGE_THREAD, &r0)
			var e socket.Event
			for {
				if err := tr.ReadEvent(&e); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("ReadEvent: %v", err)
					}
					break
				}
				events.Add(1)
				bytes.Add(uint64(len(e.Payload)))
			}
			unix.Getrusage(unix.RUSAGE_THREAD, &r1)
			r.cpu = time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
		}()
		start := time.Now()
		release(nil)
		if err := bench.Wait(); err != nil {
			t.Fatalf("redis-benchmark: %v %s", err, benchOut)
		}
		r.elapsed = time.Since(start)
		time.Sleep(200 * time.Millisecond) // let the reader drain
		r.lost = tr.Stats().Lost
		for _, p := range []*ebpf.Program{tr.objs.TpSysEnter, tr.objs.TpSysEnterAddr, tr.objs.TpSysEnterClose} {
			if s, err := p.Stats(); err == nil {
				r.enter += s.Runtime
			}
		}
		if s, err := tr.objs.TpSysExit.Stats(); err == nil {
			r.exit, r.calls = s.Runtime, s.RunCount
		}
		r.state, _ = tr.objs.RawSetState.Stats()
		tr.Close()
		<-readerDone
		r.events, r.bytes = events.Load(), bytes.Load()
		r.rps = benchRPS(t, benchOut.String())
		return r
	}

	// Rounds alternate, so that both sides see the machine's changing load.
	with := map[string]float64{}
	var total result
	for range 2 {
		r := traced()
		baseline()
		for k, v := range r.rps {
			with[k] = max(with[k], v)
		}
		total.events += r.events
		total.bytes += r.bytes
		total.elapsed += r.elapsed
		total.cpu += r.cpu
		total.lost += r.lost
		total.enter += r.enter
		total.exit += r.exit
		total.calls += r.calls
		total.state = r.state
	}
	n := total.events
	if n == 0 || total.calls == 0 {
		t.Fatalf("no events")
	}
	t.Logf("events %d in %v: %.0f events/s, %d lost, %.1f MB payload", n, total.elapsed.Round(time.Millisecond),
		float64(n)/total.elapsed.Seconds(), total.lost, float64(total.bytes)/1e6)
	t.Logf("reader CPU (user+sys) %v: %.1f ms per 100,000 events", total.cpu, float64(total.cpu.Microseconds())/10/float64(n)*1e3)
	t.Logf("per traced system call: enter %.0f ns + exit %.0f ns (%d calls)", float64(total.enter.Nanoseconds())/float64(total.calls),
		float64(total.exit.Nanoseconds())/float64(total.calls), total.calls)
	if total.state != nil && total.state.RunCount > 0 {
		t.Logf("inet_sock_set_state: %.0f ns per run", float64(total.state.Runtime.Nanoseconds())/float64(total.state.RunCount))
	}
	for k, v := range without {
		t.Logf("redis-benchmark %s: %.0f req/s without tracing, %.0f with (%+.1f%%; best of 3 and 2 alternating runs)", k, v, with[k], 100*(with[k]-v)/v)
	}
	if total.lost != 0 {
		t.Errorf("lost %d events", total.lost)
	}
}

// BenchmarkTracer_Write measures what tracing adds to a system call: a
// 64-byte UDP write, untraced, then traced (pid filter on the benchmark,
// a reader draining the ring), with the kernel's run time of the enter
// and exit programs per call as the bpf-ns/op metric.
func BenchmarkTracer_Write(b *testing.B) {
	testutil.RequireEBPF(b)
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 26341})
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	f, err := tx.File()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	msg := make([]byte, 64)
	write := func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			unix.Write(fd, msg)
		}
	}
	b.Run("untraced", write)
	b.Run("traced", func(b *testing.B) {
		stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			b.Fatal(err)
		}
		defer stats.Close()
		tr, err := New(Config{Pids: []uint32{uint32(os.Getpid())}})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			var e socket.Event
			for tr.ReadEvent(&e) == nil {
			}
		}()
		write(b)
		en, _ := tr.objs.TpSysEnter.Stats()
		ex, _ := tr.objs.TpSysExit.Stats()
		st := tr.Stats()
		tr.Close()
		<-done
		if en != nil && ex != nil && ex.RunCount > 0 {
			b.ReportMetric(float64(en.Runtime.Nanoseconds())/float64(en.RunCount), "enter-ns/op")
			b.ReportMetric(float64(ex.Runtime.Nanoseconds())/float64(ex.RunCount), "exit-ns/op")
			b.ReportMetric(float64((en.Runtime+ex.Runtime).Nanoseconds())/float64(ex.RunCount), "bpf-ns/op")
		}
		b.ReportMetric(float64(st.Lost), "lost")
	})
}
