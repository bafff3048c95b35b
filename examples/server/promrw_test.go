package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// portIn returns a free localhost port of [lo, hi] (this test's range).
func portIn(t testing.TB, lo, hi int) string {
	t.Helper()
	for p := lo; p <= hi; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			ln.Close()
			return ln.Addr().String()
		}
	}
	t.Fatalf("no free port in %d-%d", lo, hi)
	return ""
}

// TestServer_PrometheusRemoteWrite runs Debian's prometheus (2.42): it
// scrapes a tiny exporter every 250 ms and remote-writes to the server,
// which must store every series with its value, labels and the tags its
// target labels name.
func TestServer_PrometheusRemoteWrite(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus binary not found (apt-get install prometheus): remote write from a real Prometheus not tested")
	}
	ts := startServer(t, options{db: ":memory:", token: extToken, maxExt: 1 << 20})
	agentWeb1(t, ts)

	var scrapes atomic.Int64
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE mf_queue_depth gauge\nmf_queue_depth{queue=\"in\"} 42.5\nmf_queue_depth{queue=\"out\"} -3\n")
		fmt.Fprintf(w, "# TYPE mf_scrapes_total counter\nmf_scrapes_total %d\n", n)
		fmt.Fprintf(w, "# TYPE mf_req_seconds histogram\nmf_req_seconds_bucket{le=\"0.1\"} 2\nmf_req_seconds_bucket{le=\"+Inf\"} 5\nmf_req_seconds_sum 1.25\nmf_req_seconds_count 5\n")
	}))
	defer exporter.Close()
	target := strings.TrimPrefix(exporter.URL, "http://")

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 250ms
  scrape_timeout: 200ms
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ['%s']
        labels:
          pod: web-1
          namespace: shop
remote_write:
  - url: %s/api/v1/write
    authorization:
      credentials: %s
    queue_config:
      batch_send_deadline: 200ms
      min_backoff: 50ms
      max_backoff: 200ms
`, target, ts.url, extToken)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+portIn(t, 41010, 41049))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	}()

	// Wait for a few scrapes to arrive.
	deadline := time.Now().Add(40 * time.Second)
	for {
		var n int
		ts.st.DB().QueryRow(`SELECT count(*) FROM ext_metrics WHERE metric = 'mf_scrapes_total'`).Scan(&n)
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mf_scrapes_total samples after 40 s (%d scrapes); stats %+v", n, scrapes.Load(), ts.ext.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}

	web1, _ := ts.st.Dict().Lookup("pod", "web-1")
	shop, _ := ts.st.Dict().Lookup("pod_ns", "shop")
	rows, err := ts.st.DB().Query(`SELECT DISTINCT metric, CAST(value AS VARCHAR), labels['queue'], labels['le'], labels['job'], labels['instance'], pod_id, pod_ns_id, source
		FROM ext_samples WHERE metric LIKE 'mf_%' AND metric <> 'mf_scrapes_total'`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var metric, value, source string
		var queue, le, job, inst *string
		var pod, ns uint32
		if err := rows.Scan(&metric, &value, &queue, &le, &job, &inst, &pod, &ns, &source); err != nil {
			t.Fatal(err)
		}
		if job == nil || *job != "shop" || inst == nil || *inst != target || pod != web1 || ns != shop || source != "prometheus" {
			t.Errorf("%s: job %v instance %v (want %s) pod %d (web-1 %d) ns %d (shop %d) source %s", metric, job, inst, target, pod, web1, ns, shop, source)
		}
		s := metric
		if queue != nil {
			s += "{queue=" + *queue + "}"
		}
		if le != nil {
			s += "{le=" + *le + "}"
		}
		got = append(got, s+"="+value)
	}
	rows.Close()
	sort.Strings(got)
	want := []string{
		"mf_queue_depth{queue=in}=42.5", "mf_queue_depth{queue=out}=-3.0",
		"mf_req_seconds_bucket{le=+Inf}=5.0", "mf_req_seconds_bucket{le=0.1}=2.0",
		"mf_req_seconds_count=5.0", "mf_req_seconds_sum=1.25",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	// The counter: every value stored is one the exporter served, each
	// once, at increasing times.
	rows, err = ts.st.DB().Query(`SELECT value, time FROM ext_metrics WHERE metric = 'mf_scrapes_total' ORDER BY time`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	last, lastT := 0.0, int64(0)
	for rows.Next() {
		var v float64
		var tm int64
		rows.Scan(&v, &tm)
		if v <= last || tm <= lastT || v > float64(scrapes.Load()) || tm%1_000_000 != 0 {
			t.Fatalf("mf_scrapes_total %v at %d after %v at %d (%d scrapes)", v, tm, last, lastT, scrapes.Load())
		}
		last, lastT = v, tm
	}
	var up float64
	if err := ts.st.DB().QueryRow(`SELECT max(value) FROM ext_metrics WHERE metric = 'up'`).Scan(&up); err != nil || up != 1 {
		t.Fatalf("up = %v, %v", up, err)
	}
	if st := ts.ext.Stats(); st.RemoteWrite == 0 || st.BadRequest+st.Unauthorized+st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}
