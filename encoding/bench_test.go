package encoding_test

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/tag"
)

// batchRows is the rows per frame in the benchmark: about a second of an
// agent's output on a busy node.
const batchRows = 16384

// rowWriter is one case of the benchmark: it takes records one at a time
// and returns the bytes it produced when a batch ends.
type rowWriter interface {
	add(r *flow.Record)
	end() int // ends a batch, returns its bytes
}

// encodeFunc encodes rows [0, n) of g and returns the bytes it produced.
type encodeFunc func(g *generator, n int) int

// fillChunk is how many records the benchmark builds before it encodes
// them: the building and the encoding are timed apart, so that every case
// can be compared with or without the (identical) cost of building the
// records. 16 records stay in the first level of cache, as the one record
// a pipeline hands its sink.
const fillChunk = 16

// phaseTimes is the time spent building records and encoding them: wall
// clock per phase, and the process's CPU time for both.
type phaseTimes struct {
	fill, enc time.Duration
	cpu       int64
}

// encCPU returns the CPU time of the encoding phase: the process's CPU
// time shared in proportion to the phases' wall-clock times (reading the
// CPU clock costs a system call, too much to do every 16 rows; the
// machine's other load falls on both phases in proportion to their
// length).
func (pt *phaseTimes) encCPU() float64 {
	return float64(pt.cpu) * float64(pt.enc) / float64(pt.fill+pt.enc)
}

// run builds rows [0, n) of g in chunks of fillChunk records and hands
// them to w, ending a batch every batchRows rows and after the last; it
// returns the bytes w produced. With pt, the time of each phase is added
// to it.
func run(g *generator, n int, w rowWriter, recs []flow.Record, pt *phaseTimes) int {
	total, rows := 0, 0
	var c0 int64
	var t0 time.Time
	if pt != nil {
		c0, t0 = cpuTime(), time.Now()
	}
	for start := 0; start < n; start += fillChunk {
		m := min(fillChunk, n-start)
		for i := range m {
			g.fill(start+i, &recs[i])
		}
		var t1 time.Time
		if pt != nil {
			t1 = time.Now()
		}
		for i := range m {
			w.add(&recs[i])
			if rows++; rows == batchRows || start+i == n-1 {
				total += w.end()
				rows = 0
			}
		}
		if pt != nil {
			t2 := time.Now()
			pt.fill += t1.Sub(t0)
			pt.enc += t2.Sub(t1)
			t0 = t2
		}
	}
	if pt != nil {
		pt.cpu += cpuTime() - c0
	}
	return total
}

func encodeWith(newW func(testing.TB) rowWriter) func(testing.TB) encodeFunc {
	return func(tb testing.TB) encodeFunc {
		w := newW(tb)
		recs := make([]flow.Record, fillChunk)
		return func(g *generator, n int) int { return run(g, n, w, recs, nil) }
	}
}

type smartWriter struct {
	tb    testing.TB
	enc   *encoding.Encoder
	frame []byte
}

func (w *smartWriter) add(r *flow.Record) { w.enc.AddL4(r) }

func (w *smartWriter) end() int {
	var err error
	w.frame, err = w.enc.AppendFrame(w.frame[:0])
	if err != nil {
		w.tb.Fatal(err)
	}
	return len(w.frame)
}

