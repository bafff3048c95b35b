package http2

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// tcpConn is one TCP connection of a capture: its packets in order, each
// with its direction.
type tcpConn struct {
	pkts []l7test.Packet
	dirs []l7.Direction
}

// tcpConns splits a capture's TCP packets by connection, the client being
// the sender of the SYN, or else of the first packet.
func tcpConns(tb testing.TB, path string) []*tcpConn {
	type key struct{ a, b netip.AddrPort }
	var out []*tcpConn
	conns := map[key]*tcpConn{}
	client := map[key]netip.AddrPort{}
	for _, p := range l7test.Packets(tb, path) {
		if p.UDP {
			continue
		}
		k := key{p.Src, p.Dst}
		if p.Dst.Addr().Less(p.Src.Addr()) || p.Dst.Addr() == p.Src.Addr() && p.Dst.Port() < p.Src.Port() {
			k = key{p.Dst, p.Src}
		}
		c := conns[k]
		if c == nil || p.Flags&0x12 == 0x02 && len(c.pkts) > 0 {
			c = &tcpConn{}
			conns[k] = c
			out = append(out, c)
			client[k] = p.Src
		}
		dir := l7.ToServer
		if p.Src != client[k] {
			dir = l7.ToClient
		}
		c.pkts = append(c.pkts, p)
		c.dirs = append(c.dirs, dir)
	}
	return out
}

// feed runs a connection's packets from the skip-th on through p,
// reassembling each direction (l7test.InOrder), and returns the messages
// and the parser's stats, rendered. With idle, the parser is told it is
// idle after every Parse call (every frame), as the engine may.
func feed(p *Parser, c *tcpConn, skip int, idle bool) []string {
	var out []string
	var h [2]l7test.InOrder
	var m l7.Message
	for i := skip; i < len(c.pkts); i++ {
		pk, dir := &c.pkts[i], c.dirs[i]
		gap, ok := h[dir].Add(pk.Seq, pk.Flags&0x02 != 0, pk.Payload)
		if !ok {
			continue
		}
		if gap > 0 {
			p.Gap(dir, gap)
			out = append(out, fmt.Sprintf("gap %d %d", dir, gap))
		}
		for len(h[dir].Buf) > 0 {
			m.Reset()
			n, done, err := p.Parse(h[dir].Buf, dir, &m)
			if done {
				out = append(out, fmt.Sprintf("%d %+v", dir, l7test.CloneMessage(&m)))
			}
			if idle {
				p.Idle()
			}
			if err != nil {
				out = append(out, fmt.Sprintf("err %v", err))
			}
			if errors.Is(err, l7.ErrStop) || err != nil && n == 0 {
				break
			}
			h[dir].Buf = h[dir].Buf[n:]
		}
	}
	return append(out, fmt.Sprintf("stats %+v", p.Stats()))
}

// tables renders both directions' HPACK dynamic tables, newest first.
func tables(p *Parser) []string {
	var out []string
	for i := range p.dirs {
		d := &p.dirs[i].hp
		if d.w == nil && d.n > 0 {
			d.layout(d.size)
		}
		out = append(out, fmt.Sprintf("dir %d: %d entries, size %d/%d", i, d.n, d.size, d.maxSize))
		for k := range uint64(d.n) {
			name, value, known, noName := d.at(uint64(len(staticTable)) + 1 + k)
			out = append(out, fmt.Sprintf("  %q: %q %v %v", name, value, known, noName))
		}
	}
	return out
}

