package mysql

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// A compressed frame's payload is a zlib stream of its own whose inflated
// length the frame header gives, and the parser keeps every inflated byte
// of it: so the frame is inflated in one call straight into the plain
// buffer (back-references copy within it, no 32 KiB window ring and no
// copy out of one), reading its input from a byte slice 8 bytes at a time
// (RFC 1951). Huffman codes are decoded with a table of 2^10 entries for
// literals and lengths and 2^8 for distances (fewer when a block's codes
// are shorter), longer codes through subtables; the tables of a dynamic
// block are built in the pooled inflateTables, the fixed ones once. It
// accepts and refuses what compress/flate does for the same output length
// (complete codes or the single one-bit code zlib makes, no distance past
// the start, at least the bits of the end-of-block code left before each
// literal/length code): the tests compare the two.

var errInflate = errors.New("mysql: corrupt deflate data")

const (
	litBits  = 10 // primary index bits of the literal/length table
	distBits = 8  // of the distance table
	clBits   = 7  // the code-length code: every code fits the primary table

	// Subtable room: a complete code of 286 symbols needs at most 286/6
	// subtables of 32 entries past a 10-bit primary table; 30 distance
	// codes at most 30/8 subtables of 128 entries past an 8-bit one.
	litSub  = 2048
	distSub = 1024

	maxLit  = 286 // literal/length codes a dynamic block may declare
	maxDist = 30

	// A table entry: bits 0-7 the code's length and the extra bits of a
	// length or distance that follow it (the primary index bits for a
	// subtable link), 8-11 those extra bits (the index bits of a
	// subtable), 12-15 its kind, 16-31 its value (literal byte, length or
	// distance base, subtable offset). One shift drops a code and its
	// extra bits; their value is read from the bits before it.
	kindShift = 12
	kindMask  = 0xf << kindShift
	kLit      = 0 << kindShift
	kLit2     = 1 << kindShift // two literals (pairLiterals)
	kLen      = 2 << kindShift // also a distance
	kEOB      = 3 << kindShift
	kSub      = 4 << kindShift
	kBad      = 5 << kindShift // no such code, or a symbol no stream may use
)

// inflateTables holds the decoder tables of a dynamic block and the
// scratch of its header, reused frame after frame (from inflaters).
type inflateTables struct {
	lit    [1<<litBits + litSub]uint32
	dist   [1<<distBits + distSub]uint32
	cl     [1 << clBits]uint32
	lens   [maxLit + maxDist]uint8
	subLen [1 << litBits]uint8

	litMask, distMask uint64 // of lit and dist's primary index
}

// Symbol values (everything but the code length) of each alphabet.
var (
	litVals, distVals, clVals                        = symbolValues()
	fixedLit, fixedDist, fixedLitMask, fixedDistMask = fixedTables()
)

func symbolValues() (lit [288]uint32, dist [32]uint32, cl [19]uint32) {
	for i := range 256 {
		lit[i] = kLit | uint32(i)<<16
	}
	lit[256] = kEOB
	base, extra := 3, 0
	for i := 257; i < 285; i++ {
		if i >= 265 {
			extra = (i - 261) / 4
		}
		lit[i] = kLen | uint32(extra)<<8 | uint32(base)<<16
		base += 1 << extra
	}
	lit[285] = kLen | 258<<16
	lit[286], lit[287] = kBad, kBad
	base, extra = 1, 0
	for i := range maxDist {
		if i >= 4 {
			extra = (i - 2) / 2
		}
		dist[i] = kLen | uint32(extra)<<8 | uint32(base)<<16
		base += 1 << extra
	}
	dist[30], dist[31] = kBad, kBad
	for i := range cl {
		cl[i] = kLit | uint32(i)<<16
	}
	return
}

