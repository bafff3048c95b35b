package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
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
	c.checkFlowIDs(t, fmt.Sprintf("%s, %d shards", filepath.Base(file), n))
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

// TestRun_SourcesAgree: a capture split by flow over four sources
// (Config.Sources, each read by its own shard) gives the same records as
// one shard reading it whole, on every capture; l7 records join their l4
// flow by id. The split is Hash of each packet decoded alone (a later IP
// fragment has its datagram's addresses and protocol), as a kernel
// fan-out group that hashes addresses would split it.
func TestRun_SourcesAgree(t *testing.T) {
	files := captures(t)
	if len(files) == 0 {
		t.Skip("no captures")
	}
	const n = 4
	total := 0
	for _, f := range files {
		one := records(t, f, 1)
		srcs, counts := splitFile(t, f, n)
		c := &collect{}
		p, err := pipeline.New(pipeline.Config{Sources: srcs, Sinks: []pipeline.SinkConfig{{Sink: c}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		c.checkFlowIDs(t, fmt.Sprintf("%s, %d sources", filepath.Base(f), n))
		var st pipeline.Stats
		p.Stats(&st)
		var read uint64
		for _, k := range counts {
			read += k
		}
		if want := (capture.Stats{Packets: read, Bytes: n, Dropped: 2 * n, Errors: 3 * n}); len(st.ShardPackets) != n || st.Capture != want {
			t.Errorf("%s: %d shards, capture stats %+v; want %d and the sources' sum %+v", filepath.Base(f), len(st.ShardPackets), st.Capture, n, want)
		}
		got := append(c.l4, c.l7...)
		for i := range got {
			got[i] = flowID.ReplaceAllString(got[i], "")
		}
		slices.Sort(got)
		total += len(got)
		if !slices.Equal(one, got) {
			t.Errorf("%s: 1 shard gives %d records, %d sources %d; first difference:\n%s", f, len(one), n, len(got), firstDiff(one, got))
		}
	}
	t.Logf("%d captures, %d records", len(files), total)
}

// splitFile reads file into n in-memory sources, each packet to the source
// of its Hash, and returns them with the number of packets of each.
func splitFile(t *testing.T, file string, n int) ([]capture.Source, []uint64) {
	t.Helper()
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{NoReassembly: true})
	parts := make([]*countedSource, n)
	for i := range parts {
		parts[i] = &countedSource{}
	}
	var pkt capture.Packet
	var m decode.Meta
	for {
		if err := src.ReadPacket(&pkt); err != nil {
			if err != io.EOF {
				t.Fatalf("%s: %v", file, err)
			}
			break
		}
		i := 0
		if dec.Decode(&pkt, &m) == nil {
			i = int(pipeline.Hash(&m) % uint64(n))
		}
		c := pkt
		c.Data = append([]byte(nil), pkt.Data...)
		parts[i].pkts = append(parts[i].pkts, c)
	}
	srcs := make([]capture.Source, n)
	counts := make([]uint64, n)
	for i, r := range parts {
		srcs[i] = r
		counts[i] = uint64(len(r.pkts))
	}
	return srcs, counts
}

// countedSource is a replaySource whose Stats count the packets read.
type countedSource struct {
	replaySource
	read atomic.Uint64
}

func (c *countedSource) ReadPacket(p *capture.Packet) error {
	err := c.replaySource.ReadPacket(p)
	if err == nil {
		c.read.Add(1)
	}
	return err
}

func (c *countedSource) Stats() capture.Stats {
	return capture.Stats{Packets: c.read.Load(), Bytes: 1, Dropped: 2, Errors: 3}
}

// checkFlowIDs fails t for each l7 record c holds whose flow_id names no
// l4 record (what names the run).
func (c *collect) checkFlowIDs(t *testing.T, what string) {
	t.Helper()
	for _, id := range c.l7ids {
		if !c.l4ids[id] {
			t.Errorf("%s: l7 record with flow_id %d has no l4 flow", what, id)
		}
	}
}
