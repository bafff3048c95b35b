//go:build linux

package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/ebpf"
	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// The end-to-end tests of the socket input run real servers and clients
// under the eBPF tracer, on ports 26450-26499, and keep only the events of
// sockets on those ports.

// e2eSink keeps clones of the records, safely for concurrent use.
type e2eSink struct {
	mu   sync.Mutex
	recs []*l7.Record
	sock []pipeline.SocketRecord
}

func (s *e2eSink) WriteL4(*flow.Record) error { return nil }
func (s *e2eSink) WriteL7(r *l7.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, r.Clone())
	s.mu.Unlock()
	return nil
}
func (s *e2eSink) WriteSocket(r *pipeline.SocketRecord) error {
	c := *r
	c.Comm = append([]byte(nil), r.Comm...)
	s.mu.Lock()
	s.sock = append(s.sock, c)
	s.mu.Unlock()
	return nil
}

func (s *e2eSink) records() []*l7.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*l7.Record(nil), s.recs...)
}

// e2eRun is a pipeline running on a live tracer.
type e2eRun struct {
	sink   *e2eSink
	p      *pipeline.Pipeline
	cancel context.CancelFunc
	done   chan error
}

// portFilter keeps the events of sockets with a local or remote port in
// [lo, hi], and the later events of those sockets (state changes and
// closes may come without addresses).
func portFilter(lo, hi uint16) func(e *socket.Event) bool {
	known := map[uint64]bool{}
	in := func(p uint16) bool { return p >= lo && p <= hi }
	return func(e *socket.Event) bool {
		if in(e.Local.Port()) || in(e.Remote.Port()) {
			known[e.SocketID] = true
			return true
		}
		return known[e.SocketID]
	}
}

