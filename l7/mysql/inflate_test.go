package mysql

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
)

// stdInflate is how frames were inflated before inflateTo: the first ulen
// bytes of the raw deflate stream in, read with compress/flate.
func stdInflate(in []byte, ulen int) ([]byte, error) {
	out := make([]byte, ulen)
	_, err := io.ReadFull(flate.NewReader(bytes.NewReader(in)), out)
	return out, err
}

// checkInflate tells how inflateTo and compress/flate disagree on the
// first ulen bytes of in, "" when they agree: both fail, or both give the
// same bytes.
func checkInflate(z *inflateTables, in []byte, ulen int) string {
	want, werr := stdInflate(in, ulen)
	got := make([]byte, ulen)
	gerr := z.inflateTo(in, got)
	switch {
	case (werr == nil) != (gerr == nil):
		return fmt.Sprintf("inflateTo error %v, compress/flate error %v", gerr, werr)
	case werr == nil && !bytes.Equal(got, want):
		i := 0
		for got[i] == want[i] {
			i++
		}
		return fmt.Sprintf("inflated bytes differ from offset %d of %d", i, ulen)
	}
	return ""
}

// rowsText returns n text rows of a result set as a server sends them:
// packets of length-encoded strings, ids, names, dates, repeated words.
func rowsText(r *rand.Rand, n int) []byte {
	words := []string{"alpha", "beta", "gamma", "delta", "2026-12-05 02:16:49", "NULL", "active", "deleted", "https://example.com/item/"}
	var b []byte
	for i := range n {
		var row []byte
		row = append(row, []byte(fmt.Sprint(i))...)
		for range 3 + r.IntN(6) {
			w := words[r.IntN(len(words))]
			if r.IntN(4) == 0 {
				w += fmt.Sprint(r.Uint32())
			}
			row = append(row, byte(len(w)))
			row = append(row, w...)
		}
		b = append(b, pkt(byte(i+2), row)...)
	}
	return b
}

// deflated returns plain deflated at level (flate.HuffmanOnly,
// flate.NoCompression, 1 to 9), cut into blocks by flushes every flush
// bytes when flush > 0.
func deflated(tb testing.TB, plain []byte, level, flush int) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		tb.Fatal(err)
	}
	for len(plain) > 0 {
		k := len(plain)
		if flush > 0 {
			k = min(k, flush)
		}
		w.Write(plain[:k])
		plain = plain[k:]
		if flush > 0 {
			w.Flush()
		}
	}
	w.Close()
	return buf.Bytes()
}

type inflateCase struct {
	name  string
	plain []byte
	in    []byte // raw deflate
}

func inflateCases(tb testing.TB) []inflateCase {
	r := rand.New(rand.NewPCG(7, 7))
	rows := rowsText(r, 400)
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	runs := bytes.Repeat([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"), 300) // distance 1 and 32 copies
	var out []inflateCase
	for _, p := range []struct {
		name  string
		plain []byte
	}{{"rows", rows}, {"random", random}, {"runs", runs}, {"short", []byte("select 1 from dual where a = 'a long enough text'")}} {
		for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
			out = append(out, inflateCase{fmt.Sprintf("%s/level%d", p.name, level), p.plain, deflated(tb, p.plain, level, 0)})
		}
		out = append(out, inflateCase{p.name + "/flushed", p.plain, deflated(tb, p.plain, flate.DefaultCompression, 777)})
	}
	return out
}

// TestInflate_Std: inflateTo gives what compress/flate gives on streams
// of every block type, and fails where it fails: truncated streams,
// streams shorter than the frame says, corrupt bits.
func TestInflate_Std(t *testing.T) {
	z := new(inflateTables)
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range inflateCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]byte, len(tc.plain))
			if err := z.inflateTo(tc.in, got); err != nil || !bytes.Equal(got, tc.plain) {
				t.Fatalf("whole stream: error %v, equal %v", err, bytes.Equal(got, tc.plain))
			}
			for _, ulen := range []int{1, len(tc.plain) / 2, len(tc.plain) - 1, len(tc.plain) + 1} {
				if d := checkInflate(z, tc.in, ulen); d != "" {
					t.Errorf("%d of %d bytes: %s", ulen, len(tc.plain), d)
				}
			}
			step := max(1, len(tc.in)/200)
			for cut := 0; cut < len(tc.in); cut += step {
				if d := checkInflate(z, tc.in[:cut], len(tc.plain)); d != "" {
					t.Errorf("cut at %d of %d: %s", cut, len(tc.in), d)
				}
			}
			bad := make([]byte, len(tc.in))
			for range 200 {
				copy(bad, tc.in)
				for range 1 + r.IntN(3) {
					bad[r.IntN(len(bad))] ^= 1 << r.IntN(8)
				}
				if d := checkInflate(z, bad, len(tc.plain)); d != "" {
					t.Fatalf("flipped bits %x: %s", bad, d)
				}
			}
		})
	}
}

