package l7test

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/l7"
)

// Segment is one TCP payload of a recorded connection.
type Segment struct {
	Dir  l7.Direction
	Seq  uint32
	Data []byte
}

// Conn is one TCP connection of a capture: its ends and its in-order
// payloads.
type Conn struct {
	Client, Server netip.AddrPort
	Segments       []Segment
}

// Conns returns the TCP connections of the capture at path in capture
// order, retransmitted bytes dropped from their payloads. The client is
// the side that sent the SYN, else the first packet's sender.
func Conns(tb testing.TB, path string) []Conn {
	tb.Helper()
	type key struct{ a, b netip.AddrPort }
	index := map[key]int{}
	next := map[netip.AddrPort]uint32{}
	var conns []Conn
	for _, p := range Packets(tb, path) {
		if p.UDP {
			continue
		}
		k := key{p.Src, p.Dst}
		if p.Dst.Addr().Less(p.Src.Addr()) || p.Dst.Addr() == p.Src.Addr() && p.Dst.Port() < p.Src.Port() {
			k = key{p.Dst, p.Src}
		}
		i, ok := index[k]
		if !ok {
			c := Conn{Client: p.Src, Server: p.Dst}
			if p.Flags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck {
				c.Client, c.Server = p.Dst, p.Src
			}
			i = len(conns)
			index[k] = i
			conns = append(conns, c)
		}
		if p.Flags&decode.TCPSyn != 0 {
			next[p.Src] = p.Seq + 1
			continue
		}
		if len(p.Payload) == 0 {
			continue
		}
		if n, ok := next[p.Src]; ok && int32(p.Seq+uint32(len(p.Payload))-n) <= 0 {
			continue // a retransmission
		}
		next[p.Src] = p.Seq + uint32(len(p.Payload))
		dir := l7.ToServer
		if p.Src != conns[i].Client {
			dir = l7.ToClient
		}
		conns[i].Segments = append(conns[i].Segments, Segment{dir, p.Seq, p.Payload})
	}
	return conns
}

// ConnSegments returns the in-order payloads of one TCP connection of the
// capture at path (Conns): the first connection with port on either side,
// or with port 0 the busiest (the most payloads; the first such in capture
// order). It keeps at most max of them (0: all), cut after the last
// server-to-client one: a connection whose requests were answered and that
// now waits, open, for its next request.
func ConnSegments(tb testing.TB, path string, port uint16, max int) []Segment {
	tb.Helper()
	var best []Segment
	for _, c := range Conns(tb, path) {
		if port != 0 {
			if c.Client.Port() == port || c.Server.Port() == port {
				best = c.Segments
				break
			}
			continue
		}
		if len(c.Segments) > len(best) {
			best = c.Segments
		}
	}
	if max > 0 {
		best = best[:min(len(best), max)]
	}
	for len(best) > 0 && best[len(best)-1].Dir != l7.ToClient {
		best = best[:len(best)-1]
	}
	if len(best) == 0 {
		tb.Fatalf("%s: no answered TCP connection", path)
	}
	return best
}

// BenchmarkFlows runs one sub-benchmark per capture of paths, named after
// it, that replays its TCP connections (Conns) as an engine meets them on
// a busy link: one parser of d, reset (l7.Resetter) for each connection
// and told it is idle (l7.Idler) after every segment, so that what a
// message costs includes taking scratch and giving it back. It reports
// bytes of payload per second and allocations.
func BenchmarkFlows(b *testing.B, d l7.Decoder, paths []string) {
	for _, path := range paths {
		conns := Conns(b, path)
		n := 0
		for _, c := range conns {
			for _, s := range c.Segments {
				n += len(s.Data)
			}
		}
		b.Run(filepath.Base(path), func(b *testing.B) {
			p := d.NewParser(l7.TCP)
			r, _ := p.(l7.Resetter)
			idler, _ := p.(l7.Idler)
			var m l7.Message
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range conns {
					if r != nil {
						r.Reset(l7.TCP)
					}
					for _, s := range c.Segments {
						ParseAll(p, s.Data, s.Dir, &m)
						if idler != nil {
							idler.Idle()
						}
					}
				}
			}
		})
	}
}

// IdleBytesPerConn measures what an idle connection of decoder d costs:
// it opens n connections to server in one engine whose registry holds d
// alone, feeds each the segments (through Conn.Data) and leaves it open,
// makes the engine tell every parser it is idle (l7.Idler), and returns the
// live heap bytes each connection added (its l7.Conn included) and the
// records all of them gave. A first n/4 connections, measured apart, warm
// the engine's tables and the pools up; their records count too.
func IdleBytesPerConn(tb testing.TB, d l7.Decoder, server netip.AddrPort, segs []Segment, n int) (perConn float64, records int) {
	tb.Helper()
	reg, err := l7.NewRegistry(d)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(*l7.Record) { records++ }})
	if err != nil {
		tb.Fatal(err)
	}
	ts := int64(1_700_000_000e9)
	open := func(first, count int) {
		for i := first; i < first+count; i++ {
			a := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
			c := e.Open(l7.ConnInfo{ID: uint64(i + 1), Client: netip.AddrPortFrom(netip.AddrFrom4(a), uint16(1024+i%60000)),
				Server: server, Transport: l7.TCP, Oriented: true}, ts)
			for _, s := range segs {
				ts += 1000
				c.Data(s.Dir, ts, s.Seq, s.Data)
			}
		}
		// Input on one more connection past l7.IdleDelay: every earlier
		// one is told it is idle.
		ts += int64(l7.IdleDelay) + 1
		c := e.Open(l7.ConnInfo{ID: uint64(first+count) + 1<<40, Client: netip.MustParseAddrPort("192.0.2.1:9"),
			Server: server, Transport: l7.TCP, Oriented: true}, ts)
		c.Data(l7.ToServer, ts, 0, []byte{0})
	}
	open(0, n/4)
	h1 := liveHeap()
	open(n/4, n)
	h2 := liveHeap()
	runtime.KeepAlive(e)
	return (float64(h2) - float64(h1)) / float64(n), records
}

// IdleBytesPerParser measures what an idle parser holds: idle returns a
// new parser that has parsed its input and been told it is idle
// (l7.Idler); IdleBytesPerParser keeps n of them alive and returns the
// live heap bytes each one added. A first n/4, measured apart, warm the
// pools up.
func IdleBytesPerParser(tb testing.TB, n int, idle func() l7.Parser) float64 {
	tb.Helper()
	ps := make([]l7.Parser, n)
	fill := func(from, to int) {
		for i := from; i < to; i++ {
			ps[i] = idle()
		}
	}
	fill(0, n/4)
	h1 := liveHeap()
	fill(n/4, n)
	h2 := liveHeap()
	runtime.KeepAlive(ps)
	return (float64(h2) - float64(h1)) / float64(n-n/4)
}

// liveHeap returns the bytes of live heap objects; two collections empty
// the sync.Pools, so that what stays is what open connections hold.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Idling wraps a parser and tells it it is idle (l7.Idler) whenever Parse
// asks for more bytes, as the engine may between its input calls: under
// FuzzPieces it checks that giving scratch back then changes nothing.
// The wrapped parser must implement l7.Idler.
type Idling struct{ l7.Parser }

// Parse implements l7.Parser.
func (p *Idling) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	n, ok, err := p.Parser.Parse(data, dir, m)
	if err == l7.ErrNeedMore {
		p.Parser.(l7.Idler).Idle()
	}
	return n, ok, err
}
