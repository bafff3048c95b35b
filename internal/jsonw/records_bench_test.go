package jsonw_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// corpus holds the records of the shared captures (the mixed corpus), read
// once per process.
var corpus struct {
	once sync.Once
	l4   []*flow.Record
	l7   []*l7.Record
}

type keep struct{ mu sync.Mutex }

func (k *keep) WriteL4(r *flow.Record) error {
	k.mu.Lock()
	corpus.l4 = append(corpus.l4, r.Clone())
	k.mu.Unlock()
	return nil
}

func (k *keep) WriteL7(r *l7.Record) error {
	k.mu.Lock()
	corpus.l7 = append(corpus.l7, r.Clone())
	k.mu.Unlock()
	return nil
}

// records returns the records of every capture under ../shared/pcaps (or
// $METAFLOW_PCAPS), replayed through a one-shard pipeline.
func records(tb testing.TB) ([]*flow.Record, []*l7.Record) {
	corpus.once.Do(func() {
		dir := os.Getenv("METAFLOW_PCAPS")
		if dir == "" {
			dir = filepath.Join(testutil.ModuleRoot(tb), "..", "shared", "pcaps")
		}
		var files []string
		filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
				files = append(files, path)
			}
			return nil
		})
		k := &keep{}
		for _, f := range files {
			src, err := capture.OpenFile(f)
			if err != nil {
				continue
			}
			p, err := pipeline.New(pipeline.Config{Source: src, Shards: 1, Sinks: []pipeline.SinkConfig{{Sink: k}}})
			if err == nil {
				p.Run(context.Background())
			}
			src.Close()
		}
	})
	if len(corpus.l4) == 0 {
		tb.Skip("no shared captures")
	}
	return corpus.l4, corpus.l7
}

// TestRecords_Dump writes every record of the corpus as JSON and text
// lines to $JSONW_DUMP, to compare encoders byte for byte across changes.
func TestRecords_Dump(t *testing.T) {
	path := os.Getenv("JSONW_DUMP")
	if path == "" {
		t.Skip("JSONW_DUMP not set")
	}
	l4s, l7s := records(t)
	var b []byte
	for _, r := range l4s {
		b = append(r.AppendJSON(b), '\n')
		b = append(r.AppendText(b), '\n')
	}
	for _, r := range l7s {
		b = append(r.AppendJSON(b), '\n')
		b = append(r.AppendText(b), '\n')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d l4 and %d l7 records, %d bytes", len(l4s), len(l7s), len(b))
}

// BenchmarkRecords encodes the records of the shared captures (l4_flow_log
// and l7_flow_log, real strings that need escaping) as JSON and as text.
// One op is one record; the MB/s are of output.
func BenchmarkRecords(b *testing.B) {
	l4s, l7s := records(b)
	run := func(b *testing.B, n int, enc func(buf []byte, i int) []byte) {
		var out int
		var buf []byte
		for i := 0; i < n; i++ {
			buf = enc(buf[:0], i)
			out += len(buf)
		}
		b.SetBytes(int64(out / n))
		b.ReportAllocs()
		i := 0
		cpu := cpuTime()
		for b.Loop() {
			buf = enc(buf[:0], i)
			if i++; i == n {
				i = 0
			}
		}
		if cpu = cpuTime() - cpu; cpu > 0 {
			// Per CPU second: the machine may be shared.
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(out)/float64(n)*float64(b.N)/float64(cpu)*1e3, "cpu-MB/s")
		}
	}
	b.Run("l4/json", func(b *testing.B) {
		run(b, len(l4s), func(buf []byte, i int) []byte { return l4s[i].AppendJSON(buf) })
	})
	b.Run("l4/text", func(b *testing.B) {
		run(b, len(l4s), func(buf []byte, i int) []byte { return l4s[i].AppendText(buf) })
	})
	if len(l7s) == 0 {
		return
	}
	b.Run("l7/json", func(b *testing.B) {
		run(b, len(l7s), func(buf []byte, i int) []byte { return l7s[i].AppendJSON(buf) })
	})
	b.Run("l7/text", func(b *testing.B) {
		run(b, len(l7s), func(buf []byte, i int) []byte { return l7s[i].AppendText(buf) })
	})
}
