package encoding_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
)

// batchRows is the rows per frame in the benchmark: about a second of an
// agent's output on a busy node.
const batchRows = 16384

// encodeFunc encodes rows [0, n) of g and returns the bytes it produced.
type encodeFunc func(g *generator, n int) int

func smartEncode(cfg *encoding.EncoderConfig) func(testing.TB) encodeFunc {
	return func(tb testing.TB) encodeFunc {
		enc, err := encoding.NewEncoder(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		var r flow.Record
		var frame []byte
		return func(g *generator, n int) int {
			total := 0
			for i := range n {
				g.fill(i, &r)
				enc.AddL4(&r)
				if enc.Rows() == batchRows || i == n-1 {
					frame, err = enc.AppendFrame(frame[:0])
					if err != nil {
						tb.Fatal(err)
					}
					total += len(frame)
				}
			}
			return total
		}
	}
}

// jsonEncode writes JSON Lines with the project's writer (the pipeline's
// JSON sink calls the same AppendJSON), optionally compressing each batch.
func jsonEncode(compress bool) func(testing.TB) encodeFunc {
	return func(tb testing.TB) encodeFunc {
		var r flow.Record
		var buf, out []byte
		var z *zstd.Encoder
		if compress {
			z, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		}
		return func(g *generator, n int) int {
			total := 0
			rows := 0
			for i := range n {
				g.fill(i, &r)
				buf = append(r.AppendJSON(buf), '\n')
				rows++
				if rows == batchRows || i == n-1 {
					if z != nil {
						out = z.EncodeAll(buf, out[:0])
						total += len(out)
					} else {
						total += len(buf)
					}
					buf, rows = buf[:0], 0
				}
			}
			return total
		}
	}
}

func fillOnly(testing.TB) encodeFunc {
	var r flow.Record
	return func(g *generator, n int) int {
		for i := range n {
			g.fill(i, &r)
		}
		return 0
	}
}

func encodeCases(agent *encoding.AgentDict) []struct {
	name string
	f    func(testing.TB) encodeFunc
} {
	return []struct {
		name string
		f    func(testing.TB) encodeFunc
	}{
		{"smart", smartEncode(&encoding.EncoderConfig{Dict: agent})},
		{"json", jsonEncode(false)},
		{"columnar-strings", smartEncode(&encoding.EncoderConfig{TagStrings: true})},
		{"json-zstd", jsonEncode(true)},
		{"smart-nodict", smartEncode(&encoding.EncoderConfig{})},
		{"fill-only", fillOnly},
	}
}

// BenchmarkEncode encodes 1,000,000 l4_flow_log rows with 15 tags a side
// per op, in frames of 16,384 rows: SmartEncoding (ids from a synced
// dictionary), JSON Lines with string tags (uncompressed, as the JSON sink
// writes them), string-tagged columns with zstd, and for reference JSON
// with zstd, SmartEncoding without a dictionary (strings in a per-batch
// table) and the cost of filling the records alone (included in every
// case). Metrics: rows/s, bytes/row, ns/row.
func BenchmarkEncode(b *testing.B) {
	g := getGenerator()
	_, agent := g.dictionaries()
	n := len(g.rows)
	for _, tc := range encodeCases(agent) {
		b.Run(tc.name, func(b *testing.B) {
			f := tc.f(b)
			b.ReportAllocs()
			var total int
			var elapsed time.Duration
			var cpu int64
			for b.Loop() {
				runtime.GC()
				start, c0 := time.Now(), cpuTime()
				total = f(g, n)
				elapsed += time.Since(start)
				cpu += cpuTime() - c0
			}
			rows := float64(b.N) * float64(n)
			b.ReportMetric(rows/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/rows, "ns/row")
			if cpu > 0 {
				// On a shared machine the process's CPU time tracks the
				// work better than the wall clock.
				b.ReportMetric(rows/(float64(cpu)/1e9), "rows/cpu-s")
				b.ReportMetric(float64(cpu)/rows, "cpu-ns/row")
			}
			b.ReportMetric(float64(total)/float64(n), "bytes/row")
		})
	}
}

// BenchmarkDecode decodes a frame of 16,384 generated rows (the server's
// side), then resolves its tags and reads every row back into records.
func BenchmarkDecode(b *testing.B) {
	g := newGenerator(batchRows)
	server, agent := g.dictionaries()
	enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: agent})
	var r flow.Record
	for i := range batchRows {
		g.fill(i, &r)
		enc.AddL4(&r)
	}
	frame, _ := enc.AppendFrame(nil)
	dec, _ := encoding.NewDecoder(nil)
	var batch encoding.Batch
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if err := dec.Decode(frame, &batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*batchRows/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("decode-resolve-records", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if err := dec.Decode(frame, &batch); err != nil {
				b.Fatal(err)
			}
			if err := server.Resolve(&batch); err != nil {
				b.Fatal(err)
			}
			tb := &batch.Tables[len(batch.Tables)-1]
			for row := range tb.Rows {
				if err := tb.L4(row, server, &r); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)*batchRows/b.Elapsed().Seconds(), "rows/s")
	})
}