func fixedTables() (*[1<<litBits + litSub]uint32, *[1<<distBits + distSub]uint32, uint64, uint64) {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	var sub [1 << litBits]uint8
	lit := new([1<<litBits + litSub]uint32)
	dist := new([1<<distBits + distSub]uint32)
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	_, lm, ok := buildTable(lit[:], litBits, lens[:], litVals[:], &sub)
	if !ok {
		panic("mysql: fixed literal table")
	}
	_, dm, ok := buildTable(dist[:], distBits, dl[:], distVals[:], &sub)
	if !ok {
		panic("mysql: fixed distance table")
	}
	return lit, dist, lm, dm
}

// buildTable fills t, a primary table and its subtables, for the
// canonical Huffman code of lens (symbol i has code length lens[i], 0 for
// none), each entry vals[i] with its length. The primary table has
// 1<<maxPB entries, or 1<<(longest code) when that is shorter (fewer
// entries to fill for a short block); subtables follow it. It returns the
// shortest code length, the mask of the primary index, and false, as
// compress/flate does, for a code that is over-subscribed or incomplete
// other than a single code of length 1 (an empty code is accepted: its one
// entry is kBad).
func buildTable(t []uint32, maxPB uint, lens []uint8, vals []uint32, subLen *[1 << litBits]uint8) (uint, uint64, bool) {
	// Counted in four arrays: runs of one length (zeros above all) do
	// not wait on each other's increments.
	var counts [4][16]uint16
	i := 0
	for ; i+4 <= len(lens); i += 4 {
		counts[0][lens[i]&15]++
		counts[1][lens[i+1]&15]++
		counts[2][lens[i+2]&15]++
		counts[3][lens[i+3]&15]++
	}
	for ; i < len(lens); i++ {
		counts[0][lens[i]&15]++
	}
	var count [16]uint16
	for l := 1; l < 16; l++ {
		count[l] = counts[0][l] + counts[1][l] + counts[2][l] + counts[3][l]
	}
	minLen, maxLen := uint(0), uint(0)
	for l := uint(1); l < 16; l++ {
		if count[l] != 0 {
			if minLen == 0 {
				minLen = l
			}
			maxLen = l
		}
	}
	var next [16]uint32
	code := uint32(0)
	for l := minLen; l <= maxLen && maxLen > 0; l++ {
		code <<= 1
		next[l] = code
		code += uint32(count[l])
	}
	pb := min(maxPB, maxLen)
	if maxLen == 0 || code != 1<<maxLen {
		if maxLen != 0 && !(code == 1 && maxLen == 1) {
			return 0, 0, false
		}
		for i := range t[:1<<pb] {
			t[i] = kBad
		}
	}
	pmask := uint32(1)<<pb - 1
	if maxLen > pb {
		// Size each subtable by its longest code and link it.
		clear(subLen[:1<<pb])
		nx := next
		for _, l := range lens {
			if l == 0 {
				continue
			}
			c := nx[l]
			nx[l]++
			if uint(l) <= pb {
				continue
			}
			p := reverse(c, uint(l)) & pmask
			subLen[p] = max(subLen[p], l)
		}
		off := uint32(1) << pb
		for p := range uint32(1) << pb {
			if l := subLen[p]; l != 0 {
				sb := uint32(l) - uint32(pb)
				if int(off+1<<sb) > len(t) {
					return 0, 0, false // cannot happen for a complete code
				}
				t[p] = kSub | sb<<8 | uint32(pb) | off<<16
				off += 1 << sb
			}
		}
	}
	for i, l := range lens {
		if l == 0 {
			continue
		}
		c := next[l]
		next[l]++
		r := reverse(c, uint(l))
		e := vals[i] | (uint32(l) + vals[i]>>8&15)
		if uint(l) <= pb {
			for k := r; k < 1<<pb; k += 1 << l {
				t[k] = e
			}
			continue
		}
		link := t[r&pmask]
		sb, base := link>>8&15, link>>16
		for k := r >> pb; k < 1<<sb; k += 1 << (uint(l) - pb) {
			t[base+k] = e
		}
	}
	return minLen, 1<<pb - 1, true
}

