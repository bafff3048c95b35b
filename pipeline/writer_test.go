package pipeline_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
)

// TestWriterSink_Concurrent writes records from several goroutines at once
// (the encode-in-place and the encode-apart paths both run), lines of
// 150 KiB among them, and checks that Flush leaves every line whole in
// the output, each writer's lines in its order.
func TestWriterSink_Concurrent(t *testing.T) {
	for _, text := range []bool{false, true} {
		t.Run(fmt.Sprint("text=", text), func(t *testing.T) {
			var out bytes.Buffer
			s := pipeline.NewJSONSink(&out)
			if text {
				s = pipeline.NewTextSink(&out)
			}
			const writers, each = 4, 3000
			want := make([][]string, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var r4 flow.Record
					var r7 l7.Record
					r7.L7Protocol, r7.HasRequest = "HTTP", true
					for i := range each {
						var line []byte
						var err error
						if i%3 == 0 {
							r4.FlowID = uint64(w<<32 | i)
							r4.PacketTx = uint64(i)
							err = s.WriteL4(&r4)
							line = appendLine(&r4, nil, text)
						} else {
							r7.FlowID = uint64(w<<32 | i)
							n := i % 50 * 7
							if i%500 == 7 {
								n = 150 << 10 // past the buffer
							}
							// Unique: text lines have no flow id.
							r7.RequestResource = fmt.Appendf(nil, "/%d/%d/%s", w, i, strings.Repeat("x", n))
							err = s.WriteL7(&r7)
							line = appendLine(nil, &r7, text)
						}
						if err != nil {
							t.Error(err)
							return
						}
						want[w] = append(want[w], string(line))
						if i%1000 == 0 {
							if err := s.Flush(); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(got) != writers*each {
				t.Fatalf("%d lines, want %d", len(got), writers*each)
			}
			// Lines of one writer keep their order; writers interleave.
			next := make([]int, writers)
			for i, l := range got {
				found := false
				for w := range writers {
					if next[w] < each && want[w][next[w]] == l {
						next[w]++
						found = true
						break
					}
				}
				if !found {
					for w := range writers {
						if next[w] < each {
							t.Logf("writer %d next: %.100q", w, want[w][next[w]])
						}
					}
					t.Fatalf("line %d (%.100q...) is no writer's next line", i, l)
				}
			}
		})
	}
}

func appendLine(r4 *flow.Record, r7 *l7.Record, text bool) []byte {
	switch {
	case r4 != nil && text:
		return r4.AppendText(nil)
	case r4 != nil:
		return r4.AppendJSON(nil)
	case text:
		return r7.AppendText(nil)
	}
	return r7.AppendJSON(nil)
}

// TestWriterSink_FlushEmpties checks that output waits in the buffer until
// it is full or flushed, and that Flush writes out all of it.
func TestWriterSink_FlushEmpties(t *testing.T) {
	var out bytes.Buffer
	s := pipeline.NewJSONSink(&out)
	var r flow.Record
	if err := s.WriteL4(&r); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("%d bytes written before Flush, want them buffered", out.Len())
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := string(r.AppendJSON(nil)) + "\n"; out.String() != want {
		t.Fatalf("after Flush: %q, want %q", out.String(), want)
	}
	// Enough lines to fill the buffer are written without a Flush.
	out.Reset()
	for range 200 {
		s.WriteL4(&r)
	}
	if out.Len() == 0 {
		t.Fatal("nothing written after 200 lines")
	}
}

type failWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	return n, f.err
}

// TestWriterSink_WriteError checks that a write error (or a short write)
// is returned, by the write that meets it or by Flush, and by every call
// after it.
func TestWriterSink_WriteError(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error // the writer's error
		want error
	}{
		{"error", boom, boom},
		{"short", nil, io.ErrShortWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pipeline.NewJSONSink(&failWriter{n: 100, err: tc.err})
			var r flow.Record
			var err error
			for i := 0; i < 1000 && err == nil; i++ {
				err = s.WriteL4(&r)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("writes returned %v, want %v", err, tc.want)
			}
			if err := s.WriteL4(&r); !errors.Is(err, tc.want) {
				t.Errorf("write after the error: %v, want %v", err, tc.want)
			}
			if err := s.Flush(); !errors.Is(err, tc.want) {
				t.Errorf("Flush after the error: %v, want %v", err, tc.want)
			}
		})
	}
}

// BenchmarkWriterSink writes an l7 and an l4 record a op, as JSON, to
// io.Discard: from one goroutine (one shard) and from GOMAXPROCS at once.
func BenchmarkWriterSink(b *testing.B) {
	r4 := flow.Record{FlowID: 7, StartTime: 1_767_225_600_123_456_000, EndTime: 1_767_225_601_000_000_000,
		IP0: netip.MustParseAddr("10.1.2.3"), IP1: netip.MustParseAddr("172.20.0.4"), ClientPort: 51102,
		ServerPort: 443, Protocol: 6, L7Protocol: "HTTP2", PacketTx: 12, PacketRx: 10, ByteTx: 1800, ByteRx: 9000}
	r7 := l7.Record{FlowID: 7, StartTime: r4.StartTime, EndTime: r4.StartTime + 23_848_000,
		Client: netip.MustParseAddrPort("10.1.2.3:51102"), Server: netip.MustParseAddrPort("172.20.0.4:443"),
		Transport: l7.TCP, L7Protocol: "HTTP2", HasRequest: true, HasResponse: true, Version: []byte("2"),
		RequestType: []byte("GET"), RequestDomain: []byte("www.youtube.com"), RequestResource: []byte("/favicon.ico"),
		Endpoint: []byte("/favicon.ico"), HasStatus: true, HasResponseCode: true, ResponseCode: 200}
	n := len(r4.AppendJSON(nil)) + len(r7.AppendJSON(nil)) + 2
	b.Run("serial", func(b *testing.B) {
		s := pipeline.NewJSONSink(io.Discard)
		b.SetBytes(int64(n))
		b.ReportAllocs()
		for b.Loop() {
			s.WriteL7(&r7)
			s.WriteL4(&r4)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := pipeline.NewJSONSink(io.Discard)
		b.SetBytes(int64(n))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r4, r7 := r4, r7
			for pb.Next() {
				s.WriteL7(&r7)
				s.WriteL4(&r4)
			}
		})
	})
}