// startEBPF starts a tracer and a pipeline on it, keeping the sockets on
// ports lo..hi; with probes set, it calls it on the tracer before the
// pipeline starts (to attach TLS probes). It skips without eBPF.
func startEBPF(t *testing.T, cfg ebpf.Config, probes func(*ebpf.Tracer), lo, hi uint16) *e2eRun {
	t.Helper()
	testutil.RequireEBPF(t)
	tr, err := ebpf.New(cfg)
	if err != nil {
		t.Skipf("eBPF tracer unavailable here: %v", err)
	}
	if probes != nil {
		probes(tr)
	}
	r := &e2eRun{sink: &e2eSink{}, done: make(chan error, 1)}
	r.p, err = pipeline.New(pipeline.Config{
		Sockets: tr,
		Clock:   pipeline.ClockWall,
		Socket:  pipeline.SocketConfig{Filter: portFilter(lo, hi)},
		Sinks:   []pipeline.SinkConfig{{Sink: r.sink}},
	})
	if err != nil {
		tr.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.p.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// wait returns the records once cond holds on them, or after 10 s.
func (r *e2eRun) wait(cond func([]*l7.Record) bool) []*l7.Record {
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := r.sink.records()
		if cond(recs) || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the pipeline (every record comes out) and returns the records.
func (r *e2eRun) stop(t *testing.T) []*l7.Record {
	t.Helper()
	if r.cancel == nil {
		return r.sink.records()
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil && err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Run did not return after cancel")
	}
	return r.sink.records()
}

// startServer starts a server process as a child, waits until addr
// accepts connections and stops it at the end of the test.
func startServer(t *testing.T, addr string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("%s does not listen on %s: %s", name, addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runClient runs a client program to its end and returns its pid.
func runClient(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return cmd.Process.Pid
}

func describe(recs []*l7.Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.Write(r.AppendJSON(nil))
		b.WriteByte('\n')
	}
	return b.String()
}

// startTcpdump captures port on lo into a pcap until the test stops it.
func startTcpdump(t *testing.T, filter string) (path string, stop func()) {
	t.Helper()
	testutil.RequireCommand(t, "tcpdump")
	path = filepath.Join(t.TempDir(), "lo.pcap")
	cmd := exec.Command("tcpdump", "-i", "lo", "--immediate-mode", "-Z", "root", "-U", "-s", "0", "-w", path, filter)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		time.Sleep(200 * time.Millisecond) // let the last packets be written
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
	t.Cleanup(stop)
	return path, stop
}

// TestEBPF_Redis runs redis-server and redis-cli under the tracer: records
// from each end (Redis, SET/GET, statuses, the processes' names and ids),
// a value larger than one read decoded whole, and TCP sequence numbers
// equal to those of the packets captured on lo at the same time.
func TestEBPF_Redis(t *testing.T) {
	testutil.RequireCommand(t, "redis-server", "redis-cli")
	r := startEBPF(t, ebpf.Config{PayloadSize: ebpf.MaxPayloadSize}, nil, 26450, 26450)
	pcap, stopDump := startTcpdump(t, "tcp port 26450")
	srv := startServer(t, "127.0.0.1:26450", "redis-server", "--port", "26450", "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	big := strings.Repeat("x", 40000)
	cli1 := runClient(t, "redis-cli", "-p", "26450", "SET", "k", "v1")
	cli2 := runClient(t, "redis-cli", "-p", "26450", "GET", "k")
	runClient(t, "redis-cli", "-p", "26450", "GET", "nokey")
	runClient(t, "redis-cli", "-p", "26450", "SET", "big", big)
	runClient(t, "redis-cli", "-p", "26450", "GET", "big")
	runClient(t, "redis-cli", "-p", "26450", "INCR", "k") // an error reply
	isServer := func(r *l7.Record) bool { return r.ProcessID1 != 0 }
	recs := r.wait(func(recs []*l7.Record) bool {
		n := 0
		for _, x := range recs {
			if string(x.RequestType) == "INCR" && x.HasResponse {
				n++
			}
		}
		return n == 2
	})
	stopDump()
	recs = r.stop(t)
	var sets, gets int
	bySeq := map[uint32][]*l7.Record{}
	for _, x := range recs {
		if x.L7Protocol != "Redis" || !x.HasRequest {
			continue
		}
		bySeq[x.ReqTCPSeq] = append(bySeq[x.ReqTCPSeq], x)
		if isServer(x) {
			if string(x.ProcessKName1) != "redis-server" || x.ProcessID1 != uint32(srv.Process.Pid) || x.ProcessID0 != 0 {
				t.Errorf("server-side record with process %d %q (want redis-server %d)", x.ProcessID1, x.ProcessKName1, srv.Process.Pid)
			}
			if x.SyscallThread0 == 0 || x.SyscallTraceIDRequest == 0 {
				t.Errorf("server-side record without syscall thread or trace id: %s", x.AppendJSON(nil))
			}
		} else if string(x.ProcessKName0) != "redis-cli" || x.ProcessID0 == 0 {
			t.Errorf("client-side record with process %d %q", x.ProcessID0, x.ProcessKName0)
		}
		switch string(x.RequestType) {
		case "SET":
			sets++
			if x.Status != l7.StatusOk {
				t.Errorf("SET %s", x.AppendJSON(nil))
			}
			if string(x.RequestResource) == "SET k v1" && !isServer(x) && x.ProcessID0 != uint32(cli1) {
				t.Errorf("SET k v1 from pid %d, want %d", x.ProcessID0, cli1)
			}
		case "GET":
			gets++
			if string(x.RequestResource) == "GET k" && !isServer(x) && x.ProcessID0 != uint32(cli2) {
				t.Errorf("GET k from pid %d, want %d", x.ProcessID0, cli2)
			}
			if string(x.RequestResource) == "GET big" && !isServer(x) {
				want := len(fmt.Sprintf("$%d\r\n%s\r\n", len(big), big))
				if int(x.CapturedResponseByte) != want || x.Status != l7.StatusOk {
					t.Errorf("GET big seen by the client: captured %d response bytes, want %d", x.CapturedResponseByte, want)
				}
			}
		case "INCR":
			if x.Status != l7.StatusServerError || len(x.ResponseException) == 0 {
				t.Errorf("INCR of a string: %s", x.AppendJSON(nil))
			}
		}
	}
	// SET big is one 40 KB write, cut to the 16 KB capture size at both
	// ends, which the Redis decoder cannot make a request of (as with a
	// snaplen); GET big's reply, read by redis-cli in 16 KB calls, is
	// captured whole (checked above).
	if sets != 2 || gets != 6 {
		t.Fatalf("%d SET and %d GET records, want 2 and 6 (one per end):\n%s", sets, gets, describe(recs))
	}
	// Each request seen from both ends carries the same sequence numbers.
	for seq, xs := range bySeq {
		if len(xs) != 2 || isServer(xs[0]) == isServer(xs[1]) ||
			xs[0].HasResponse && xs[1].HasResponse && xs[0].RespTCPSeq != xs[1].RespTCPSeq {
			t.Errorf("request seq %d: %d records, want one per end with one resp_tcp_seq:\n%s", seq, len(xs), describe(xs))
		}
	}
	// The packets of the same requests: the same sequence numbers.
	pk := runSockets(t, pipeline.Config{Source: openFile(t, pcap)})
	if out, err := exec.Command("tcpdump", "-r", pcap, "-c", "3").CombinedOutput(); len(pk.recs) == 0 {
		t.Logf("no packet records; tcpdump -r: %v %s", err, out)
	}
	byPkt := map[uint32]*l7.Record{}
	for _, x := range pk.recs {
		if x.L7Protocol == "Redis" && x.HasRequest {
			byPkt[x.ReqTCPSeq] = x
		}
	}
	matched := 0
	for seq, xs := range bySeq {
		x := byPkt[seq]
		if x == nil {
			t.Errorf("no packet record with req_tcp_seq %d:\n%s", seq, describe(xs))
			continue
		}
		for _, e := range xs {
			if string(e.RequestResource) != string(x.RequestResource) || e.HasResponse && e.RespTCPSeq != x.RespTCPSeq {
				t.Errorf("eBPF record %s\ndiffers from packet record %s", e.AppendJSON(nil), x.AppendJSON(nil))
			}
			matched++
		}
	}
	if matched < 10 {
		t.Errorf("%d eBPF records matched packet records, want at least 10", matched)
	}
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	if len(r.sink.sock) < 12 {
		t.Errorf("%d socket records, want one per socket (12)", len(r.sink.sock))
	}
}

func openFile(t *testing.T, path string) capture.Source {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// nginxConf writes an nginx configuration serving 200 on port web and
// proxying port front to it, in dir.
func nginxConf(t *testing.T, dir string, web, front int) string {
	t.Helper()
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	sendfile off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen 127.0.0.1:%[2]d;
		location / { return 200 "hello\n"; }
		location /missing { return 404; }
	}
	server {
		listen 127.0.0.1:%[3]d;
		location / { proxy_pass http://127.0.0.1:%[2]d; }
	}
}
`, dir, web, front)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEBPF_NginxCurl runs nginx and curl under the tracer: HTTP records
// from curl's end and nginx's (method, path, status, processes), and the
// syscall trace id that links each request nginx received on its front
// port to the request it proxied upstream.
func TestEBPF_NginxCurl(t *testing.T) {
	testutil.RequireCommand(t, "nginx", "curl")
	r := startEBPF(t, ebpf.Config{}, nil, 26451, 26452)
	dir := t.TempDir()
	conf := nginxConf(t, dir, 26451, 26452)
	startServer(t, "127.0.0.1:26452", "nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	curl := runClient(t, "curl", "-sf", "http://127.0.0.1:26451/hello?x=1")
	runClient(t, "curl", "-s", "http://127.0.0.1:26451/missing")
	for i := 0; i < 3; i++ {
		runClient(t, "curl", "-sf", fmt.Sprintf("http://127.0.0.1:26452/proxied/%d", i))
	}
	recs := r.wait(func(recs []*l7.Record) bool {
		n := 0
		for _, x := range recs {
			if strings.HasPrefix(string(x.RequestResource), "/proxied/2") && x.HasResponse {
				n++
			}
		}
		return n == 4 // curl's, nginx front's, nginx upstream client's, upstream server's
	})
	recs = r.stop(t)
	var hello, missing int
	fronts := map[string]*l7.Record{}
	ups := map[string]*l7.Record{}
	for _, x := range recs {
		if x.L7Protocol != "HTTP" || !x.HasRequest {
			t.Errorf("unexpected record %s", x.AppendJSON(nil))
			continue
		}
		path := string(x.RequestResource)
		switch {
		case path == "/hello?x=1":
			hello++
			if x.ResponseCode != 200 || x.Status != l7.StatusOk || string(x.RequestType) != "GET" || string(x.Endpoint) != "/hello" {
				t.Errorf("GET /hello: %s", x.AppendJSON(nil))
			}
			if x.ProcessID0 != 0 && (string(x.ProcessKName0) != "curl" || x.ProcessID0 != uint32(curl)) {
				t.Errorf("curl's end: process %d %q, want curl %d", x.ProcessID0, x.ProcessKName0, curl)
			}
			if x.ProcessID1 != 0 && string(x.ProcessKName1) != "nginx" {
				t.Errorf("nginx's end: process %q", x.ProcessKName1)
			}
		case path == "/missing":
			missing++
			if x.ResponseCode != 404 || x.Status != l7.StatusClientError {
				t.Errorf("GET /missing: %s", x.AppendJSON(nil))
			}
		case strings.HasPrefix(path, "/proxied/"):
			switch {
			case x.Server.Port() == 26452 && x.ProcessID1 != 0:
				fronts[path] = x // nginx received it from curl
			case x.Server.Port() == 26451 && x.ProcessID0 != 0:
				ups[path] = x // nginx sent it upstream
			}
		}
	}
	if hello != 2 || missing != 2 {
		t.Errorf("%d /hello and %d /missing records, want 2 each (curl's end and nginx's):\n%s", hello, missing, describe(recs))
	}
	for i := 0; i < 3; i++ {
		path := fmt.Sprintf("/proxied/%d", i)
		f, u := fronts[path], ups[path]
		if f == nil || u == nil {
			t.Errorf("%s: front record %v, upstream record %v:\n%s", path, f != nil, u != nil, describe(recs))
			continue
		}
		if f.SyscallTraceIDRequest == 0 || f.SyscallTraceIDRequest != u.SyscallTraceIDRequest {
			t.Errorf("%s: front request's syscall trace id %d, upstream request's %d: want equal, nonzero",
				path, f.SyscallTraceIDRequest, u.SyscallTraceIDRequest)
		}
		if f.ProcessID1 != u.ProcessID0 || f.SyscallThread0 != u.SyscallThread0 {
			t.Errorf("%s: front handled by %d/%d, upstream sent by %d/%d", path, f.ProcessID1, f.SyscallThread0, u.ProcessID0, u.SyscallThread0)
		}
	}
	ids := map[uint64]bool{}
	for _, f := range fronts {
		ids[f.SyscallTraceIDRequest] = true
	}
	if len(ids) != 3 {
		t.Errorf("the 3 front requests share trace ids: %v", ids)
	}
}

// TestEBPF_MariaDB runs mariadbd (its own datadir in a temporary folder)
// and the mysql client under the tracer: MySQL records of a query and of a
// failing one, from both ends, with their processes. Setting up the
// server takes about 4 s, so it runs under -short too.
func TestEBPF_MariaDB(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector; the Redis and nginx tests cover the socket input's concurrency")
	}
	testutil.RequireCommand(t, "mariadb-install-db", "mariadbd", "mysql")
	testutil.RequireEBPF(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v: %s", err, out)
	}
	r := startEBPF(t, ebpf.Config{}, nil, 26455, 26455)
	srv := startServer(t, "127.0.0.1:26455", "mariadbd", "--no-defaults", "--datadir="+data, "--user=root",
		"--port=26455", "--bind-address=127.0.0.1", "--socket="+filepath.Join(dir, "sock"),
		"--pid-file="+filepath.Join(dir, "pid"), "--skip-log-bin", "--innodb-buffer-pool-size=16M")
	mysql := []string{"--no-defaults", "-h127.0.0.1", "-P26455", "-uroot", "-e"}
	cli := runClient(t, "mysql", append(mysql, "SELECT 1")...)
	if out, err := exec.Command("mysql", append(mysql, "SELECT * FROM mysql.nosuch")...).CombinedOutput(); err == nil {
		t.Fatalf("a query of a missing table succeeded: %s", out)
	}
	r.wait(func(recs []*l7.Record) bool {
		n := 0
		for _, x := range recs {
			if strings.Contains(string(x.RequestResource), "nosuch") && x.HasResponse {
				n++
			}
		}
		return n == 2
	})
	recs := r.stop(t)
	var ok, failed int
	for _, x := range recs {
		if x.L7Protocol != "MySQL" {
			t.Errorf("unexpected record %s", x.AppendJSON(nil))
			continue
		}
		switch string(x.RequestResource) {
		case "SELECT 1":
			ok++
			if string(x.RequestType) != "COM_QUERY" || x.Status != l7.StatusOk {
				t.Errorf("SELECT 1: %s", x.AppendJSON(nil))
			}
			if x.ProcessID0 != 0 && (string(x.ProcessKName0) != "mysql" || x.ProcessID0 != uint32(cli)) {
				t.Errorf("client's end: %d %q, want mysql %d", x.ProcessID0, x.ProcessKName0, cli)
			}
			if x.ProcessID1 != 0 && (string(x.ProcessKName1) != "mariadbd" || x.ProcessID1 != uint32(srv.Process.Pid)) {
				t.Errorf("server's end: %d %q, want mariadbd %d", x.ProcessID1, x.ProcessKName1, srv.Process.Pid)
			}
		case "SELECT * FROM mysql.nosuch":
			failed++
			if x.Status != l7.StatusServerError || x.ResponseCode != 1146 || string(x.Endpoint) != "SELECT mysql.nosuch" {
				t.Errorf("failing query: %s", x.AppendJSON(nil))
			}
		}
	}
	if ok != 2 || failed != 2 {
		t.Errorf("%d SELECT 1 and %d failing records, want 2 each (one per end):\n%s", ok, failed, describe(recs))
	}
}

// TestEBPF_DNS resolves a name over UDP through Go's resolver against a
// DNS responder on 127.0.0.1:26458, both in the test process, under the
// tracer: DNS records of the query from the client's socket and the
// server's, with the answer.
func TestEBPF_DNS(t *testing.T) {
	// The tracer leaves its own process out unless asked for it.
	r := startEBPF(t, ebpf.Config{Pids: []uint32{uint32(os.Getpid())}}, nil, 26458, 26458)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:26458")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			// The query with QR, RA and one answer: A 127.0.0.7.
			resp := append([]byte(nil), buf[:n]...)
			resp[2] |= 0x80
			resp[3] |= 0x80
			resp[7] = 1
			resp[10], resp[11] = 0, 0 // no additional records (EDNS)
			end := 12                 // the question's name ends at a zero length
			for end < n && resp[end] != 0 {
				end += int(resp[end]) + 1
			}
			if end+5 > n {
				continue
			}
			resp = resp[:end+5]   // header and question, without EDNS
			if resp[end+2] == 1 { // QTYPE A
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 7)
			} else {
				resp[7] = 0
			}
			pc.WriteTo(resp, from)
		}
	}()
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp4", "127.0.0.1:26458")
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := res.LookupIP(ctx, "ip4", "ebpf-test.example.")
	if err != nil || len(ips) != 1 || !ips[0].Equal(net.IPv4(127, 0, 0, 7)) {
		t.Fatalf("lookup: %v %v", ips, err)
	}
	r.wait(func(recs []*l7.Record) bool {
		n := 0
		for _, x := range recs {
			if x.L7Protocol == "DNS" && x.HasResponse {
				n++
			}
		}
		return n >= 2
	})
	recs := r.stop(t)
	var client, server int
	for _, x := range recs {
		if x.L7Protocol != "DNS" || string(x.RequestResource) != "ebpf-test.example" || string(x.RequestType) != "A" {
			continue
		}
		if x.Transport != l7.UDP || x.Status != l7.StatusOk || !strings.Contains(string(x.ResponseResult), "127.0.0.7") {
			t.Errorf("DNS record %s", x.AppendJSON(nil))
		}
		if x.ProcessID0 == uint32(os.Getpid()) {
			client++
		}
		if x.ProcessID1 == uint32(os.Getpid()) {
			server++
		}
	}
	if client != 1 || server != 1 {
		t.Errorf("%d A records from the resolver's socket and %d from the responder's, want 1 each:\n%s", client, server, describe(recs))
	}
}