// pairLiterals turns each entry of a literal/length primary table (index
// mask pmask) whose literal code leaves room in the index bits for a whole
// second literal code into a kLit2 entry: both literals (bits 16-23 and
// 24-31), the bits both codes take (bits 0-7) and the bits the first
// takes (8-11). The codes of many text bytes are 5 to 6 bits long.
func pairLiterals(t []uint32, pmask uint64) {
	pb := uint32(bits.OnesCount64(pmask))
	// From the top: the second code's entry, at a lower index (or at
	// the same, for index 0), is still a single one when read.
	for i := int(pmask); i >= 0; i-- {
		e := t[i]
		n1 := e & 0xff
		if e&kindMask != kLit || n1 >= pb {
			continue
		}
		// The index bits past the first code, as the low bits of an
		// index: the second code's entry if it is no longer than them.
		e2 := t[uint32(i)>>n1]
		n2 := e2 & 0xff
		if e2&kindMask != kLit || n1+n2 > pb {
			continue
		}
		t[i] = kLit2 | (n1 + n2) | n1<<8 | e&0xff0000 | (e2>>16&0xff)<<24
	}
}

// reverse returns the n low bits of code c in reverse order: deflate
// sends Huffman codes from their most significant bit.
func reverse(c uint32, n uint) uint32 { return uint32(bits.Reverse16(uint16(c))) >> (16 - n) }