// TestInflate_Edges: hand-made streams at the edges of what compress/flate
// accepts.
func TestInflate_Edges(t *testing.T) {
	z := new(inflateTables)
	for _, tc := range []struct {
		name string
		in   []byte
		ulen int
	}{
		{"empty", nil, 1},
		{"stored empty final", []byte{1, 0, 0, 0xff, 0xff}, 1},
		{"stored bad nlen", []byte{1, 3, 0, 0xfc, 0xfe, 'a', 'b', 'c'}, 3},
		{"stored then fixed", []byte{0, 1, 0, 0xfe, 0xff, 'a', 0x4b, 0x04, 0x00}, 2},
		{"reserved block type", []byte{0x07}, 1},
		{"fixed distance past start", []byte{0x03, 0x02}, 3},
		// Fixed code 286 (0b11000110): a symbol no stream may use.
		{"fixed symbol 286", []byte{0x1b, 0x03}, 1},
		{"nothing to inflate", []byte{0xff}, 0},
	} {
		if d := checkInflate(z, tc.in, tc.ulen); d != "" {
			t.Errorf("%s: %s", tc.name, d)
		}
	}
}

// TestInflate_Captures: every deflated frame of the compressed-protocol
// captures, found as the parser consumes them, inflates as compress/flate
// inflates it.
func TestInflate_Captures(t *testing.T) {
	z := new(inflateTables)
	frames, inflated := 0, 0
	for _, path := range corpus.Captures(t, "mysql", "mysql") {
		for _, f := range captureFrames(t, path) {
			ulen := le24(f[4:])
			if d := checkInflate(z, f[9:], ulen); d != "" {
				t.Errorf("%s: frame of %d bytes: %s", path, len(f), d)
			}
			frames++
			inflated += ulen
		}
	}
	t.Logf("%d deflated frames, %d bytes inflated", frames, inflated)
	if frames < 10 {
		t.Fatalf("%d deflated frames in the captures", frames)
	}
}

// captureFrames returns the deflated frames (7-byte header, zlib header,
// deflate data) the parser consumed in a capture: the bytes of each Parse
// call that are an exact chain of compressed frames.
func captureFrames(t testing.TB, path string) [][]byte {
	var out [][]byte
	eachParse(t, path, func(pc *parseCall) int {
		n := pc.n
		if pc.err != nil {
			pc.p.Gap(pc.dir, -1)
			n = len(pc.buf)
		}
		if pc.p.compressed {
			out = append(out, framesOf(pc.buf[:n])...)
		}
		return n
	})
	return out
}

// framesOf returns the deflated frames of b when b is an exact chain of
// compressed frames, else nothing.
func framesOf(b []byte) [][]byte {
	var out [][]byte
	for o := 0; o < len(b); {
		if len(b)-o < 7 || 7+le24(b[o:]) > len(b)-o {
			return nil
		}
		f := b[o : o+7+le24(b[o:])]
		if le24(f[4:]) != 0 && len(f) >= 9 {
			out = append(out, f)
		}
		o += len(f)
	}
	return out
}

// FuzzInflate: on any input and frame length, inflateTo fails where
// compress/flate fails and otherwise gives the same bytes.
func FuzzInflate(f *testing.F) {
	for _, tc := range inflateCases(f) {
		f.Add(tc.in, uint32(len(tc.plain)))
	}
	f.Add([]byte{0x03, 0x02}, uint32(3))
	f.Fuzz(func(t *testing.T, in []byte, ulen uint32) {
		if d := checkInflate(new(inflateTables), in, int(ulen%(1<<17))); d != "" {
			t.Fatal(d)
		}
	})
}

