package main

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServer_IngestL4 is sustained agent -> server ingest of full
// l4_flow_log records (all 45 columns, 3 tags): frames of 16,000 rows
// encoded as examples/agent does (S2, tag set ids; ids learnt from the
// acks), posted over HTTP,
// decoded, resolved and appended to DuckDB on a file. It reports rows/s
// and the CPU time (both sides, all threads) per 100,000 rows.
// FRAME_ROWS sets the rows of a frame (default 16,000), ROW_GROUP the
// store's RowGroupSize.
func BenchmarkServer_IngestL4(b *testing.B) {
	ts := startServer(b, benchOptions(b, false))
	frameRows := envInt("FRAME_ROWS", 16000)
	pre := benchFrames(b, ts.url, frameRows)
	frames := len(pre)
	for _, agents := range []int{1, 2} {
		b.Run("agents="+strconv.Itoa(agents), func(b *testing.B) {
			// Batch ids unique to each call of this function (the
			// framework calls it more than once): a reused id would be a
			// duplicate, acknowledged without being stored.
			run := strconv.FormatInt(time.Now().UnixNano(), 36)
			rows := 0
			cpu0, t0 := cpuTime(), time.Now()
			i := 0
			for b.Loop() {
				// Each agent posts one frame at a time, as a Sender does;
				// with two the server decodes one while it stores the other.
				var wg sync.WaitGroup
				for a := 0; a < agents; a++ {
					id := run + "-" + strconv.Itoa(agents) + "-" + strconv.Itoa(i)
					f := pre[i%frames]
					i++
					wg.Add(1)
					go func() {
						defer wg.Done()
						if code, msg := post(b, ts.url, "", id, f); code != 200 {
							b.Error(code, msg)
						}
					}()
				}
				wg.Wait()
				rows += frameRows * agents
			}
			el, cpu := time.Since(t0), cpuTime()-cpu0
			b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Milliseconds())/(float64(rows)/1e5), "cpu-ms/100k-rows")
		})
	}
}

// BenchmarkServer_IngestL4Sustained is BenchmarkServer_IngestL4 with one
// agent over a long run: each iteration ingests ROWS rows (default
// 8,000,000, 500 frames of 16,000) into a new store, so that what grows
// with the database (the WAL and its checkpoints, the metric windows and
// their flushes) is in the figures. metrics=on and metrics=off; run it
// with -benchtime 1x. FRAME_ROWS and ROW_GROUP as BenchmarkServer_IngestL4.
func BenchmarkServer_IngestL4Sustained(b *testing.B) {
	total := envInt("ROWS", 8_000_000)
	frameRows := envInt("FRAME_ROWS", 16000)
	for _, m := range []string{"on", "off"} {
		b.Run("metrics="+m, func(b *testing.B) {
			var rows int
			var el, cpu time.Duration
			for b.Loop() {
				ts := startServer(b, benchOptions(b, m == "off"))
				pre := benchFrames(b, ts.url, frameRows)
				run := strconv.FormatInt(time.Now().UnixNano(), 36)
				cpu0, t0 := cpuTime(), time.Now()
				for i := 0; i*frameRows < total; i++ {
					if code, msg := post(b, ts.url, "", run+"-"+strconv.Itoa(i), pre[i%len(pre)]); code != 200 {
						b.Fatal(code, msg)
					}
					rows += frameRows
				}
				el, cpu = el+time.Since(t0), cpu+cpuTime()-cpu0
				ts.hs.Close()
				ts.st.Close()
			}
			b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
			b.ReportMetric(float64(cpu.Milliseconds())/(float64(rows)/1e5), "cpu-ms/100k-rows")
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchOptions are the ingest benchmarks' server options: a store on a
// file, the metric tables on unless off, ROW_GROUP's row group size.
func benchOptions(b *testing.B, metricsOff bool) options {
	return options{db: filepath.Join(b.TempDir(), "bench.duckdb"), maxBytes: 64 << 20,
		metricsOff: metricsOff, rowGroup: envInt("ROW_GROUP", 0)}
}

// benchFrames returns 8 frames of frameRows l4 records (128,000 client
// addresses at 16,000), encoded as examples/agent does (S2, tag set ids)
// after a first frame, posted to the server at u, taught the agent's
// dictionary.
func benchFrames(b *testing.B, u string, frameRows int) [][]byte {
	dict := encoding.NewAgentDict()
	next := uint64(1)
	mk := func() []byte {
		enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict, TagSetIDs: true, Compression: encoding.CompressS2})
		f := l4FrameN(enc, next, frameRows, nil)
		next += uint64(frameRows)
		return f
	}
	code, ack := post(b, u, "", "warm", mk())
	if code != 200 {
		b.Fatal(code, ack)
	}
	var d encoding.Delta
	if _, err := encoding.ParseDelta([]byte(ack), &d); err != nil {
		b.Fatal(err)
	}
	dict.Apply(&d)
	pre := make([][]byte, 8)
	for i := range pre {
		pre[i] = mk()
	}
	return pre
}