// codeOrder is the order of the code-length code's lengths.
var codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// inflateTo fills out with the start of the raw deflate stream in. It
// returns errInflate when the stream is corrupt, or ends before out is
// full.
func (z *inflateTables) inflateTo(in, out []byte) error {
	if len(out) == 0 {
		return nil
	}
	var (
		b   uint64 // bit buffer: nb bits of input, then more or zeros
		nb  uint
		pos int // next byte of in not in b
		o   int // bytes of out written
	)
	for {
		// Block header.
		for nb <= 56 && pos < len(in) {
			b |= uint64(in[pos]) << nb
			pos++
			nb += 8
		}
		if nb < 3 {
			return errInflate
		}
		final := b&1 != 0
		typ := b >> 1 & 3
		b >>= 3
		nb -= 3
		var lt *[1<<litBits + litSub]uint32
		var dt *[1<<distBits + distSub]uint32
		var litMin uint
		var lm, dm uint64 // masks of the tables' primary index
		switch typ {
		case 0:
			// Stored: the bits to the byte boundary are dropped, then
			// LEN, NLEN and LEN bytes as they are.
			b >>= nb & 7
			nb -= nb & 7
			start := pos - int(nb>>3)
			b, nb = 0, 0
			if start+4 > len(in) {
				return errInflate
			}
			n, nn := le16(in[start:]), le16(in[start+2:])
			if n != ^nn&0xffff {
				return errInflate
			}
			start += 4
			avail := min(n, len(in)-start)
			k := copy(out[o:], in[start:start+avail])
			o += k
			pos = start + avail
			if o == len(out) {
				return nil
			}
			if avail < n {
				return errInflate
			}
			if final {
				return errInflate
			}
			continue
		case 1:
			lt, dt, lm, dm, litMin = fixedLit, fixedDist, fixedLitMask, fixedDistMask, 7
		case 2:
			var err error
			b, nb, pos, litMin, err = z.dynamic(in, b, nb, pos)
			if err != nil {
				return err
			}
			lt, dt, lm, dm = &z.lit, &z.dist, z.litMask, z.distMask
		default:
			return errInflate
		}
		// Codes until the end of the block, or of out: first while 8
		// input bytes can be loaded and out has room for two
		// literals, the longest copy and 8 bytes more, so no count
		// needs checking (a
		// refill leaves at least 56 bits; a literal/length code,
		// its extra bits, a distance code and its extra bits take
		// at most 48, a second code after a literal is read only
		// when 48 bits are left). Shift counts are masked with 63,
		// which changes none (nb < 64, a code's length is at most
		// 15): Go then shifts with one instruction, where a count it
		// cannot bound takes three to give 0 for 64 and more, on the
		// chain from one code to the next.
		for pos+8 <= len(in) && len(out)-o >= 2+258+8 {
			b |= binary.LittleEndian.Uint64(in[pos:]) << (nb & 63)
			pos += int((63 - nb) >> 3)
			nb |= 56
			e := lt[b&lm]
			if e&kindMask == kSub {
				e = lt[e>>16+uint32(b>>litBits)&(1<<(e>>8&15)-1)]
			}
			bb := b // the extra bits of a length are in it
			b >>= e & 63
			nb -= uint(e & 0xff)
			if e&kindMask <= kLit2 {
				// One literal or two: the second byte written
				// is the next literal's or a byte the next
				// code overwrites.
				out[o], out[o+1] = byte(e>>16), byte(e>>24)
				o += 1 + int(e>>kindShift&1)
				if nb < 15+33 {
					// Not enough bits left for sure for a
					// length code and its distance.
					continue
				}
				// A second code from the same refill.
				e = lt[b&lm]
				if e&kindMask == kSub {
					e = lt[e>>16+uint32(b>>litBits)&(1<<(e>>8&15)-1)]
				}
				bb = b
				b >>= e & 63
				nb -= uint(e & 0xff)
				if e&kindMask <= kLit2 {
					out[o], out[o+1] = byte(e>>16), byte(e>>24)
					o += 1 + int(e>>kindShift&1)
					continue
				}
			}
			switch e & kindMask {
			case kLen:
			case kEOB:
				goto endBlock
			default:
				return errInflate
			}
			x := e >> 8 & 15
			length := int(e>>16) + int(bb>>((e-x)&63)&(1<<x-1))
			e = dt[b&dm]
			if e&kindMask == kSub {
				e = dt[e>>16+uint32(b>>distBits)&(1<<(e>>8&15)-1)]
			}
			if e&kindMask != kLen {
				return errInflate
			}
			bb = b
			b >>= e & 63
			nb -= uint(e & 0xff)
			x = e >> 8 & 15
			dist := int(e>>16) + int(bb>>((e-x)&63)&(1<<x-1))
			if dist > o {
				return errInflate
			}
			if dist >= 8 && length <= 32 {
				// 8 bytes at a time, each read from bytes written
				// before; up to 7 bytes past the copy's end that
				// the next codes overwrite.
				for k, s := o, o-dist; k < o+length; k, s = k+8, s+8 {
					binary.LittleEndian.PutUint64(out[k:], binary.LittleEndian.Uint64(out[s:]))
				}
				o += length
			} else {
				o = copyBack(out, o, dist, o+length)
			}
		}
		// Then with every count checked.
		for {
			if pos+8 <= len(in) {
				b |= binary.LittleEndian.Uint64(in[pos:]) << nb
				pos += int((63 - nb) >> 3)
				nb |= 56
			} else {
				for nb <= 56 && pos < len(in) {
					b |= uint64(in[pos]) << nb
					pos++
					nb += 8
				}
			}
			e := lt[b&lm]
			if e&kindMask == kSub {
				e = lt[e>>16+uint32(b>>litBits)&(1<<(e>>8&15)-1)]
			}
			if e&kindMask == kLit2 {
				// Its first literal only: the second is read
				// again, with the checks before it.
				e = kLit | e&0xff0000 | e>>8&15
			}
			// A code whose extra bits are not all there fails as
			// a code that is not.
			n := uint(e & 0xff)
			if n > nb || litMin > nb {
				return errInflate
			}
			bb := b
			b >>= n
			nb -= n
			switch e & kindMask {
			case kLit:
				out[o] = byte(e >> 16)
				if o++; o == len(out) {
					return nil
				}
				continue
			case kLen:
			case kEOB:
				goto endBlock
			default:
				return errInflate
			}
			x := e >> 8 & 15
			length := int(e>>16) + int(bb>>((e-x)&63)&(1<<x-1))
			e = dt[b&dm]
			if e&kindMask == kSub {
				e = dt[e>>16+uint32(b>>distBits)&(1<<(e>>8&15)-1)]
			}
			n = uint(e & 0xff)
			if n > nb || e&kindMask != kLen {
				return errInflate
			}
			bb = b
			b >>= n
			nb -= n
			x = e >> 8 & 15
			dist := int(e>>16) + int(bb>>((e-x)&63)&(1<<x-1))
			if dist > o {
				return errInflate
			}
			o = copyBack(out, o, dist, min(o+length, len(out)))
			if o == len(out) {
				return nil
			}
		}
	endBlock:
		if final {
			return errInflate // the stream ended before out was full
		}
	}
}