func newSmart(cfg *encoding.EncoderConfig) func(testing.TB) rowWriter {
	return func(tb testing.TB) rowWriter {
		enc, err := encoding.NewEncoder(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		return &smartWriter{tb: tb, enc: enc}
	}
}

func smartEncode(cfg *encoding.EncoderConfig) func(testing.TB) encodeFunc {
	return encodeWith(newSmart(cfg))
}

// jsonWriter writes JSON Lines with the project's writer (the pipeline's
// JSON sink calls the same AppendJSON) into a reused buffer. Uncompressed,
// it hands the buffer on every 64 KiB, as the JSON sink's buffered writer
// does (so the buffer stays in cache); with zstd it compresses each batch.
type jsonWriter struct {
	buf, out []byte
	z        *zstd.Encoder
	pending  int
}

const jsonFlush = 64 << 10

func (w *jsonWriter) add(r *flow.Record) {
	w.buf = append(r.AppendJSON(w.buf), '\n')
	if w.z == nil && len(w.buf) >= jsonFlush {
		w.pending += len(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *jsonWriter) end() int {
	n := w.pending + len(w.buf)
	if w.z != nil {
		w.out = w.z.EncodeAll(w.buf, w.out[:0])
		n = len(w.out)
	}
	w.buf, w.pending = w.buf[:0], 0
	return n
}

func newJSON(compress bool) func(testing.TB) rowWriter {
	return func(testing.TB) rowWriter {
		w := &jsonWriter{}
		if compress {
			w.z, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		}
		return w
	}
}

func jsonEncode(compress bool) func(testing.TB) encodeFunc { return encodeWith(newJSON(compress)) }

// noTags encodes the records without their tags: what the columns cost.
type noTags struct{ rowWriter }

func (w noTags) add(r *flow.Record) {
	tags := r.Tags
	r.Tags = tag.Set{}
	w.rowWriter.add(r)
	r.Tags = tags
}

type nopWriter struct{}

func (nopWriter) add(*flow.Record) {}
func (nopWriter) end() int         { return 0 }

func encodeCases(g *generator, server *encoding.Dictionary, agent *encoding.AgentDict) []struct {
	name string
	w    func(testing.TB) rowWriter
} {
	return []struct {
		name string
		w    func(testing.TB) rowWriter
	}{
		{"json", newJSON(false)},                                  // first: the others report their speed against it (x-json)
		{"smart", newSmart(&encoding.EncoderConfig{Dict: agent})}, // zstd where it pays, the default
		// Format 1.3: tag sets by their dictionary ids, the agent having
		// learnt every set's id (one pass over the rows acknowledged by
		// the server first: the steady state).
		{"smart-setids", func(tb testing.TB) rowWriter {
			learnSets(tb, g, len(g.rows), server, agent)
			return newSmart(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true})(tb)
		}},
		{"smart-setids-s2", func(tb testing.TB) rowWriter {
			learnSets(tb, g, len(g.rows), server, agent)
			return newSmart(&encoding.EncoderConfig{Dict: agent, TagSetIDs: true, Compression: encoding.CompressS2})(tb)
		}},
		{"columnar-strings", newSmart(&encoding.EncoderConfig{TagStrings: true, Compression: encoding.CompressZstd})},
		{"json-zstd", newJSON(true)},
		{"smart-s2", newSmart(&encoding.EncoderConfig{Dict: agent, Compression: encoding.CompressS2})},
		{"smart-zstd-body", newSmart(&encoding.EncoderConfig{Dict: agent, Compression: encoding.CompressZstdBody})},
		{"smart-uvarints", newSmart(&encoding.EncoderConfig{Dict: agent, Uvarints: true})}, // format 1.1/1.0
		{"smart-nodict", newSmart(&encoding.EncoderConfig{})},
		{"smart-notags", func(tb testing.TB) rowWriter {
			return noTags{newSmart(&encoding.EncoderConfig{Dict: agent})(tb)}
		}},
		{"smart-owntags", newSmart(&encoding.EncoderConfig{Dict: agent})}, // the generator copies the tags (generator.own)
		{"fill-only", func(testing.TB) rowWriter { return nopWriter{} }},
	}
}

// BenchmarkEncode encodes 1,000,000 l4_flow_log rows with 15 tags a side
// per op, in frames of 16,384 rows: SmartEncoding (ids from a synced
// dictionary, packed columns, zstd column by column where it pays: the
// default), JSON Lines with string tags (uncompressed, as the JSON sink
// writes them), string-tagged columns with zstd, and for reference JSON
// with zstd, SmartEncoding with S2, with the whole body in one zstd frame,
// with uvarint columns (format 1.1), without a dictionary (strings in a
// per-batch table), without the tags (the columns' cost), with tags of
// the records' own (copied while building the records, so found by
// hashing their strings: a record tagged by hand, not by a stage's
// lists) and the records alone. The records are tagged by an autotag.Stage (the
// generator's), as an agent's are. The records are built 16 at a time, then encoded: cpu-ns/row
// counts both (the building is the same in every case), enc-cpu-ns/row the
// encoding (and compression) alone, fill-cpu-ns/row the building (the CPU
// time shared by the phases' wall-clock times), min-enc-cpu-ns/row the
// least enc-cpu-ns/row of the ops (-benchtime 3x: the machine's other load
// only ever adds to it), x-json how many times json's min-enc-cpu-ns/row
// of the same run it is. Metrics: rows/s, bytes/row, ns/row (wall clock,
// both phases).
func BenchmarkEncode(b *testing.B) {
	g := getGenerator()
	server, agent := g.dictionaries()
	n := len(g.rows)
	var jsonEnc float64 // min-enc-cpu-ns/row of json
	for _, tc := range encodeCases(g, server, agent) {
		b.Run(tc.name, func(b *testing.B) {
			g.own = tc.name == "smart-owntags"
			defer func() { g.own = false }()
			w := tc.w(b)
			recs := make([]flow.Record, fillChunk)
			// Warm up: caches filled, buffers grown (the steady state of
			// an agent).
			run(g, min(n, 2*batchRows), w, recs, nil)
			b.ReportAllocs()
			var total int
			var elapsed time.Duration
			var pt phaseTimes
			minEnc := math.Inf(1)
			for b.Loop() {
				runtime.GC()
				start := time.Now()
				var it phaseTimes
				total = run(g, n, w, recs, &it)
				elapsed += time.Since(start)
				pt.fill, pt.enc, pt.cpu = pt.fill+it.fill, pt.enc+it.enc, pt.cpu+it.cpu
				minEnc = min(minEnc, it.encCPU()/float64(n))
			}
			rows := float64(b.N) * float64(n)
			b.ReportMetric(rows/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/rows, "ns/row")
			if cpu := pt.cpu; cpu > 0 {
				// On a shared machine the process's CPU time tracks the
				// work better than the wall clock.
				enc := pt.encCPU()
				b.ReportMetric(float64(cpu)/rows, "cpu-ns/row")
				b.ReportMetric(enc/rows, "enc-cpu-ns/row")
				b.ReportMetric((float64(cpu)-enc)/rows, "fill-cpu-ns/row")
				b.ReportMetric(rows/(enc/1e9), "enc-rows/cpu-s")
				// The least of the ops: the machine's other load only
				// ever adds.
				b.ReportMetric(minEnc, "min-enc-cpu-ns/row")
				if tc.name == "json" {
					jsonEnc = minEnc
				} else if jsonEnc > 0 && minEnc > 0 {
					// How many times faster than JSON, in this run.
					b.ReportMetric(jsonEnc/minEnc, "x-json")
				}
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
