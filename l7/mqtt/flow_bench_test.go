package mqtt

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// BenchmarkFlow replays the connections of the shared captures as the
// engine meets them on a busy link: one parser reused (Reset) for each
// connection and told it is idle (Idle) after every segment, so that what
// a message costs includes taking scratch and giving it back.
func BenchmarkFlow(b *testing.B) {
	d := New(nil)
	for _, path := range sharedCaptures(b) {
		conns, n := flowSegments(b, path)
		b.Run(filepath.Base(path), func(b *testing.B) {
			p := d.NewParser(l7.TCP).(*Parser)
			var m l7.Message
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				for _, segs := range conns {
					p.Reset(l7.TCP)
					for _, s := range segs {
						l7test.ParseAll(p, s.Data, s.Dir, &m)
						p.Idle()
					}
				}
			}
		})
	}
}

// flowSegments returns the TCP payloads of each connection of the capture
// at path, in capture order (the client is the first to send one), and
// their total size.
func flowSegments(tb testing.TB, path string) (conns [][]l7test.Segment, n int) {
	type key struct{ a, b netip.AddrPort }
	index := map[key]int{}
	clients := map[key]netip.AddrPort{}
	for _, p := range l7test.Packets(tb, path) {
		if p.UDP || len(p.Payload) == 0 {
			continue
		}
		k := key{p.Src, p.Dst}
		if p.Dst.Addr().Less(p.Src.Addr()) || p.Dst.Addr() == p.Src.Addr() && p.Dst.Port() < p.Src.Port() {
			k = key{p.Dst, p.Src}
		}
		i, ok := index[k]
		if !ok {
			i = len(conns)
			index[k], clients[k] = i, p.Src
			conns = append(conns, nil)
		}
		dir := l7.ToServer
		if p.Src != clients[k] {
			dir = l7.ToClient
		}
		conns[i] = append(conns[i], l7test.Segment{Dir: dir, Seq: p.Seq, Data: p.Payload})
		n += len(p.Payload)
	}
	return conns, n
}