// copyBack copies out[o-dist:] to out[o:end] byte by byte as deflate
// means it (the source may overlap what it writes) and returns end.
func copyBack(out []byte, o, dist, end int) int {
	if dist >= end-o {
		copy(out[o:end], out[o-dist:])
		return end
	}
	// The bytes repeat with period dist, so each copy may take all that
	// was copied before.
	src := o - dist
	for o < end {
		o += copy(out[o:end], out[src:o])
	}
	return o
}

// dynamic reads a dynamic block's code lengths and builds z.lit and
// z.dist. It returns the bit reader's state and the bits a literal/length
// code needs left (compress/flate reads at least the end-of-block code's
// length before each).
func (z *inflateTables) dynamic(in []byte, b uint64, nb uint, pos int) (uint64, uint, int, uint, error) {
	refill := func() {
		for nb <= 56 && pos < len(in) {
			b |= uint64(in[pos]) << nb
			pos++
			nb += 8
		}
	}
	refill()
	if nb < 14 {
		return b, nb, pos, 0, errInflate
	}
	nlit := int(b&31) + 257
	ndist := int(b>>5&31) + 1
	nclen := int(b>>10&15) + 4
	b >>= 14
	nb -= 14
	if nlit > maxLit || ndist > maxDist {
		return b, nb, pos, 0, errInflate
	}
	var clens [19]uint8
	for i := range nclen {
		refill()
		if nb < 3 {
			return b, nb, pos, 0, errInflate
		}
		clens[codeOrder[i]] = uint8(b & 7)
		b >>= 3
		nb -= 3
	}
	_, cm, ok := buildTable(z.cl[:], clBits, clens[:], clVals[:], &z.subLen)
	if !ok {
		return b, nb, pos, 0, errInflate
	}
	lens := z.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		refill()
		e := z.cl[b&cm]
		n := uint(e & 0xff)
		if n > nb || e&kindMask != kLit {
			return b, nb, pos, 0, errInflate
		}
		b >>= n
		nb -= n
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var x uint
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return b, nb, pos, 0, errInflate
			}
			rep, x, v = 3, 2, lens[i-1]
		case 17:
			rep, x = 3, 3
		default:
			rep, x = 11, 7
		}
		if x > nb {
			return b, nb, pos, 0, errInflate
		}
		rep += int(b & (1<<x - 1))
		b >>= x
		nb -= x
		if i+rep > len(lens) {
			return b, nb, pos, 0, errInflate
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	litMin, lm, ok := buildTable(z.lit[:], litBits, lens[:nlit], litVals[:], &z.subLen)
	if !ok {
		return b, nb, pos, 0, errInflate
	}
	pairLiterals(z.lit[:], lm)
	_, dm, ok := buildTable(z.dist[:], distBits, lens[nlit:], distVals[:], &z.subLen)
	if !ok {
		return b, nb, pos, 0, errInflate
	}
	z.litMask, z.distMask = lm, dm
	litMin = max(litMin, uint(lens[256]))
	return b, nb, pos, litMin, nil
}
