package http2

import (
	"encoding/binary"
	"slices"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// This file decodes HPACK's Huffman code (RFC 7541, 5.2 and Appendix B)
// with a lookup table: one lookup of huffBits bits yields one or two
// symbols whose codes fit in them (most characters of header fields have
// 5 to 8 bit codes), straight into the caller's buffer. It accepts and
// rejects exactly what golang.org/x/net/http2/hpack.HuffmanDecode does
// (FuzzHuffmanDecode): the input is a run of codes, then at most 7 bits
// of padding, all ones (a prefix of EOS); an EOS code is an error.

// huffBits is the number of bits a table lookup reads.
const huffBits = 12

// A huffEntry says what the code at the start of huffBits bits is: the
// bits it and, when the next code fits in the rest, the next take (bits
// 0-5: the low bits, so that the decoders shift by them with no more
// work on the chain from one lookup to the next); the bits the first
// takes (6-10); the number of symbols (11-12, huffCount), 0 when the code
// is longer than huffBits; the first symbol (16-23) and the second
// (24-31).
type huffEntry uint32

const huffCount = 3 << 11

// huffLong decodes codes longer than huffBits: the code is canonical, so
// the codes of each length are consecutive numbers.
type huffLong struct {
	first [31]uint32 // the first code of each length
	count [31]uint32 // the number of codes of each length
	index [31]uint16 // where each length's symbols start in syms
	syms  [256]byte  // the symbols by code
}

var huffTable, huffLongCodes = buildHuffman()

// huffCode returns the code of symbol s and its length in bits, as
// golang.org/x/net/http2/hpack encodes it: the code table is RFC 7541's,
// read back from the encoder rather than copied.
func huffCode(s byte) (code uint32, n uint) {
	// Eight copies take 8*n bits: n bytes, no padding.
	n = uint(hpack.HuffmanEncodeLength(strings.Repeat(string([]byte{s}), 8)))
	b := hpack.AppendHuffmanString(nil, string([]byte{s})) // the code, then ones
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return uint32(v >> (uint(len(b))*8 - n)), n
}

func buildHuffman() (*[1 << huffBits]huffEntry, *huffLong) {
	var codes [256]uint32
	var lens [256]uint
	single := new([1 << huffBits]huffEntry)
	long := &huffLong{}
	for s := range 256 {
		c, n := huffCode(byte(s))
		codes[s], lens[s] = c, n
		if n <= huffBits {
			lo := c << (huffBits - n)
			for i := range uint32(1) << (huffBits - n) {
				single[lo+i] = huffEntry(n) | huffEntry(n)<<6 | 1<<11 | huffEntry(s)<<16
			}
		}
	}
	// Codes longer than huffBits, by length then code.
	var order []int
	for s := range 256 {
		if lens[s] > huffBits {
			order = append(order, s)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if lens[a] != lens[b] {
			return int(lens[a]) - int(lens[b])
		}
		return int(codes[a]) - int(codes[b])
	})
	for i, s := range order {
		n := lens[s]
		if long.count[n] == 0 {
			long.first[n], long.index[n] = codes[s], uint16(i)
		} else if codes[s] != long.first[n]+long.count[n] {
			panic("http2: the HPACK Huffman code is not canonical")
		}
		long.count[n]++
		long.syms[i] = byte(s)
	}
	// Pairs: a second code that fits in the bits the first leaves.
	t := new([1 << huffBits]huffEntry)
	for i, e := range single {
		t[i] = e
		n1 := uint(e>>6) & 31
		if e&huffCount == 0 || n1 == huffBits {
			continue
		}
		e2 := single[(uint32(i)<<n1)&(1<<huffBits-1)]
		n2 := uint(e2>>6) & 31
		if e2&huffCount == 0 || n1+n2 > huffBits {
			continue
		}
		t[i] = huffEntry(n1+n2) | huffEntry(n1)<<6 | 2<<11 | e&0xff0000 | (e2>>16&0xff)<<24
	}
	return t, long
}

// The decoders keep their bit reader in locals (acc, nbits, i), not in a
// struct whose methods take its address: that one lived in memory, and
// every code's shift went through a store and a load.
//
// acc holds the next nbits bits of input from its top bit down, then
// zeros or the input's next bits (refill8 loads more than it counts;
// fill and refill8 later write those bits again, unchanged); i is the
// next byte of input that acc does not count.

// huffmanDecode appends the decoding of the Huffman-coded string src to
// dst; ok is false (and dst as it was) when src is not a valid coding.
func huffmanDecode(dst, src []byte) (_ []byte, ok bool) {
	start := len(dst)
	// At most one symbol per 5 bits (the shortest code), and a pair
	// may write one byte past the last symbol.
	dst = slices.Grow(dst, len(src)*8/5+2)
	out := dst[:cap(dst)]
	j := start
	t, long := huffTable, huffLongCodes
	var acc uint64
	var nbits uint
	i := 0
	// While 8 input bytes can be loaded: one load leaves at least 56
	// bits, enough for four codes of at most huffBits bits, or one
	// longer code.
	for i+8 <= len(src) {
		acc, nbits, i = refill8(src, acc, nbits, i)
		e := t[acc>>(64-huffBits)]
		if e&huffCount == 0 {
			s, n, ok := long.decode(acc, nbits)
			if !ok {
				return dst[:start], false
			}
			out[j] = s
			j++
			acc <<= n
			nbits -= n
			continue
		}
		for k := 0; ; k++ {
			out[j], out[j+1] = byte(e>>16), byte(e>>24)
			j += int(e >> 11 & 3)
			n := uint(e & 63)
			acc <<= n
			nbits -= n
			if k == 3 {
				break
			}
			if e = t[acc>>(64-huffBits)]; e&huffCount == 0 {
				break
			}
		}
	}
	for {
		if nbits < 32 {
			if acc, nbits, i = fill(src, acc, nbits, i); nbits < huffBits {
				break
			}
		}
		e := t[acc>>(64-huffBits)]
		if e&huffCount == 0 {
			s, n, ok := long.decode(acc, nbits)
			if !ok {
				return dst[:start], false
			}
			out[j] = s
			j++
			acc <<= n
			nbits -= n
			continue
		}
		out[j], out[j+1] = byte(e>>16), byte(e>>24)
		j += int(e >> 11 & 3)
		n := uint(e & 63)
		acc <<= n
		nbits -= n
	}
	// Fewer than huffBits bits left: codes that end in them, then the
	// padding.
	for nbits > 0 {
		e := t[acc>>(64-huffBits)]
		n := uint(e>>6) & 31
		if e&huffCount == 0 || n > nbits {
			break
		}
		out[j] = byte(e >> 16)
		j++
		acc <<= n
		nbits -= n
	}
	if !padding(acc, nbits) {
		return dst[:start], false
	}
	return dst[:j], true
}

// huffmanLen returns the length of the decoding of the Huffman-coded
// string src, as huffmanDecode would append it, without writing it; ok is
// false when src is not a valid coding.
func huffmanLen(src []byte) (n int, ok bool) {
	t, long := huffTable, huffLongCodes
	var acc uint64
	var nbits uint
	i := 0
	for i+8 <= len(src) {
		acc, nbits, i = refill8(src, acc, nbits, i)
		e := t[acc>>(64-huffBits)]
		if e&huffCount == 0 {
			_, l, ok := long.decode(acc, nbits)
			if !ok {
				return 0, false
			}
			n++
			acc <<= l
			nbits -= l
			continue
		}
		for k := 0; ; k++ {
			n += int(e >> 11 & 3)
			l := uint(e & 63)
			acc <<= l
			nbits -= l
			if k == 3 {
				break
			}
			if e = t[acc>>(64-huffBits)]; e&huffCount == 0 {
				break
			}
		}
	}
	for {
		if nbits < 32 {
			if acc, nbits, i = fill(src, acc, nbits, i); nbits < huffBits {
				break
			}
		}
		e := t[acc>>(64-huffBits)]
		if e&huffCount == 0 {
			_, l, ok := long.decode(acc, nbits)
			if !ok {
				return 0, false
			}
			n++
			acc <<= l
			nbits -= l
			continue
		}
		n += int(e >> 11 & 3)
		l := uint(e & 63)
		acc <<= l
		nbits -= l
	}
	for nbits > 0 {
		e := t[acc>>(64-huffBits)]
		l := uint(e>>6) & 31
		if e&huffCount == 0 || l > nbits {
			break
		}
		n++
		acc <<= l
		nbits -= l
	}
	if !padding(acc, nbits) {
		return 0, false
	}
	return n, true
}

// refill8 loads the 8 input bytes at i, 8 of which at least are left:
// acc then holds at least 56 bits. nbits < 64: masking it with 63 changes
// nothing but lets Go shift with one instruction.
func refill8(src []byte, acc uint64, nbits uint, i int) (uint64, uint, int) {
	acc |= binary.BigEndian.Uint64(src[i:]) >> (nbits & 63)
	return acc, nbits | 56, i + int((63-nbits)>>3)
}

// fill reads input bytes into acc while they fit.
func fill(src []byte, acc uint64, nbits uint, i int) (uint64, uint, int) {
	if i+4 <= len(src) {
		acc |= uint64(binary.BigEndian.Uint32(src[i:])) << (32 - nbits)
		i += 4
		nbits += 32
	}
	for nbits <= 56 && i < len(src) {
		acc |= uint64(src[i]) << (56 - nbits)
		i++
		nbits += 8
	}
	return acc, nbits, i
}

// padding reports whether the nbits bits left are a valid padding: at
// most 7 bits, all ones (a prefix of EOS).
func padding(acc uint64, nbits uint) bool {
	return nbits <= 7 && acc>>(64-nbits) == 1<<nbits-1
}

// decode returns the symbol whose code (longer than huffBits) starts acc,
// whose first nbits bits are input, and its length; ok is false for EOS,
// or when the bits end before the code does.
func (h *huffLong) decode(acc uint64, nbits uint) (sym byte, n uint, ok bool) {
	const w = 30 // the longest code
	v := acc >> (64 - w)
	for l := uint(huffBits + 1); l <= min(nbits, w); l++ {
		if d := uint32(v>>(w-l)) - h.first[l]; d < h.count[l] {
			return h.syms[h.index[l]+uint16(d)], l, true
		}
	}
	return 0, 0, false
}