// TestParser_IdleEveryFrame decodes every connection of the HTTP/2 and
// gRPC captures (whole, and joined mid-stream, which leaves dynamic table
// entries whose names are unknown) twice: once as a busy connection, once
// told it is idle after every frame, so that its scratch goes back to the
// pool and its HPACK tables are packed and laid out again each time. The
// messages, the counters and the tables must be the same.
func TestParser_IdleEveryFrame(t *testing.T) {
	dec := New(nil)
	tabled := 0
	files := eachConnRun(t, func(name string, c *tcpConn, skip int) {
		busy := dec.NewParser(l7.TCP).(*Parser)
		idle := dec.NewParser(l7.TCP).(*Parser)
		want := feed(busy, c, skip, false)
		got := feed(idle, c, skip, true)
		if !slices.Equal(got, want) {
			t.Errorf("%s: with Idle after every frame:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			return
		}
		tg, tw := tables(idle), tables(busy)
		if !slices.Equal(tg, tw) {
			t.Errorf("%s: tables with Idle after every frame:\n%s\nwant:\n%s", name, strings.Join(tg, "\n"), strings.Join(tw, "\n"))
		}
		if busy.dirs[0].hp.n+busy.dirs[1].hp.n > 0 {
			tabled++
		}
	})
	if tabled < 10 {
		t.Errorf("only %d connections filled a dynamic table", tabled)
	}
	t.Logf("%d files, %d connection runs with dynamic table entries", files, tabled)
}

// eachConnRun calls fn for every TCP connection of the HTTP/2 and gRPC
// captures and of testdata, decoded whole (skip 0) and joined mid-stream
// (a third of its packets skipped), and returns the number of files.
func eachConnRun(t *testing.T, fn func(name string, c *tcpConn, skip int)) int {
	files := append(corpus.SharedCaptures(t, "http2"), corpus.SharedCaptures(t, "grpc")...)
	rec, _ := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	files = append(files, rec...)
	for _, path := range files {
		for ci, c := range tcpConns(t, path) {
			for _, skip := range []int{0, len(c.pkts) / 3} {
				fn(fmt.Sprintf("%s conn %d from packet %d", filepath.Base(path), ci, skip), c, skip)
			}
		}
	}
	return len(files)
}

// TestParser_IdleState checks what an idle parser keeps: no scratch, no
// ring, the tables packed; a stream in flight keeps the stream table.
func TestParser_IdleState(t *testing.T) {
	c := tcpConns(t, filepath.Join("testdata", "grpc.pcap"))[0]
	p := New(nil).NewParser(l7.TCP).(*Parser)
	feed(p, c, 0, false)
	p.Idle()
	if p.sc != nil || p.streams != nil {
		t.Errorf("idle parser keeps scratch %v, streams %d/%d", p.sc != nil, len(p.streams), cap(p.streams))
	}
	for i := range p.dirs {
		d := &p.dirs[i].hp
		if d.w != nil || d.n == 0 || len(d.packed) == 0 || len(d.packed) > int(d.size) {
			t.Errorf("dir %d: ring %v, %d entries (size %d) packed in %d bytes", i, d.w != nil, d.n, d.size, len(d.packed))
		}
		t.Logf("dir %d: %d entries, %d bytes (RFC size %d) packed in %d (cap %d)", i, d.n, int(d.size)-32*int(d.n), d.size, len(d.packed), cap(d.packed))
	}

	// A request in flight stays, and its response pairs after Idle.
	var m l7.Message
	blk := []byte{0x82, 0x86, 0x84, 0x41, 0x01, 'h'} // GET http / :authority h
	frame := append([]byte{0, 0, byte(len(blk)), frameHeaders, flagEndHeaders | flagEndStream, 0, 0, 0, 99}, blk...)
	if _, ok, err := p.Parse(frame, l7.ToServer, &m); !ok || err != nil {
		t.Fatalf("request: %v %v", ok, err)
	}
	p.Idle()
	if len(p.streams) != 1 || p.sc != nil {
		t.Fatalf("idle with a stream in flight: %d streams, scratch %v", len(p.streams), p.sc != nil)
	}
	resp := []byte{0, 0, 1, frameHeaders, flagEndHeaders | flagEndStream, 0, 0, 0, 99, 0x88} // :status 200
	m.Reset()
	if _, ok, err := p.Parse(resp, l7.ToClient, &m); !ok || err != nil || m.Kind != l7.KindResponse || m.Code != 200 || len(p.streams) != 0 {
		t.Fatalf("response: %v %v %+v, %d streams", ok, err, m, len(p.streams))
	}

	// A header block waiting for its CONTINUATION keeps the scratch.
	first := append([]byte{0, 0, 3, frameHeaders, flagEndStream, 0, 0, 0, 101}, blk[:3]...)
	cont := append([]byte{0, 0, 3, frameContinuation, flagEndHeaders, 0, 0, 0, 101}, blk[3:]...)
	m.Reset()
	p.Parse(first, l7.ToServer, &m)
	p.Idle()
	if p.sc == nil {
		t.Fatal("idle inside a header block dropped its scratch")
	}
	m.Reset()
	if _, ok, err := p.Parse(cont, l7.ToServer, &m); !ok || err != nil || string(m.RequestDomain) != "h" {
		t.Fatalf("continuation after Idle: %v %v %+v", ok, err, m)
	}
}

// feedPieces feeds in[1:] to p in pieces of in[0]&63+1 bytes, alternating
// the directions piece by piece when in[0]&0x40 is set, else all to one
// direction (in[0]'s top bit) and then all to the other, each direction
// keeping the bytes Parse left. With idle, the parser is told it is idle
// after every Parse call. It returns the messages, errors and counters.
func feedPieces(p *Parser, in []byte, idle bool) []string {
	if len(in) == 0 {
		return nil
	}
	size, alt, first := int(in[0]&63)+1, in[0]&0x40 != 0, l7.Direction(in[0]>>7)
	data := in[1:]
	var pieces []chunkIn
	if alt {
		for i := 0; len(data) > 0; i++ {
			n := min(size, len(data))
			pieces = append(pieces, chunkIn{first ^ l7.Direction(i&1), data[:n]})
			data = data[n:]
		}
	} else {
		for _, dir := range []l7.Direction{first, first ^ 1} {
			for b := data; len(b) > 0; {
				n := min(size, len(b))
				pieces = append(pieces, chunkIn{dir, b[:n]})
				b = b[n:]
			}
		}
	}
	var out []string
	var buf [2][]byte
	var stopped [2]bool
	var m l7.Message
	for _, pc := range pieces {
		if stopped[pc.dir] {
			continue
		}
		buf[pc.dir] = append(buf[pc.dir], pc.b...)
		for len(buf[pc.dir]) > 0 {
			m.Reset()
			n, done, err := p.Parse(buf[pc.dir], pc.dir, &m)
			if done {
				out = append(out, fmt.Sprintf("%d %+v", pc.dir, l7test.CloneMessage(&m)))
			}
			if idle {
				p.Idle()
			}
			if err != nil && !errors.Is(err, l7.ErrNeedMore) {
				out = append(out, fmt.Sprintf("err %v", err))
			}
			if errors.Is(err, l7.ErrStop) {
				stopped[pc.dir] = true
				break
			}
			if n == 0 {
				break
			}
			buf[pc.dir] = buf[pc.dir][n:]
		}
	}
	return append(out, fmt.Sprintf("stats %+v", p.Stats()))
}

type chunkIn struct {
	dir l7.Direction
	b   []byte
}

// FuzzParser_Idle feeds arbitrary bytes to a busy parser and to one told
// it is idle after every Parse call: messages, errors, counters and HPACK
// tables must be the same (packing and laying the tables out again loses
// and adds nothing, whatever the input did to them).
func FuzzParser_Idle(f *testing.F) {
	for _, path := range []string{"grpc.pcap", "h2c-prior-knowledge.pcap", "h2c-upgrade.pcap"} {
		for _, c := range tcpConns(f, filepath.Join("testdata", path)) {
			// Both directions' bytes, alternating in pieces of 64.
			var cli, srv []byte
			for i, pk := range c.pkts {
				if c.dirs[i] == l7.ToServer {
					cli = append(cli, pk.Payload...)
				} else {
					srv = append(srv, pk.Payload...)
				}
			}
			in := []byte{0x40 | 63}
			for len(cli)+len(srv) > 0 {
				for _, b := range []*[]byte{&cli, &srv} {
					n := min(64, len(*b))
					in = append(in, (*b)[:n]...)
					in = append(in, make([]byte, 64-n)...) // a piece of zeros once one side ends
					*b = (*b)[n:]
				}
			}
			f.Add(in)
		}
	}
	dec := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		busy := dec.NewParser(l7.TCP).(*Parser)
		idle := dec.NewParser(l7.TCP).(*Parser)
		want := feedPieces(busy, in, false)
		got := feedPieces(idle, in, true)
		if !slices.Equal(got, want) {
			t.Fatalf("with Idle after every Parse:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if tg, tw := tables(idle), tables(busy); !slices.Equal(tg, tw) {
			t.Fatalf("tables with Idle after every Parse:\n%s\nwant:\n%s", strings.Join(tg, "\n"), strings.Join(tw, "\n"))
		}
	})
}

// TestDirScratch_FieldEmptyValue: an empty value is present, whether the
// scratch's value buffer has memory (a pooled scratch) or not (a new one),
// so that a parser decodes the same with a scratch from the pool as with a
// new one.
func TestDirScratch_FieldEmptyValue(t *testing.T) {
	for _, vals := range [][]byte{nil, make([]byte, 0, 64)} {
		ds := &dirScratch{vals: vals}
		ds.field([]byte(":status"), []byte{})
		ds.field([]byte("grpc-message"), nil)
		if ds.f.status == nil || ds.f.grpcMessage == nil {
			t.Errorf("vals cap %d: empty values missing: status %v, grpc-message %v", cap(vals), ds.f.status != nil, ds.f.grpcMessage != nil)
		}
	}
}
