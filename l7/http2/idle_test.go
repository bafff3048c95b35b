package http2_test

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleConn returns the payloads of the capture's connection with port
// (0: the busiest), as the idle memory tests replay them.
func idleConn(tb testing.TB, name string, port uint16) []l7test.Segment {
	return l7test.ConnSegments(tb, filepath.Join("testdata", name), port, 0)
}

// bytesPerIdleConn returns the live heap bytes each of n idle connections
// carrying segs adds to an engine with the HTTP/2 decoder (the l7.Conn
// included), and the records they gave.
func bytesPerIdleConn(tb testing.TB, segs []l7test.Segment, n int) (float64, int) {
	return l7test.IdleBytesPerConn(tb, http2.New(nil), netip.MustParseAddrPort("10.1.0.1:8080"), segs, n)
}

// TestParser_BytesPerIdleConn checks the memory of idle HTTP/2 and gRPC
// connections (their calls answered, the connection left open, as
// most connections of a busy capture are) through the l7 engine: a real
// conversation from a recorded capture fills the HPACK tables as real
// peers do.
func TestParser_BytesPerIdleConn(t *testing.T) {
	if testing.Short() || l7test.RaceEnabled {
		t.Skip("opens 12,500 connections (and sync.Pool drops items under the race detector)")
	}
	for _, tc := range []struct {
		name    string
		capture string
		port    uint16 // the connection's (0: the busiest)
		records int    // per connection
		max     float64
	}{
		// curl: one GET and its response.
		// 951 bytes with a 256-byte parser, 888 with a 192-byte one.
		{"h2c", "h2c-prior-knowledge.pcap", 55878, 1, 1024},
		// grpc-go: unary, streaming and health calls. 1,223 bytes with a
		// 256-byte parser, 1,159 with a 192-byte one.
		{"grpc", "grpc.pcap", 0, 7, 1280},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 10_000
			chunks := idleConn(t, tc.capture, tc.port)
			got, records := bytesPerIdleConn(t, chunks, n)
			t.Logf("%.0f bytes per idle connection (%d segments each, l7.Conn included)", got, len(chunks))
			if want := (n + n/4) * tc.records; records < want {
				t.Errorf("%d records, want at least %d", records, want)
			}
			if got > tc.max {
				t.Errorf("%.0f bytes per idle connection, want <= %.0f", got, tc.max)
			}
		})
	}
}

// TestParser_IdleZeroAlloc: a connection told it is idle between every
// message takes its scratch and its HPACK rings from the pools again and
// packs its tables into the memory it packed them in before, allocating
// nothing once warm (the busy case is TestCheckZeroAlloc's).
func TestParser_IdleZeroAlloc(t *testing.T) {
	if l7test.RaceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, c := range benchCases() {
		p := http2.New(nil).NewParser(l7.TCP)
		idler := p.(l7.Idler)
		var m l7.Message
		for range 3 {
			if l7test.ParseAll(p, c.In, c.Dir, &m) == 0 {
				t.Fatalf("%s: no message", c.Name)
			}
			idler.Idle()
		}
		if a := testing.AllocsPerRun(200, func() {
			l7test.ParseAll(p, c.In, c.Dir, &m)
			idler.Idle()
		}); a != 0 {
			t.Errorf("%s: Parse and Idle allocate %v times per run, want 0", c.Name, a)
		}
	}
}

// TestParser_ResetZeroAlloc: a parser reused for connection after
// connection (Reset), told it is idle after every frame, fills and packs
// its tables from empty each time, allocating nothing once warm.
func TestParser_ResetZeroAlloc(t *testing.T) {
	if l7test.RaceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	c := shortConn()
	p := http2.New(nil).NewParser(l7.TCP)
	var m l7.Message
	records := 0
	for _, ch := range c.chunks {
		records += l7test.ParseAll(p, ch.b, ch.dir, &m)
	}
	if records != 4 {
		t.Fatalf("%d messages, want 4", records)
	}
	p.(l7.Resetter).Reset(l7.TCP)
	for range 3 {
		parseConn(p, c, &m)
	}
	if a := testing.AllocsPerRun(100, func() { parseConn(p, c, &m) }); a != 0 {
		t.Errorf("a connection allocates %v times, want 0", a)
	}
}

// BenchmarkParser_IdleConn reports bytes per idle connection as
// TestParser_BytesPerIdleConn measures them.
func BenchmarkParser_IdleConn(b *testing.B) {
	for _, c := range []struct {
		name string
		port uint16
	}{{"h2c-prior-knowledge.pcap", 55878}, {"grpc.pcap", 0}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			chunks := idleConn(b, c.name, c.port)
			var got float64
			for b.Loop() {
				got, _ = bytesPerIdleConn(b, chunks, 10_000)
			}
			b.ReportMetric(got, "B/conn")
		})
	}
}
