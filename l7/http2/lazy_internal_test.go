package http2

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// The HPACK decoder decodes and keeps only the values the records need
// (dirScratch.wants); these tests compare it with a parser that decodes
// and keeps every value (Config.allValues), as the decoder did before.

// tableShapes renders both directions' HPACK dynamic tables, newest
// first, as tables does but with each value's length instead of its
// bytes (a value no record needs is not kept) and the values kept.
func tableShapes(p *Parser) (shapes, kept []string) {
	for i := range p.dirs {
		d := &p.dirs[i].hp
		if d.w == nil && d.n > 0 {
			d.layout(d.size)
		}
		shapes = append(shapes, fmt.Sprintf("dir %d: %d entries, size %d/%d", i, d.n, d.size, d.maxSize))
		for k := range int(d.n) {
			e := d.w.ent(int(d.n) - 1 - k)
			name, value, known, noName := d.at(uint64(len(staticTable)) + 1 + uint64(k))
			shapes = append(shapes, fmt.Sprintf("  %q: %d bytes %v %v", name, e.vlen, known, noName))
			if !e.noValue {
				kept = append(kept, fmt.Sprintf("%d %d %q: %q", i, k, name, value))
			}
		}
	}
	return shapes, kept
}

// checkAllValues compares the tables of a parser keeping the values the
// records need (lazy) with one keeping them all: the same entries and
// sizes, and the values lazy kept are the same.
func checkAllValues(t *testing.T, lazy, all *Parser) {
	t.Helper()
	sl, kl := tableShapes(lazy)
	sa, ka := tableShapes(all)
	if !slices.Equal(sl, sa) {
		t.Fatalf("tables keeping the values records need:\n%s\nkeeping all:\n%s", strings.Join(sl, "\n"), strings.Join(sa, "\n"))
	}
	for _, v := range kl {
		if !slices.Contains(ka, v) {
			t.Fatalf("value kept %s, not in the table keeping all:\n%s", v, strings.Join(ka, "\n"))
		}
	}
}

// TestParser_AllValues decodes every connection of the HTTP/2 and gRPC
// captures (whole, and joined mid-stream) with a parser keeping only the
// values records need, told it is idle after every frame, and with one
// decoding and keeping every value: the messages, the counters and the
// tables' entries and sizes must be the same.
func TestParser_AllValues(t *testing.T) {
	lazyDec, allDec := New(nil), New(&Config{allValues: true})
	skipped := 0
	files := eachConnRun(t, func(name string, c *tcpConn, skip int) {
		lazy := lazyDec.NewParser(l7.TCP).(*Parser)
		all := allDec.NewParser(l7.TCP).(*Parser)
		got := feed(lazy, c, skip, true)
		want := feed(all, c, skip, false)
		if !slices.Equal(got, want) {
			t.Errorf("%s: keeping the values records need:\n%s\nkeeping all:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			return
		}
		t.Run(name, func(t *testing.T) { checkAllValues(t, lazy, all) })
		for i := range lazy.dirs {
			d := &lazy.dirs[i].hp
			if d.w == nil && d.n > 0 {
				d.layout(d.size)
			}
			for k := range int(d.n) {
				if d.w.ent(k).noValue {
					skipped++
				}
			}
		}
	})
	if skipped < 10 {
		t.Errorf("only %d table entries without their values: the test does not test", skipped)
	}
	t.Logf("%d files, %d table entries whose values were not kept", files, skipped)
}

// FuzzParser_AllValues feeds arbitrary bytes to a parser keeping the
// values records need, told it is idle after every Parse call, and to a
// busy one keeping every value: messages, errors, counters and the tables'
// entries and sizes must be the same.
func FuzzParser_AllValues(f *testing.F) {
	for _, path := range []string{"grpc.pcap", "h2c-prior-knowledge.pcap", "h2c-upgrade.pcap"} {
		for _, c := range tcpConns(f, filepath.Join("testdata", path)) {
			var cli, srv []byte
			for i, pk := range c.pkts {
				if c.dirs[i] == l7.ToServer {
					cli = append(cli, pk.Payload...)
				} else {
					srv = append(srv, pk.Payload...)
				}
			}
			f.Add(append([]byte{0x40 | 63}, append(cli, srv...)...))
			f.Add(append([]byte{7}, append(cli, srv...)...))
		}
	}
	lazyDec, allDec := New(nil), New(&Config{allValues: true})
	f.Fuzz(func(t *testing.T, in []byte) {
		lazy := lazyDec.NewParser(l7.TCP).(*Parser)
		all := allDec.NewParser(l7.TCP).(*Parser)
		got := feedPieces(lazy, in, true)
		want := feedPieces(all, in, false)
		if !slices.Equal(got, want) {
			t.Fatalf("keeping the values records need:\n%s\nkeeping all:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		checkAllValues(t, lazy, all)
	})
}
