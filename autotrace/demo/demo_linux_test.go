//go:build linux

package demo

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/autotrace"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

var (
	record         = flag.Bool("record", false, "TestRun_Record: re-record the dataset under autotrace/testdata/demo")
	recordClients  = flag.String("record-clients", "1,10,50", "TestRun_Record: load levels (concurrent clients)")
	recordDuration = flag.Duration("record-duration", 10*time.Second, "TestRun_Record: load time per level")
	recordRate     = flag.Float64("record-rate", 0, "TestRun_Record: requests per second per client (0: no cap)")
	recordEBPFArgs = flag.String("record-ebpf-args", "-ebpf-goroutines", "TestRun_Record: extra eBPF agent flags, space-separated")
	recordMax      = flag.Int("record-max", 2500, "TestRun_Record: at most this many requests per level (keeps each file under 5 MB)")
	recordKeep     = flag.String("record-keep", "", "TestRun_Record: keep each run's work folder under this folder")
)

func requireDemo(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip", "nginx", "redis-server", "mariadbd", "mariadb-install-db", "mysql", "/usr/bin/python3", "go")
	testutil.RequireEBPF(t)
	if err := runQuiet("/usr/bin/python3", "-c", "import redis, pymysql"); err != nil {
		t.Skip("needs Debian's python3-redis and python3-pymysql")
	}
}

func runQuiet(name string, args ...string) error { return exec.Command(name, args...).Run() }

// agentBinary is $DEMO_AGENT, an examples/agent binary to use instead of
// building one (for example one built from another revision). ($DEMO_KEEP
// names a folder where TestRun_Live keeps its run.)
func agentBinary() string { return os.Getenv("DEMO_AGENT") }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestRun_Live runs the demo system for a few seconds under 4 clients with
// the eBPF and packet agents, and checks that the ground truth is whole
// (every request answered and logged at every hop) and that every call the
// services logged has an observed record at one capture point at least.
func TestRun_Live(t *testing.T) {
	requireDemo(t)
	dir := t.TempDir()
	if keep := os.Getenv("DEMO_KEEP"); keep != "" {
		// Keep the run's logs and raw output for a look afterwards.
		dir = keep
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Dir: dir, RepoRoot: testutil.ModuleRoot(t), Agent: agentBinary(), Clients: 4, Duration: 3 * time.Second,
		EBPFArgs: []string{"-ebpf-goroutines"},
		Logger:   testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 10 || res.Failed != 0 {
		t.Fatalf("load: %d requests ok, %d failed; want >= 10 and 0", res.Requests, res.Failed)
	}
	truths, recs := readRun(t, res)
	perService, dnsCalls := map[string]int{}, 0
	for _, tr := range truths {
		perService[tr.Service]++
		for _, c := range tr.Calls {
			if c.Protocol == "DNS" && c.Error == "" {
				dnsCalls++
			}
		}
	}
	for _, s := range []string{"client", "nginx", "python", "go"} {
		// Every client request crosses every service once.
		if perService[s] != res.Requests {
			t.Errorf("%s logged %d requests, want %d (the client's)", s, perService[s], res.Requests)
		}
	}
	// The DNS server answers each query its callers logged (the Go
	// resolver shares one query among concurrent lookups of a name).
	if perService["dns"] != dnsCalls {
		t.Errorf("dns logged %d queries, its callers %d", perService["dns"], dnsCalls)
	}
	cov := Cover(truths, recs, 5*time.Millisecond)
	t.Logf("%d truth lines, %d l7 records, per tap %v", len(truths), len(recs), res.Lines)
	for _, h := range cov.Hops {
		t.Logf("%-26s calls %5d covered %5d %v", h.Hop, h.Calls, h.Covered, h.ByTap)
	}
	for _, m := range cov.Missed {
		t.Logf("missed: %s", m)
	}
	want := []string{"client->HTTP", "nginx->HTTP", "python->DNS", "python->Redis", "python->MySQL", "python->HTTP",
		"go->DNS", "go->Redis", "go->MySQL"}
	got := map[string]HopCoverage{}
	for _, h := range cov.Hops {
		got[h.Hop] = h
	}
	for _, hop := range want {
		h := got[hop]
		if h.Calls == 0 {
			t.Errorf("%s: no calls in the ground truth", hop)
			continue
		}
		if h.Covered < h.Calls {
			t.Errorf("%s: %d of %d calls have an observed record", hop, h.Covered, h.Calls)
		}
	}
	if cov.Unknown != 0 {
		t.Errorf("%d calls with unparsable addresses or times", cov.Unknown)
	}
	checkOTel(t, res.OTel, perService["go"])
	evaluate(t, res, truths)
}

// checkOTel checks the Go service's OpenTelemetry spans: one OTLP/JSON
// request a line, one per request it served, each a SERVER span and its
// CLIENT spans (three calls, a DNS query most of the time, a MySQL login
// now and then) in one
// trace.
func checkOTel(t *testing.T, path string, requests int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != requests {
		t.Errorf("%d OTLP lines, want %d (the Go service's requests)", len(lines), requests)
	}
	for i, l := range lines {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						TraceID, SpanID, ParentSpanID string
						Kind                          int
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(l), &req); err != nil {
			t.Fatalf("OTLP line %d: %v", i+1, err)
		}
		if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 1 {
			t.Fatalf("OTLP line %d: want one resource and one scope: %s", i+1, l)
		}
		spans := req.ResourceSpans[0].ScopeSpans[0].Spans
		if len(spans) < 4 || spans[0].Kind != 2 || len(spans[0].TraceID) != 32 {
			t.Fatalf("OTLP line %d: want a SERVER span and 3 or more CLIENT spans: %s", i+1, l)
		}
		for _, sp := range spans[1:] {
			if sp.Kind != 3 || sp.TraceID != spans[0].TraceID || sp.ParentSpanID != spans[0].SpanID {
				t.Fatalf("OTLP line %d: a CLIENT span outside the SERVER span's trace: %s", i+1, l)
			}
		}
	}
}