// BenchmarkInflate: a 64 KiB frame of result-set rows (the size the
// servers send) inflated by inflateTo and by compress/flate as before.
func BenchmarkInflate(b *testing.B) {
	plain := rowsText(rand.New(rand.NewPCG(3, 3)), 3000)[:64<<10]
	in := deflated(b, plain, flate.DefaultCompression, 0)
	out := make([]byte, len(plain))
	b.Run("inflateTo", func(b *testing.B) {
		z := new(inflateTables)
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if err := z.inflateTo(in, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("captures", func(b *testing.B) {
		// The deflated frames of the compressed-protocol captures.
		var frames [][]byte
		n := 0
		for _, path := range corpus.Captures(b, "mysql", "mysql") {
			for _, f := range captureFrames(b, path) {
				frames = append(frames, f)
				n += le24(f[4:])
			}
		}
		if len(frames) == 0 {
			b.Skip("no compressed frames in the captures")
		}
		z := new(inflateTables)
		buf := make([]byte, 1<<24)
		b.ReportAllocs()
		b.SetBytes(int64(n))
		for b.Loop() {
			for _, f := range frames {
				if err := z.inflateTo(f[9:], buf[:le24(f[4:])]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("compress-flate", func(b *testing.B) {
		var src bytes.Reader
		r := flate.NewReader(&src)
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			src.Reset(in)
			r.(flate.Resetter).Reset(&src, nil)
			if _, err := io.ReadFull(r, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// bitWriter writes a deflate stream: fields from their least significant
// bit, Huffman codes from their most significant.
type bitWriter struct {
	b  []byte
	nb uint
}

// lengths writes a dynamic block's code lengths, after its 3-bit header:
// 286 literal/length and 30 distance lengths, coded by a code-length code
// that gives the symbols 0-15 four bits each (so that symbol l's canonical
// code is l).
func (w *bitWriter) lengths(lit, dist []uint8) {
	w.bits(286-257, 5)
	w.bits(30-1, 5)
	w.bits(19-4, 4)
	for _, s := range codeOrder {
		if s < 16 {
			w.bits(4, 3)
		} else {
			w.bits(0, 3)
		}
	}
	for _, l := range append(append([]uint8(nil), lit...), dist...) {
		w.code(uint32(l), 4)
	}
}

func (w *bitWriter) bits(v uint32, n uint) {
	for i := range n {
		if w.nb%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.nb % 8)
		w.nb++
	}
}

func (w *bitWriter) code(c uint32, n uint) { w.bits(reverse(c, n), n) }

// canonical returns the canonical codes of lengths.
func canonical(lengths []uint8) []uint32 {
	var count, next [16]uint32
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	code := uint32(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	codes := make([]uint32, len(lengths))
	for i, l := range lengths {
		if l != 0 {
			codes[i] = next[l]
			next[l]++
		}
	}
	return codes
}

// TestInflate_LongestCodes: a dynamic block whose literal, length and
// distance codes take 15 bits each, with the most extra bits (a literal
// then a copy use 63 bits), at every bit alignment, after 32 KiB of
// stored bytes for the distances to reach back into.
func TestInflate_LongestCodes(t *testing.T) {
	// Literal/length code: EOB 1 bit, literals 0-12 2 to 14 bits, 'x'
	// and length 284 (5 extra bits) 15 bits: complete.
	lit := make([]uint8, 286)
	lit[256] = 1
	for i := range 13 {
		lit[i] = uint8(2 + i)
	}
	lit['x'], lit[284] = 15, 15
	// Distance code: 0-13 1 to 14 bits, 14 and 29 (13 extra bits) 15.
	dist := make([]uint8, 30)
	for i := range 14 {
		dist[i] = uint8(1 + i)
	}
	dist[14], dist[29] = 15, 15
	lc, dc := canonical(lit), canonical(dist)

	r := rand.New(rand.NewPCG(5, 5))
	history := make([]byte, 32<<10)
	for i := range history {
		history[i] = byte(r.Uint32())
	}
	var w bitWriter
	w.bits(0, 3) // stored, not final
	w.nb = uint(len(w.b)) * 8
	w.b = append(w.b, byte(len(history)), byte(len(history)>>8), ^byte(len(history)), ^byte(len(history)>>8))
	w.b = append(w.b, history...)
	w.nb = uint(len(w.b)) * 8
	w.bits(1|2<<1, 3) // dynamic, final
	w.lengths(lit, dist)
	want := append([]byte(nil), history...)
	for i := range 40 {
		// Literals of 2 to 14 bits to move the alignment (none, one
		// or two: a decoder may take two literals, or a literal and
		// a copy, from one refill), 'x', then a copy of 227+i%32
		// bytes from 24577+i*97 back.
		short := byte(i % 13)
		for range i % 3 {
			w.code(lc[short], uint(lit[short]))
			want = append(want, short)
		}
		w.code(lc['x'], 15)
		w.code(lc[284], 15)
		w.bits(uint32(i%32), 5)
		w.code(dc[29], 15)
		w.bits(uint32(i*97), 13)
		want = append(want, 'x')
		d := 24577 + i*97
		for range 227 + i%32 {
			want = append(want, want[len(want)-d])
		}
	}
	w.code(lc[256], 1)
	got := make([]byte, len(want))
	if err := new(inflateTables).inflateTo(w.b, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("error %v, equal %v", err, bytes.Equal(got, want))
	}
	if d := checkInflate(new(inflateTables), w.b, len(want)); d != "" {
		t.Fatal(d)
	}
}

// randomCode returns the lengths of a random complete prefix code of n
// symbols of an alphabet of size, no code longer than 15 bits: leaves
// split at random.
func randomCode(r *rand.Rand, n, size int) []uint8 {
	depths := []uint8{0}
	for len(depths) < n {
		i := r.IntN(len(depths))
		if r.IntN(2) == 0 {
			i = len(depths) - 1 // deepen: long codes
		}
		if depths[i] == 15 {
			continue
		}
		depths[i]++
		depths = append(depths, depths[i])
	}
	lengths := make([]uint8, size)
	for i, s := range r.Perm(size)[:n] {
		lengths[s] = depths[i]
	}
	return lengths
}

// TestInflate_RandomCodes: dynamic blocks of random complete codes (many
// long ones), literals and copies at random, decode to what the encoder
// meant and to what compress/flate gives. Half the symbols are taken
// among the longest codes, so that literals and copies of the most bits
// follow each other.
func TestInflate_RandomCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	z := new(inflateTables)
	lengthBase, distBase := litVals, distVals
	for iter := range 300 {
		var w bitWriter
		var want []byte
		blocks := 1 + r.IntN(3)
		for blk := range blocks {
			final := uint32(0)
			if blk == blocks-1 {
				final = 1
			}
			w.bits(final|2<<1, 3)
			lit := randomCode(r, 2+r.IntN(284), 286)
			if lit[256] == 0 {
				// Give the end-of-block code a symbol's length.
				for s := range lit {
					if lit[s] != 0 {
						lit[256], lit[s] = lit[s], 0
						break
					}
				}
			}
			dist := randomCode(r, 2+r.IntN(28), 30)
			lc, dc := canonical(lit), canonical(dist)
			w.lengths(lit, dist)
			var lits, lens, dists []int
			for s, l := range lit {
				switch {
				case l == 0:
				case s < 256:
					lits = append(lits, s)
				case s > 256:
					lens = append(lens, s)
				}
			}
			for s, l := range dist {
				if l != 0 {
					dists = append(dists, s)
				}
			}
			// pick returns one of syms, half the time one of the
			// longest codes.
			pick := func(syms []int, lengths []uint8) int {
				s := syms[r.IntN(len(syms))]
				if r.IntN(2) == 0 {
					for _, c := range syms {
						if lengths[c] > lengths[s] {
							s = c
						}
					}
				}
				return s
			}
			for range 200 + r.IntN(2000) {
				if len(lits) > 0 && (len(want) == 0 || len(lens) == 0 || r.IntN(3) > 0) {
					s := pick(lits, lit)
					w.code(lc[s], uint(lit[s]))
					want = append(want, byte(s))
					continue
				}
				if len(lens) == 0 || len(want) == 0 {
					break
				}
				// A copy whose distance symbol reaches no further
				// back than what was written.
				var near []int
				for _, s := range dists {
					if int(distBase[s]>>16) <= len(want) {
						near = append(near, s)
					}
				}
				if len(near) == 0 {
					break
				}
				ds := pick(near, dist)
				ls := pick(lens, lit)
				le, de := lengthBase[ls], distBase[ds]
				lx, dx := uint(le>>8&15), uint(de>>8&15)
				lv := uint32(r.IntN(1 << lx))
				length := int(le>>16) + int(lv)
				if ls == 284 {
					length = min(length, 258)
					lv = uint32(length - 227)
				}
				d := int(de>>16) + r.IntN(1<<dx)
				d = min(d, len(want))
				dv := uint32(d - int(de>>16))
				w.code(lc[ls], uint(lit[ls]))
				w.bits(lv, lx)
				w.code(dc[ds], uint(dist[ds]))
				w.bits(dv, dx)
				for range length {
					want = append(want, want[len(want)-d])
				}
			}
			w.code(lc[256], uint(lit[256]))
		}
		got := make([]byte, len(want))
		if err := z.inflateTo(w.b, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stream %d: error %v, equal %v", iter, err, bytes.Equal(got, want))
		}
		for _, ulen := range []int{len(want), len(want) + 1, len(want) / 3} {
			if d := checkInflate(z, w.b, ulen); d != "" {
				t.Fatalf("stream %d, %d of %d bytes: %s", iter, ulen, len(want), d)
			}
		}
	}
}
