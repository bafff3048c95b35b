package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/query"
)

// logBuffer is a log destination safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runDemo runs the server with args until the log matches re (or the
// server ends); it returns the submatches, the log and a stop function
// that returns run's error.
func runDemo(t *testing.T, re *regexp.Regexp, args ...string) ([]string, *logBuffer, func() error) {
	t.Helper()
	var log logBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runContext(ctx, args, &log) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("the server did not stop")
			return nil
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m, &log, stop
		}
		select {
		case err := <-done:
			t.Fatalf("server ended: %v\n%s", err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	t.Fatalf("no %q in the log:\n%s", re, log.String())
	return nil, nil, nil
}

// TestServer_Demo runs the server with -demo: once it says ready, the
// shipped captures are stored and queryable, and the page is served; the
// temporary store is gone after it stops.
func TestServer_Demo(t *testing.T) {
	m, log, stop := runDemo(t, regexp.MustCompile(`(\d+) captures of .* replayed in .*: (\d+) requests, (\d+) flows in \d+ batches\n.*demo ready: open (http://\S+/)`),
		"-demo", "-listen", "127.0.0.1:0", "-token", "demo-token")
	base := strings.TrimSuffix(m[4], "/")
	captures, _ := strconv.Atoi(m[1])
	l7n, _ := strconv.ParseUint(m[2], 10, 64)
	l4n, _ := strconv.ParseUint(m[3], 10, 64)
	shipped, _ := filepath.Glob("../../testdata/l7/*.pcap")
	if captures != len(shipped) || l7n < 1000 || l4n < 20 {
		t.Fatalf("demo replayed %d captures (%d shipped), %d requests, %d flows", captures, len(shipped), l7n, l4n)
	}
	sm := regexp.MustCompile(`store (\S+)`).FindStringSubmatch(log.String())
	if sm == nil || !strings.Contains(sm[1], "metaflow-demo-") {
		t.Fatalf("no temporary store in the log:\n%s", log.String())
	}
	const token = "demo-token"

	// Everything the in-process agent produced is stored.
	var st Stats
	if code := getJSON(t, base+"/api/v1/stats", token, &st); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	if st.Store.L7Rows != l7n || st.Store.L4Rows != l4n {
		t.Fatalf("the demo printed %d requests and %d flows, the store has %d and %d", l7n, l4n, st.Store.L7Rows, st.Store.L4Rows)
	}
	// Queryable by tag: the Redis server of the captures, named by its port.
	var page query.Page
	if code := getJSON(t, base+"/api/v1/l7?"+url.Values{"service_1": {"redis"}, "limit": {"5"}}.Encode(), token, &page); code != 200 || len(page.Rows) != 5 || page.Rows[0]["l7_protocol"] != "Redis" {
		t.Fatalf("redis requests: %d %v", code, page.Rows)
	}
	var smap struct{ Edges []query.Edge }
	getJSON(t, base+"/api/v1/servicemap", token, &smap)
	var total int64
	servers := map[string]bool{}
	for _, e := range smap.Edges {
		total += e.Requests
		servers[e.Server] = true
	}
	if uint64(total) != l7n || !servers["redis"] || !servers["mysql"] || !servers["dns"] || !servers["nginx"] {
		t.Fatalf("service map: %d requests, servers %v", total, servers)
	}
	// The page is served, and the page's URL carries the token.
	if !strings.Contains(m[0], "/#token="+token) && !strings.Contains(log.String(), base+"/#token="+token) {
		t.Fatalf("page URL without the token:\n%s", log.String())
	}
	// -token is the page's token too: the page without it is the sign-in.
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("page without the token: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`id="map"`)) {
		t.Fatalf("page: %d %.200s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(sm[1])); !os.IsNotExist(err) {
		t.Fatalf("temporary store left behind: %v", err)
	}
}

// TestServer_DemoNoCaptures: a capture directory without captures is
// reported, and the server keeps serving.
func TestServer_DemoNoCaptures(t *testing.T) {
	_, _, stop := runDemo(t, regexp.MustCompile(`demo: no captures in`), "-demo", "-listen", "127.0.0.1:0", "-demo-captures", t.TempDir())
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
