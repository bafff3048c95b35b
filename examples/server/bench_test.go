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
// FRAME_ROWS sets the rows of a frame (default 16,000).
func BenchmarkServer_IngestL4(b *testing.B) {
	ts := startServer(b, options{db: filepath.Join(b.TempDir(), "bench.duckdb"), maxBytes: 64 << 20})
	dict := encoding.NewAgentDict()
	const frames = 8
	frameRows := 16000
	if v, err := strconv.Atoi(os.Getenv("FRAME_ROWS")); err == nil {
		frameRows = v
	}
	next := uint64(1)
	// Frames of 16,000 rows; the first teaches the agent's dictionary,
	// the others are encoded with its ids, as an agent's are.
	mk := func() []byte {
		enc, _ := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict, TagSetIDs: true, Compression: encoding.CompressS2})
		f := l4FrameN(enc, next, frameRows, nil)
		next += uint64(frameRows)
		return f
	}
	var pre [][]byte
	first := mk()
	code, ack := post(b, ts.url, "", "warm", first)
	if code != 200 {
		b.Fatal(code, ack)
	}
	var d encoding.Delta
	if _, err := encoding.ParseDelta([]byte(ack), &d); err != nil {
		b.Fatal(err)
	}
	dict.Apply(&d)
	for i := 0; i < frames; i++ {
		pre = append(pre, mk())
	}
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
