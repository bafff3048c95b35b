package l7

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// collector is a fake parser side: it records delivered bytes and gaps.
type collector struct {
	out   []byte
	seqs  []uint32
	gaps  []int
	check bool // verify that seq follows the delivered bytes
	next  uint32
	bad   int
}

func (c *collector) data(ts int64, seq uint32, b []byte) {
	if c.check && len(c.seqs) > 0 && seq != c.next {
		c.bad++
	}
	c.seqs = append(c.seqs, seq)
	c.out = append(c.out, b...)
	c.next = seq + uint32(len(b))
}

func (c *collector) gap(ts int64, seq uint32, n int) {
	c.gaps = append(c.gaps, n)
	c.next = seq + uint32(n)
}

func newTestEnv(maxDir int, total int64) (*reasmEnv, *Stats) {
	st := &Stats{}
	p := &bufPool{limit: total, maxFree: total}
	return &reasmEnv{pool: p, maxDir: maxDir, timeout: 1e9, stats: st}, st
}

type seg struct {
	seq  uint32
	data string
	ts   int64
}

func TestReassembler_Segment(t *testing.T) {
	const isn = 1000
	tests := []struct {
		name     string
		syn      bool
		isn      uint32
		segs     []seg
		maxDir   int
		total    int64
		flush    bool
		want     string
		wantGaps []int
		wantDup  uint64
		wantOOO  uint64
	}{
		{name: "in order", syn: true, isn: isn, segs: []seg{{isn + 1, "hello ", 0}, {isn + 7, "world", 0}}, want: "hello world"},
		{name: "mid-stream join", isn: isn, segs: []seg{{5000, "abc", 0}, {5003, "def", 0}}, want: "abcdef"},
		{name: "out of order", syn: true, isn: isn, segs: []seg{{isn + 4, "def", 0}, {isn + 7, "ghi", 0}, {isn + 1, "abc", 0}}, want: "abcdefghi", wantOOO: 2},
		{name: "retransmission", syn: true, isn: isn, segs: []seg{{isn + 1, "abc", 0}, {isn + 1, "abc", 0}, {isn + 4, "def", 0}}, want: "abcdef", wantDup: 3},
		{name: "partial overlap", syn: true, isn: isn, segs: []seg{{isn + 1, "abcd", 0}, {isn + 3, "cdefg", 0}}, want: "abcdefg", wantDup: 2},
		{name: "overlapping out of order", syn: true, isn: isn, segs: []seg{{isn + 5, "efgh", 0}, {isn + 3, "cdef", 0}, {isn + 1, "ab", 0}}, want: "abcdefgh", wantOOO: 2, wantDup: 2},
		{name: "duplicate out of order", syn: true, isn: isn, segs: []seg{{isn + 5, "efgh", 0}, {isn + 6, "fg", 0}, {isn + 1, "abcd", 0}}, want: "abcdefgh", wantOOO: 1, wantDup: 2},
		{name: "seq wrap-around", syn: true, isn: 0xfffffffd, segs: []seg{{0xfffffffe, "ab", 0}, {0, "cd", 0}, {2, "ef", 0}}, want: "abcdef"},
		{name: "seq wrap-around out of order", syn: true, isn: 0xfffffff0, segs: []seg{{2, "ef", 0}, {0xfffffffe, "ab", 0}, {0xfffffff1, "0123456789abc", 0}, {0, "cd", 0}}, want: "0123456789abcabcdef", wantOOO: 2},
		{name: "gap at close", syn: true, isn: isn, segs: []seg{{isn + 1, "ab", 0}, {isn + 6, "fg", 0}}, flush: true, want: "abfg", wantGaps: []int{3}, wantOOO: 1},
		{name: "gap by reassembly timeout", syn: true, isn: isn, segs: []seg{{isn + 1, "ab", 0}, {isn + 6, "fg", 0}, {isn + 8, "hi", 2e9}}, want: "abfghi", wantGaps: []int{3}, wantOOO: 1},
		{name: "per-direction budget", syn: true, isn: isn, maxDir: 100, segs: []seg{{isn + 1, "ab", 0}, {isn + 6, "fg", 0}, {isn + 20, "xy", 0}, {isn + 3, "cde", 0}}, flush: true, want: "abfgxy", wantGaps: []int{3, 12}, wantOOO: 2, wantDup: 3},
		{name: "global budget", syn: true, isn: isn, total: 512, segs: []seg{{isn + 1, "ab", 0}, {isn + 6, "fg", 0}, {isn + 9, "ij", 0}}, flush: true, want: "abfgij", wantGaps: []int{3, 1}, wantOOO: 2},
		{name: "old data before join ignored", isn: isn, segs: []seg{{5000, "abc", 0}, {4990, "0123456789", 0}}, want: "abc", wantDup: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxDir, total := tc.maxDir, tc.total
			if maxDir == 0 {
				maxDir = 64 << 10
			}
			if total == 0 {
				total = 64 << 20
			}
			env, st := newTestEnv(maxDir, total)
			var r reassembler
			c := &collector{check: true}
			if tc.syn {
				r.syn(tc.isn)
			}
			for _, s := range tc.segs {
				r.segment(env, c, s.ts, s.seq, []byte(s.data))
			}
			if tc.flush {
				r.flush(env, c, 0)
			}
			if got := string(c.out); got != tc.want {
				t.Errorf("delivered %q, want %q", got, tc.want)
			}
			if !equalInts(c.gaps, tc.wantGaps) {
				t.Errorf("gaps %v, want %v", c.gaps, tc.wantGaps)
			}
			if st.DupBytes != tc.wantDup {
				t.Errorf("DupBytes %d, want %d", st.DupBytes, tc.wantDup)
			}
			if st.OutOfOrder != tc.wantOOO {
				t.Errorf("OutOfOrder %d, want %d", st.OutOfOrder, tc.wantOOO)
			}
			if c.bad != 0 {
				t.Errorf("%d deliveries with a sequence number not following the previous bytes", c.bad)
			}
			r.reset(env)
			if env.pool.inUse != 0 {
				t.Errorf("pool still holds %d bytes after reset", env.pool.inUse)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReassembler_InOrderAllocs(t *testing.T) {
	env, _ := newTestEnv(64<<10, 64<<20)
	var r reassembler
	r.syn(0)
	var sink nopSink
	p := make([]byte, 1448)
	seq := uint32(1)
	allocs := testing.AllocsPerRun(1000, func() {
		r.segment(env, sink, 0, seq, p)
		seq += uint32(len(p))
	})
	if allocs != 0 {
		t.Fatalf("in-order segment: %v allocs, want 0", allocs)
	}
	// Out of order then filled: after warm-up, the pool serves the buffers.
	allocs = testing.AllocsPerRun(1000, func() {
		r.segment(env, sink, 0, seq+uint32(len(p)), p)
		r.segment(env, sink, 0, seq, p)
		seq += 2 * uint32(len(p))
	})
	if allocs != 0 {
		t.Fatalf("out-of-order segment: %v allocs, want 0", allocs)
	}
}

type nopSink struct{}

func (nopSink) data(int64, uint32, []byte) {}
func (nopSink) gap(int64, uint32, int)     {}

// FuzzReassembler cuts a stream into segments, shuffles, duplicates and
// overlaps them, and checks that what comes out equals the stream when
// nothing was dropped, and that nothing panics.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), uint64(1), uint32(0xfffffff0), uint16(4096))
	f.Add(bytes.Repeat([]byte("0123456789"), 300), uint64(7), uint32(12345), uint16(600))
	f.Add([]byte("x"), uint64(3), uint32(0), uint16(0))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, isn uint32, budget uint16) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		maxDir := 64 << 10
		if budget > 0 {
			maxDir = int(budget)
		}
		env, st := newTestEnv(maxDir, 64<<20)
		var r reassembler
		r.syn(isn)
		c := &collector{check: true}
		type piece struct{ off, n int }
		var pieces []piece
		for off := 0; off < len(stream); {
			n := 1 + rng.IntN(min(len(stream)-off, 1500))
			pieces = append(pieces, piece{off, n})
			// Sometimes an overlapping or duplicate segment too.
			if rng.IntN(4) == 0 {
				o := max(0, off-rng.IntN(20))
				pieces = append(pieces, piece{o, min(len(stream)-o, n+rng.IntN(40))})
			}
			off += n
		}
		rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		for _, p := range pieces {
			r.segment(env, c, 0, isn+1+uint32(p.off), stream[p.off:p.off+p.n])
		}
		r.flush(env, c, 0)
		if c.bad != 0 {
			t.Fatalf("%d deliveries out of sequence", c.bad)
		}
		var gapBytes int
		for _, g := range c.gaps {
			gapBytes += g
		}
		if len(c.out)+gapBytes > len(stream) {
			t.Fatalf("delivered %d bytes + %d gap bytes from a %d-byte stream", len(c.out), gapBytes, len(stream))
		}
		// Every byte was sent at least once, so only a budget may cause a gap.
		if st.BudgetGaps == 0 && (len(c.gaps) != 0 || !bytes.Equal(c.out, stream)) {
			t.Fatalf("no budget drop, but gaps %v and delivered bytes equal: %v", c.gaps, bytes.Equal(c.out, stream))
		}
		r.reset(env)
		if env.pool.inUse != 0 {
			t.Fatalf("pool holds %d bytes after reset", env.pool.inUse)
		}
	})
}

func BenchmarkReassembler(b *testing.B) {
	p := make([]byte, 1448)
	b.Run("in-order", func(b *testing.B) {
		env, _ := newTestEnv(64<<10, 64<<20)
		var r reassembler
		r.syn(0)
		seq := uint32(1)
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			r.segment(env, nopSink{}, 0, seq, p)
			seq += uint32(len(p))
		}
	})
	b.Run("swapped-pairs", func(b *testing.B) {
		env, _ := newTestEnv(64<<10, 64<<20)
		var r reassembler
		r.syn(0)
		seq := uint32(1)
		b.ReportAllocs()
		b.SetBytes(int64(2 * len(p)))
		for b.Loop() {
			r.segment(env, nopSink{}, 0, seq+uint32(len(p)), p)
			r.segment(env, nopSink{}, 0, seq, p)
			seq += 2 * uint32(len(p))
		}
	})
}