// evaluate assembles the run's records with zero-code signals only
// (autotrace) and logs the accuracy of its call edges against the truth;
// it fails when the truth's calls and the assembled calls do not meet
// (the dataset and the matching disagree), not on accuracy, which is
// autotrace's to test.
func evaluate(t *testing.T, res *Result, truths []Truth) *autotrace.Accuracy {
	t.Helper()
	f, err := os.Open(res.Records)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spans, err := autotrace.ReadRecords(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr := autotrace.Assemble(spans, autotrace.Config{IgnoreAppIDs: true})
	want, err := TruthRequests(truths)
	if err != nil {
		t.Fatal(err)
	}
	acc := autotrace.Evaluate(tr, want, 3*time.Millisecond)
	for _, l := range strings.Split(strings.TrimSpace(acc.String()), "\n") {
		t.Logf("accuracy: %s", l)
	}
	if acc.Total.Truth == 0 || acc.MatchedCalls < acc.TruthCalls*95/100 {
		t.Errorf("autotrace matched %d of %d truth calls (%d truth edges observed)", acc.MatchedCalls, acc.TruthCalls, acc.Total.Truth)
	}
	return acc
}

func readRun(t *testing.T, res *Result) ([]Truth, []Record) {
	t.Helper()
	f, err := os.Open(res.Truth)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	truths, err := ReadTruth(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(res.Records)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	recs, err := ReadRecords(g)
	if err != nil {
		t.Fatal(err)
	}
	return truths, recs
}

// TestRun_Record re-records the dataset (run with -record, as
// scripts/record-autotrace-demo.sh does): one run per load level, the
// merged records, the ground truth and the Go service's OpenTelemetry
// spans written zstd-compressed to
// autotrace/testdata/demo/{records,groundtruth,otel}-<N>c.jsonl.zst, and
// the agents' counters to stats-<N>c.txt.
func TestRun_Record(t *testing.T) {
	if !*record {
		t.Skip("re-records the dataset only with -record")
	}
	requireDemo(t)
	root := testutil.ModuleRoot(t)
	out := filepath.Join(root, "autotrace", "testdata", "demo")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var extra []string
	if *recordEBPFArgs != "" {
		extra = strings.Fields(*recordEBPFArgs)
	}
	for _, s := range strings.Split(*recordClients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("-record-clients: bad level %q", s)
		}
		dir := t.TempDir()
		if *recordKeep != "" {
			dir = filepath.Join(*recordKeep, fmt.Sprintf("%dc", n))
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), *recordDuration+5*time.Minute)
		res, err := Run(ctx, Config{Dir: dir, RepoRoot: root, Agent: agentBinary(), Clients: n, Duration: *recordDuration, Rate: *recordRate, MaxRequests: *recordMax,
			EBPFArgs: extra, Logger: testLogger(t)})
		cancel()
		if err != nil {
			t.Fatalf("%d clients: %v", n, err)
		}
		truths, recs := readRun(t, res)
		cov := Cover(truths, recs, 5*time.Millisecond)
		t.Logf("%d clients: %d requests ok, %d failed, %d truth lines, %d l7 records, per tap %v",
			n, res.Requests, res.Failed, len(truths), len(recs), res.Lines)
		for _, h := range cov.Hops {
			t.Logf("  %-26s calls %6d covered %6d %v", h.Hop, h.Calls, h.Covered, h.ByTap)
		}
		evaluate(t, res, truths)
		if err := agentStats(filepath.Join(dir, "logs"), filepath.Join(out, fmt.Sprintf("stats-%dc.txt", n))); err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2]string{{res.Records, "records"}, {res.Truth, "groundtruth"}, {res.OTel, "otel"}} {
			dst := filepath.Join(out, fmt.Sprintf("%s-%dc.jsonl.zst", pair[1], n))
			if err := compress(pair[0], dst); err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(dst)
			t.Logf("  wrote %s (%d bytes)", dst, st.Size())
		}
	}
}

// agentStats writes the counters every agent printed at its end (-stats)
// into one file, a section per agent.
func agentStats(logs, dst string) error {
	names, err := filepath.Glob(filepath.Join(logs, "agent-*.log"))
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, n := range names {
		log, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "== %s\n%s\n", strings.TrimSuffix(filepath.Base(n), ".log"), strings.TrimSpace(string(log)))
	}
	return os.WriteFile(dst, []byte(b.String()), 0o644)
}

func compress(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(zw, in); err != nil {
		zw.Close()
		out.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
