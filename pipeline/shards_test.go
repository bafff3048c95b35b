package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// collect is a sink that keeps every record as a JSON line.
type collect struct {
	mu     sync.Mutex
	l4, l7 []string
	l4ids  map[uint64]bool
	l7ids  []uint64
}

func (c *collect) WriteL4(r *flow.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.l4ids == nil {
		c.l4ids = map[uint64]bool{}
	}
	c.l4ids[r.FlowID] = true
	c.l4 = append(c.l4, string(r.AppendJSON(nil)))
	return nil
}

func (c *collect) WriteL7(r *l7.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.l7ids = append(c.l7ids, r.FlowID)
	c.l7 = append(c.l7, string(r.AppendJSON(nil)))
	return nil
}

var flowID = regexp.MustCompile(`"flow_id":\d+,`)

// records runs file through a pipeline of n shards and returns its records
// without flow ids, sorted, after checking that every l7 record joins an
// l4 record by flow id.
func records(t *testing.T, file string, n int) []string {
	t.Helper()
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{}
	var js bytes.Buffer // a JSON sink beside it: with several shards, each stages its lines
	p, err := pipeline.New(pipeline.Config{Source: src, Shards: n, Sinks: []pipeline.SinkConfig{{Sink: c}, {Sink: pipeline.NewJSONSink(&js)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, id := range c.l7ids {
		if !c.l4ids[id] {
			t.Errorf("%s, %d shards: l7 record with flow_id %d has no l4 flow", filepath.Base(file), n, id)
		}
	}
	var st pipeline.Stats
	p.Stats(&st)
	if int(st.Flow.Records) != len(c.l4) || int(st.L7.Records) != len(c.l7) {
		t.Errorf("%s, %d shards: stats say %d/%d records, sink got %d/%d", filepath.Base(file), n,
			st.Flow.Records, st.L7.Records, len(c.l4), len(c.l7))
	}
	out := append(c.l4, c.l7...)
	for i := range out {
		out[i] = flowID.ReplaceAllString(out[i], "")
	}
	slices.Sort(out)
	var lines []string
	if js.Len() > 0 {
		lines = strings.Split(strings.TrimSuffix(flowID.ReplaceAllString(js.String(), ""), "\n"), "\n")
	}
	slices.Sort(lines)
	if !slices.Equal(lines, out) {
		t.Errorf("%s, %d shards: the JSON sink wrote %d lines, unlike the %d records the other sink got", filepath.Base(file), n, len(lines), len(out))
	}
	return out
}

// captures lists the project's captures and, when present, the shared
// corpus.
func captures(t *testing.T) []string {
	var files []string
	root := testutil.ModuleRoot(t)
	dirs := []string{filepath.Join(root, "testdata")}
	if d := os.Getenv("METAFLOW_PCAPS"); d != "" {
		dirs = append(dirs, d)
	} else if d := filepath.Join(root, "..", "shared", "pcaps"); dirExists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		filepath.WalkDir(d, func(path string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
				files = append(files, path)
			}
			return nil
		})
	}
	return files
}

func dirExists(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// TestRun_ShardsAgree: one shard and four give the same records on every
// capture, and l7 records join their l4 flow by id in both.
func TestRun_ShardsAgree(t *testing.T) {
	files := captures(t)
	if len(files) == 0 {
		t.Skip("no captures")
	}
	total := 0
	for _, f := range files {
		one := records(t, f, 1)
		four := records(t, f, 4)
		total += len(one)
		if !slices.Equal(one, four) {
			t.Errorf("%s: 1 shard gives %d records, 4 shards %d; first difference:\n%s", f, len(one), len(four), firstDiff(one, four))
		}
	}
	t.Logf("%d captures, %d records each way", len(files), total)
}

func firstDiff(a, b []string) string {
	var buf bytes.Buffer
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			buf.WriteString("1: " + x + "\n4: " + y)
			break
		}
	}
	return buf.String()
}
