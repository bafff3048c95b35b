package http2_test

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// payloadChunk is one segment's payload of a recorded connection.
type payloadChunk struct {
	dir l7.Direction
	b   []byte
}

// firstConn returns the payloads of the first TCP connection of a
// recorded capture (loopback recordings: in order, nothing lost), up to
// and including its first n segments with a payload (0: all).
func firstConn(tb testing.TB, name string, n int) []payloadChunk {
	tb.Helper()
	var server netip.AddrPort
	var client netip.AddrPort
	var out []payloadChunk
	for _, p := range l7test.Packets(tb, filepath.Join("testdata", name)) {
		if p.UDP {
			continue
		}
		if !server.IsValid() {
			if p.Flags&decode.TCPSyn == 0 || p.Flags&decode.TCPAck != 0 {
				continue
			}
			client, server = p.Src, p.Dst
		}
		var dir l7.Direction
		switch {
		case p.Src == client && p.Dst == server:
			dir = l7.ToServer
		case p.Src == server && p.Dst == client:
			dir = l7.ToClient
		default:
			continue
		}
		if len(p.Payload) == 0 {
			continue
		}
		out = append(out, payloadChunk{dir, p.Payload})
		if len(out) == n {
			break
		}
	}
	if len(out) == 0 {
		tb.Fatalf("%s: no TCP payload", name)
	}
	return out
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleConns opens n connections on eng that each carry chunks (a real
// conversation, its messages all answered) and then stay open, and
// returns them.
func idleConns(eng *l7.Engine, chunks []payloadChunk, first, n int) []*l7.Conn {
	conns := make([]*l7.Conn, 0, n)
	srv := netip.MustParseAddrPort("10.1.0.1:8080")
	for i := first; i < first+n; i++ {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), uint16(1024+i>>16))
		ts := int64(i) * 1000
		c := eng.Open(l7.ConnInfo{ID: uint64(i + 1), Client: cli, Server: srv, Transport: l7.TCP, Oriented: true}, ts)
		var seq [2]uint32
		for _, ch := range chunks {
			ts++
			c.Data(ch.dir, ts, seq[ch.dir], ch.b)
			seq[ch.dir] += uint32(len(ch.b))
		}
		conns = append(conns, c)
	}
	return conns
}

// pump gives eng more than 64 input calls on one extra connection (an
// HTTP/2 connection exchanging PINGs), so that the engine tells every
// other connection's parser it is idle.
func pump(eng *l7.Engine, id uint64) {
	c := eng.Open(l7.ConnInfo{ID: id, Client: netip.MustParseAddrPort("10.3.0.1:5000"),
		Server: netip.MustParseAddrPort("10.1.0.1:8080"), Transport: l7.TCP, Oriented: true}, 0)
	pre := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	c.Data(l7.ToServer, 1, 0, pre)
	seq := uint32(len(pre))
	ping := []byte("\x00\x00\x08\x06\x00\x00\x00\x00\x00pingping")
	for i := range 130 {
		c.Data(l7.ToServer, int64(2+i), seq, ping)
		seq += uint32(len(ping))
	}
}

// bytesPerIdleConn returns the live heap bytes each of n connections
// carrying chunks adds to an engine with the HTTP/2 decoder once they are
// idle (the l7.Conn included), and the records they gave.
func bytesPerIdleConn(tb testing.TB, chunks []payloadChunk, n int) (float64, int) {
	tb.Helper()
	reg, err := l7.NewRegistry(http2.New(nil))
	if err != nil {
		tb.Fatal(err)
	}
	records := 0
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(*l7.Record) { records++ }})
	if err != nil {
		tb.Fatal(err)
	}
	// A first batch warms the engine's tables and the pools up.
	warm := idleConns(eng, chunks, 0, n/4)
	pump(eng, 1<<40)
	h1 := liveHeap()
	conns := idleConns(eng, chunks, n/4, n)
	pump(eng, 1<<40+1)
	h2 := liveHeap()
	runtime.KeepAlive(warm)
	runtime.KeepAlive(conns)
	if h2 < h1 {
		tb.Fatalf("heap shrank: %d -> %d", h1, h2)
	}
	return float64(h2-h1) / float64(n), records
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
		chunks  int
		records int // per connection
		max     float64
	}{
		// curl: one GET and its response.
		{"h2c", "h2c-prior-knowledge.pcap", 0, 1, 1280},
		// grpc-go: unary, streaming and health calls.
		{"grpc", "grpc.pcap", 0, 7, 1536},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 10_000
			chunks := firstConn(t, tc.capture, tc.chunks)
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

// BenchmarkParser_IdleConn reports bytes per idle connection as
// TestParser_BytesPerIdleConn measures them.
func BenchmarkParser_IdleConn(b *testing.B) {
	for _, name := range []string{"h2c-prior-knowledge.pcap", "grpc.pcap"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			chunks := firstConn(b, name, 0)
			var got float64
			for b.Loop() {
				got, _ = bytesPerIdleConn(b, chunks, 10_000)
			}
			b.ReportMetric(got, "B/conn")
		})
	}
}
