//go:build linux && (386 || amd64 || arm64)

package ebpf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// startListening starts a program that prints "listening ADDR" once ready,
// returns the port of ADDR, and stops the program with SIGTERM at cleanup
// (or when stop is called). The programs listen on port 0: a fixed port in
// the ephemeral range may be held by any client socket on the machine.
func startListening(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, port int, stop func() error) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s %v: %q %v; stderr %s", bin, args, line, err, stderr.Bytes())
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(strings.TrimPrefix(line, "listening")))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s: listening address %q: %v", bin, line, err)
	}
	port = int(ap.Port())
	var once sync.Once
	var werr error
	stop = func() error {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case werr = <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				werr = fmt.Errorf("%s did not stop on SIGTERM", bin)
				<-done
			}
			if werr != nil {
				werr = fmt.Errorf("%w; stderr %s", werr, stderr.Bytes())
			}
		})
		return werr
	}
	t.Cleanup(func() { stop() })
	return cmd, port, stop
}

// gtCall is one outbound call of goroutineapp's ground truth.
type gtCall struct {
	id, k int
	who   string
	goid  uint64
	lport uint16
}

func readGroundTruth(t *testing.T, path string) []gtCall {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []gtCall
	for line := range strings.Lines(string(b)) {
		var c gtCall
		if _, err := fmt.Sscanf(line, "%d %d %s %d %d", &c.id, &c.k, &c.who, &c.goid, &c.lport); err != nil {
			t.Fatalf("ground truth line %q: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

// load sends n requests GET /r/ID (ids from first) from clients concurrent
// keep-alive clients and returns the wall time.
func load(t *testing.T, port, clients, first, n int) time.Duration {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ids := make(chan int)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for id := range ids {
				resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/r/" + strconv.Itoa(id))
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf("ok %d\n", id); string(body) != want {
					errs <- fmt.Errorf("request %d: %s %q", id, resp.Status, body)
					return
				}
			}
		})
	}
	for i := range n {
		select {
		case ids <- first + i:
		case err := <-errs:
			close(ids)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(ids)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	return time.Since(start)
}

// procCPU returns the CPU time of a process's threads, from their
// schedstat (ns); uprobes' costs are charged to the probed threads.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var ns int64
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}

// attribution measures how many of the ground truth's outbound calls the
// observed events attribute to the inbound request that caused them.
type attribution struct {
	calls      int // ground truth calls
	observed   int // calls whose request write was observed
	direct     int // the write carries the inbound request's id
	chained    int // the id leads back to the inbound request's id
	goroutines int // the write's Goroutine is the one the ground truth names
	byWho      map[string][2]int
}

func (a attribution) String() string {
	pct := func(n, d int) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
	}
	s := fmt.Sprintf("%d calls, %d observed; chained %d (%s), direct %d (%s), goroutine ids %d (%s)",
		a.calls, a.observed, a.chained, pct(a.chained, a.calls), a.direct, pct(a.direct, a.calls), a.goroutines, pct(a.goroutines, a.calls))
	for _, w := range []string{"handler", "child", "grandchild"} {
		s += fmt.Sprintf("; %s %s of %d", w, pct(a.byWho[w][0], a.byWho[w][1]), a.byWho[w][1])
	}
	return s
}

// attribute matches the events of the server (pid) with the ground truth.
// An outbound call is known by what it wrote ("call ID K\n", unique) and
// checked against the local port the server logged (ports are reused over
// a run). Its request write carries a syscall trace id; the call is
// attributed to the inbound request whose read started that id, or, when
// the id was started by reading the response of an earlier outbound call
// (the rule starts an id at every new ingress), to that call's attribution,
// and so on: the chain the records' request and response ids make.
func attribute(evs []tlsEvent, pid, httpPort, echoPort int, calls []gtCall) attribution {
	type key struct{ id, k int }
	type write struct {
		trace, goid uint64
		lport       uint16
	}
	inbound := map[int]uint64{}   // request id -> trace id of its read
	writes := map[key]write{}     // outbound call -> its request write
	respOwner := map[uint64]key{} // trace id started by a response read -> call
	parseCall := func(b []byte) (key, bool) {
		var c key
		_, err := fmt.Sscanf(string(b), "call %d %d\n", &c.id, &c.k)
		return c, err == nil
	}
	for _, e := range evs {
		if int(e.Pid) != pid || e.Kind != socket.KindData || e.Origin != socket.OriginSyscall {
			continue
		}
		switch {
		case int(e.Local.Port()) == httpPort && e.Direction == socket.Ingress:
			// net/http may read a request's first byte from a background
			// goroutine: the rest comes in a read of its own.
			rest, ok := bytes.CutPrefix(e.Data, []byte("GET /r/"))
			if !ok {
				if rest, ok = bytes.CutPrefix(e.Data, []byte("ET /r/")); !ok {
					continue
				}
			}
			sp := bytes.IndexByte(rest, ' ')
			if sp < 0 {
				continue
			}
			if id, err := strconv.Atoi(string(rest[:sp])); err == nil {
				inbound[id] = e.SyscallTraceID
			}
		case int(e.Remote.Port()) == echoPort && e.Direction == socket.Egress:
			if c, ok := parseCall(e.Data); ok {
				writes[c] = write{e.SyscallTraceID, e.Goroutine, e.Local.Port()}
			}
		case int(e.Remote.Port()) == echoPort && e.Direction == socket.Ingress:
			if c, ok := parseCall(e.Data); ok && e.SyscallTraceID != 0 {
				respOwner[e.SyscallTraceID] = c
			}
		}
	}
	a := attribution{calls: len(calls), byWho: map[string][2]int{}}
	for _, c := range calls {
		w := a.byWho[c.who]
		w[1]++
		wr, ok := writes[key{c.id, c.k}]
		if !ok || wr.lport != c.lport {
			a.byWho[c.who] = w
			continue
		}
		a.observed++
		if wr.goid == c.goid {
			a.goroutines++
		}
		want, ok := inbound[c.id]
		id := wr.trace
		if ok && want != 0 && id == want {
			a.direct++
		}
		for hop := 0; ok && want != 0 && id != 0 && hop < 8; hop++ {
			if id == want {
				a.chained++
				w[0]++
				break
			}
			prev, found := respOwner[id]
			if !found {
				break
			}
			id = writes[prev].trace
		}
		a.byWho[c.who] = w
	}
	return a
}

// TestGoroutines_TraceID runs a Go net/http server whose handlers make 1-3
// outbound calls each, from the handler's goroutine and from goroutines it
// starts, under 10 and 50 concurrent clients, first traced per thread, then
// with goroutine tracking attached to the running server (NewGoroutines),
// and compares the syscall trace ids with the server's ground truth. With
// tracking, every outbound call must be attributed to its inbound request
// and carry the goroutine id the server logged. The server's CPU time per
// request, with no tracer, with the tracer and with goroutine tracking,
// gives the cost.
func TestGoroutines_TraceID(t *testing.T) {
	testutil.RequireEBPF(t)
	dir := t.TempDir()
	// Stripped: the probes find newproc1 through .gopclntab and the runtime
	// offsets in the version table (TestAnalyzeGoRuntime checks them
	// against DWARF).
	bin := buildTestApp(t, dir, "goroutineapp", "goroutineapp", "local", []string{"GOPROXY=off"}, "-s -w")
	_, goroutineEchoPort, stopEcho := startListening(t, bin, "-mode", "echo", "-addr", "127.0.0.1:0")
	defer stopEcho()
	gtPath := filepath.Join(dir, "groundtruth.txt")
	srv, goroutineHTTPPort, stopSrv := startListening(t, bin, "-mode", "server", "-addr", "127.0.0.1:0",
		"-echo", "127.0.0.1:"+strconv.Itoa(goroutineEchoPort), "-log", gtPath)
	pid := srv.Process.Pid

	// METAFLOW_EBPF_MEASURE=1 makes longer runs, for steadier CPU figures.
	perRun := 300
	if os.Getenv("METAFLOW_EBPF_MEASURE") != "" {
		perRun = 3000
	}
	type run struct {
		mode    string
		clients int
		first   int
		wall    time.Duration
		cpu     time.Duration
	}
	var runs []run
	next := 1000
	phase := func(mode string) {
		for _, clients := range []int{10, 50} {
			c0 := procCPU(t, pid)
			wall := load(t, goroutineHTTPPort, clients, next, perRun)
			runs = append(runs, run{mode, clients, next, wall, procCPU(t, pid) - c0})
			next += perRun
		}
	}
	load(t, goroutineHTTPPort, 10, 0, 100) // warm up: the server's goroutines and memory
	phase("none")

	if stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
		defer stats.Close()
	}
	rec := startTLSRecorder(t, Config{Pids: []uint32{uint32(pid)}, PayloadSize: 256})
	phase("thread")
	type probeCost struct {
		stats       GoroutineStats
		bpfNs, runs uint64
	}
	costs := map[string]probeCost{}
	track := func(mode string, cfg GoroutineConfig) {
		if !cfg.ScanProcs {
			cfg.Binaries = []string{"/proc/" + strconv.Itoa(pid) + "/exe"}
		}
		gor, err := NewGoroutines(rec.tr, cfg, nil)
		if errors.Is(err, capture.ErrNotSupported) {
			t.Skipf("goroutine probes: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer gor.Close()
		if st := gor.Stats(); st.Binaries != 1 || st.Probes < 1 {
			t.Fatalf("goroutine probes attached: %+v", st)
		}
		// Scheduler mode knows a thread's goroutine once the thread ran
		// the scheduler: requests in flight at attach are not followed.
		load(t, goroutineHTTPPort, 10, 0, 50)
		phase(mode)
		c := probeCost{stats: gor.Stats()}
		for _, p := range []*ebpf.Program{gor.objs.GoExecute, gor.objs.GoNewproc1, gor.objs.GoNewproc1Ret, gor.objs.GoGoexit0} {
			if s, err := p.Stats(); err == nil {
				c.bpfNs += uint64(s.Runtime)
				c.runs += s.RunCount
			}
		}
		costs[mode] = c
		t.Logf("%s probes: %+v", mode, c.stats)
		if c.stats.Inherited == 0 || c.stats.ReadFails > 0 || (mode == "scheduler") != (c.stats.Executes > 0) {
			t.Errorf("%s probe counters: %+v", mode, c.stats)
		}
	}
	// Found by the scan of running processes, which the tracer's pid filter
	// limits to the server.
	track("goroutine", GoroutineConfig{ScanProcs: true, Rescan: -1})
	// The scheduler phase also takes the parent at newproc1's entry, the
	// path of Go versions whose g.parentGoid offset is unknown.
	testNewproc1Entry = true
	track("scheduler", GoroutineConfig{FollowScheduler: true})
	testNewproc1Entry = false
	evs := rec.stop()
	if st := rec.tr.Stats(); st.Lost > 0 {
		t.Errorf("ring lost %d events", st.Lost)
	}
	if err := stopSrv(); err != nil {
		t.Fatal(err)
	}
	calls := readGroundTruth(t, gtPath)
	cpu := map[string]time.Duration{}
	n := map[string]int{}
	for _, r := range runs {
		cpu[r.mode] += r.cpu
		n[r.mode] += perRun
		var sel []gtCall
		for _, c := range calls {
			if c.id >= r.first && c.id < r.first+perRun {
				sel = append(sel, c)
			}
		}
		msg := fmt.Sprintf("%-9s %2d clients: %4.0f req/s, server CPU %5.0f µs/req", r.mode, r.clients,
			float64(perRun)/r.wall.Seconds(), float64(r.cpu.Microseconds())/float64(perRun))
		if r.mode == "none" {
			t.Log(msg)
			continue
		}
		a := attribute(evs, pid, goroutineHTTPPort, goroutineEchoPort, sel)
		t.Logf("%s; %v", msg, a)
		if a.observed != a.calls {
			t.Errorf("%s %d clients: %d of %d outbound calls observed", r.mode, r.clients, a.observed, a.calls)
		}
		if r.mode != "thread" {
			if a.chained < a.calls*98/100 {
				t.Errorf("goroutine tracking, %d clients: %d of %d calls attributed to their request", r.clients, a.chained, a.calls)
			}
			if a.goroutines < a.calls*98/100 {
				t.Errorf("goroutine tracking, %d clients: %d of %d calls with the goroutine id the server logged", r.clients, a.goroutines, a.calls)
			}
		}
	}
	per := func(m string) float64 { return float64(cpu[m].Microseconds()) / float64(n[m]) }
	t.Logf("server CPU per request: %.0f µs without tracer, %.0f µs traced per thread", per("none"), per("thread"))
	for _, m := range []string{"goroutine", "scheduler"} {
		c := costs[m]
		reqs := float64(n[m] + 50)
		t.Logf("%s: %.0f µs per request (+%.0f µs over per thread); per request %.1f goroutine switches probed, %.1f probes run (all processes of the executable), %.2f µs in their BPF programs (%.0f ns a run)",
			m, per(m), per(m)-per("thread"), float64(c.stats.Executes)/reqs, float64(c.runs)/reqs, float64(c.bpfNs)/1000/reqs, float64(c.bpfNs)/float64(max(c.runs, 1)))
	}
}
