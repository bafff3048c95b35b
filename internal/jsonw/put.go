package jsonw

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Writers at an offset, for encoders that grow their buffer once to a
// bound computed from the record and then fill it without a capacity
// check per piece (the records' text lines). Each PutX writes at b[n:]
// and returns the index just past its text. It may also write up to
// PutSlack bytes past that index (whole 8-byte stores): scratch that the
// next piece overwrites or the caller cuts off. So b[n:] must hold the
// text's maximum length (the MaxX constants) plus PutSlack bytes; an
// encoder that bounds a line by the sum of its pieces' maxima plus
// PutSlack meets this at every piece (PutWords, which stores 24 bytes
// whatever its text, is counted as 24). A shorter b panics with an index
// error: a programmer's error, not an input's.

// PutSlack is how many bytes past its text a PutX may write.
const PutSlack = 8

// Maximum text lengths of the writers.
const (
	MaxUintLen     = 20 // PutUint: 18446744073709551615
	MaxIntLen      = 20 // PutInt: -9223372036854775808
	MaxScaledLen   = 21 // PutScaled: 20 digits and the point
	MaxAddrPortLen = 48 // PutAddrPort, plus the address's zone: [39 bytes of IPv6%zone]:65535
)

// PutUint writes v in decimal, as strconv.AppendUint(b[:n], v, 10) does.
// Numbers below 10^4 (most counters and ports) take two-digit table
// stores: a short dependency chain, where digits8's multiplications are
// a long one.
func PutUint(b []byte, n int, v uint64) int {
	if v < 10 {
		// Inlined: most packet counts.
		b[n] = byte('0' + v)
		return n + 1
	}
	return putUint(b, n, v)
}

// putUint is PutUint for v of 10 and above.
func putUint(b []byte, n int, v uint64) int {
	switch {
	case v < 100:
		binary.LittleEndian.PutUint16(b[n:], pairs[v])
		return n + 2
	case v < 10000:
		hi, lo := v/100, v%100
		if hi < 10 {
			binary.LittleEndian.PutUint32(b[n:], uint32('0'+hi)|uint32(pairs[lo])<<8)
			return n + 3
		}
		binary.LittleEndian.PutUint32(b[n:], uint32(pairs[hi])|uint32(pairs[lo])<<16)
		return n + 4
	case v < 1e8:
		// Leading '0' digits shifted out.
		x := digits8(v)
		z := bits.TrailingZeros64(x) &^ 7
		binary.LittleEndian.PutUint64(b[n:], x>>z|ascii8)
		return n + 8 - z>>3
	}
	return putUintLong(b, n, v)
}

// pairs holds the two ASCII digits of 0 to 99 as little-endian words.
var pairs = func() (t [100]uint16) {
	for v := range t {
		t[v] = pair(uint64(v))
	}
	return
}()

// putUintLong is PutUint for v of 1e8 and above.
func putUintLong(b []byte, n int, v uint64) int {
	var hi uint64
	if v < 1e16 {
		hi = v / 1e8
	} else {
		top := v / 1e16
		hi = v / 1e8 % 1e8
		n = PutUint(b, n, top)
		binary.LittleEndian.PutUint64(b[n:], digits8(hi)|ascii8)
		binary.LittleEndian.PutUint64(b[n+8:], digits8(v%1e8)|ascii8)
		return n + 16
	}
	n = PutUint(b, n, hi)
	binary.LittleEndian.PutUint64(b[n:], digits8(v%1e8)|ascii8)
	return n + 8
}

// PutInt writes v in decimal, as strconv.AppendInt(b[:n], v, 10) does.
func PutInt(b []byte, n int, v int64) int {
	if v < 0 {
		b[n] = '-'
		return PutUint(b, n+1, uint64(-v))
	}
	return PutUint(b, n, uint64(v))
}

// PutScaled writes v/10^k (k from 0 to 7) in decimal without trailing
// zeros after the point, nor the point when nothing follows it: 7045 with
// k 3 is "7.045", 2500 is "2.5", 3000 is "3". It is the shortest decimal
// of float64(v)/10^k (strconv.AppendFloat with 'f', -1) for v below 10^15,
// whose floats all differ. The fractions of k 3 and 6 (durations in ms and
// s from µs) come from a table of three digits.
func PutScaled(b []byte, n int, v uint64, k int) int {
	switch k {
	case 3:
		n = PutUint(b, n, v/1e3)
		f := v % 1e3
		binary.LittleEndian.PutUint32(b[n:], frac3[f])
		return n + int(frac3Len[f])
	case 6:
		n = PutUint(b, n, v/1e6)
		f := v % 1e6
		hi, lo := f/1e3, f%1e3
		if lo == 0 {
			binary.LittleEndian.PutUint32(b[n:], frac3[hi])
			return n + int(frac3Len[hi])
		}
		binary.LittleEndian.PutUint64(b[n:], uint64(frac3[hi])|uint64(frac3[lo]>>8)<<32)
		return n + 3 + int(frac3Len[lo])
	}
	var f uint64 // the fraction's k digits, the first in the low byte
	if v < 1e8 {
		// One digits8: the integer's 8-k digits, then the fraction's.
		x := digits8(v)
		ik := uint(8-k) * 8
		ip := x & (1<<ik - 1)
		z := bits.TrailingZeros64(ip|1<<(ik-8)) &^ 7
		binary.LittleEndian.PutUint64(b[n:], ip>>z|ascii8)
		n += int(ik-uint(z)) >> 3
		f = x >> ik
	} else {
		p := pow10[k&7]
		n = PutUint(b, n, v/p)
		f = digits8(v%p) >> (uint(8-k) * 8)
	}
	if f == 0 {
		return n
	}
	binary.LittleEndian.PutUint64(b[n:], (f|ascii8)<<8|'.')
	return n + 1 + (bits.Len64(f)+7)>>3
}

// frac3 holds ".ddd", the point and the three digits of 0 to 999, as
// little-endian words, and frac3Len the length of its text without
// trailing zeros: 0 for 0 (no point), 2 for 500 (".5").
var frac3, frac3Len = func() (t [1000]uint32, l [1000]uint8) {
	for f := range t {
		d := [4]byte{'.', byte('0' + f/100), byte('0' + f/10%10), byte('0' + f%10)}
		t[f] = binary.LittleEndian.Uint32(d[:])
		n := 4
		for n > 1 && d[n-1] == '0' {
			n--
		}
		if n > 1 {
			l[f] = uint8(n)
		}
	}
	return
}()

// PutAddrPort writes a and port as netip.AddrPortFrom(a, port).AppendTo
// does (nothing for the zero Addr). b[n:] must hold MaxAddrPortLen plus
// the zone's length plus PutSlack bytes.
func PutAddrPort(b []byte, n int, a netip.Addr, port uint16) int {
	if a.Is4() {
		a4 := a.As4()
		return putAddrPort4(b, n, binary.BigEndian.Uint32(a4[:]), port)
	}
	return putAddrPort6(b, n, a, port)
}

// putAddrPort4 is PutAddrPort for IPv4 (a in network order, held in a
// register where an array would be passed on the stack): each octet's
// digits and '.' come from a table (octets), two octets to a store, so
// that the octets' lengths, not a chain of stores, decide where each goes;
// then the port in one store. It calls nothing: no spills around a call.
func putAddrPort4(b []byte, n int, a uint32, port uint16) int {
	a0, a1, a2, a3 := byte(a>>24), byte(a>>16), byte(a>>8), byte(a)
	l0, l1, l2, l3 := int(octLen[a0]), int(octLen[a1]), int(octLen[a2]), int(octLen[a3])
	w01 := uint64(octets[a0]) | uint64(octets[a1])<<(8*(l0+1)&63)
	w23 := uint64(octets[a2]) | uint64(octets[a3])<<(8*(l2+1)&63)
	m := l0 + l1 + 2
	t := b[n : n+16+8]
	binary.LittleEndian.PutUint64(t, w01)
	binary.LittleEndian.PutUint64(t[m&15:], w23)
	m += l2 + l3 + 1
	// portWord, by hand: inlined, it leaves this function a leaf.
	p := uint64(port)
	var w uint64
	l := 6
	switch {
	case p >= 10000:
		q := p / 100
		w = ':' | ('0'+q/100)<<8 | uint64(pairs[q%100])<<16 | uint64(pairs[p%100])<<32
	case p >= 1000:
		w, l = ':'|uint64(pairs[p/100])<<8|uint64(pairs[p%100])<<24, 5
	case p >= 100:
		w, l = ':'|('0'+p/100)<<8|uint64(pairs[p%100])<<16, 4
	case p >= 10:
		w, l = ':'|uint64(pairs[p])<<8, 3
	default:
		w, l = ':'|('0'+p)<<8, 2
	}
	binary.LittleEndian.PutUint64(t[m&15:], w)
	return n + m + l
}

// putAddrPort6 is PutAddrPort for addresses other than IPv4.
func putAddrPort6(b []byte, n int, a netip.Addr, port uint16) int {
	if !plain6(a) {
		// IPv4-mapped, zoned or invalid: netip's text, written in place.
		s := netip.AddrPortFrom(a, port).AppendTo(b[n:n])
		return n + copy(b[n:], s)
	}
	b[n] = '['
	n = putAddr6(b, n+1, a.As16())
	b[n] = ']'
	w, l := portWord(port)
	binary.LittleEndian.PutUint64(b[n+1:], w)
	return n + 1 + l
}

// portWord returns ':' and port's digits as a little-endian word, and
// their length.
func portWord(port uint16) (uint64, int) {
	p := uint64(port)
	switch {
	case p >= 10000:
		// Ephemeral ports (most client ports).
		q := p / 100
		return ':' | ('0'+q/100)<<8 | uint64(pairs[q%100])<<16 | uint64(pairs[p%100])<<32, 6
	case p >= 1000:
		return ':' | uint64(pairs[p/100])<<8 | uint64(pairs[p%100])<<24, 5
	case p >= 100:
		return ':' | ('0'+p/100)<<8 | uint64(pairs[p%100])<<16, 4
	case p >= 10:
		return ':' | uint64(pairs[p])<<8, 3
	}
	return ':' | ('0'+p)<<8, 2
}

// putAddr6 writes a 16-byte address as netip.Addr.AppendTo does for an
// IPv6 address without a zone that is not IPv4-mapped: groups in lower-case
// hexadecimal without leading zeros, the longest run of two or more zero
// groups (the first of equal runs) as "::" (RFC 5952). b[n:] must hold 39
// bytes.
//
// The zero run comes from a table by the mask of zero groups (no scan).
// A branch-free form (also each group and its ':' in one store) takes half
// the time on random addresses but a fifth more on the shared corpus's
// records, whose addresses repeat: branches on a group's size predict well
// there.
func putAddr6(b []byte, n int, a [16]byte) int {
	var g [8]uint16
	var zeros uint8 // bit i: group i is zero
	for i := range g {
		g[i] = uint16(a[2*i])<<8 | uint16(a[2*i+1])
		if g[i] == 0 {
			zeros |= 1 << i
		}
	}
	run := zeroRuns[zeros]
	zs, ze := int(run.start), int(run.end)
	b = b[n : n+39]
	m := 0
	for i := 0; i < 8; i++ {
		if i == zs {
			b[m], b[m+1] = ':', ':'
			m += 2
			i = ze - 1
			continue
		}
		if i > 0 && i != ze {
			b[m] = ':'
			m++
		}
		v := g[i]
		switch {
		case v >= 0x1000:
			b[m], b[m+1], b[m+2], b[m+3] = hexDigits[v>>12], hexDigits[v>>8&15], hexDigits[v>>4&15], hexDigits[v&15]
			m += 4
		case v >= 0x100:
			b[m], b[m+1], b[m+2] = hexDigits[v>>8], hexDigits[v>>4&15], hexDigits[v&15]
			m += 3
		case v >= 0x10:
			b[m], b[m+1] = hexDigits[v>>4], hexDigits[v&15]
			m += 2
		default:
			b[m] = hexDigits[v]
			m++
		}
	}
	return n + m
}

// zeroRuns holds, for each mask of an IPv6 address's zero groups (bit i:
// group i), the longest run of two or more of them, the first of equal
// runs: its first group and the group after it (both 8 when there is
// none, and end 9 so that no group is taken for the one after a run).
var zeroRuns = func() (t [256]struct{ start, end uint8 }) {
	for zm := range t {
		zs, zl := 8, 1
		for i := 0; i < 8; {
			if zm>>i&1 == 0 {
				i++
				continue
			}
			j := i
			for j < 8 && zm>>j&1 != 0 {
				j++
			}
			if j-i > zl {
				zs, zl = i, j-i
			}
			i = j
		}
		t[zm].start, t[zm].end = uint8(zs), uint8(zs+zl)
		if zs == 8 {
			t[zm].end = 9
		}
	}
	return
}()

// Word is a text of up to eight bytes held as a little-endian word, for
// PutWord: a line's constant pieces written in one store each.
type Word struct {
	w uint64
	n int
}

// MakeWord returns s as a Word. It panics when s is longer than eight
// bytes: words are made at setup time, from constants.
func MakeWord(s string) Word {
	if len(s) > 8 {
		panic("jsonw: word longer than eight bytes: " + s)
	}
	var a [8]byte
	copy(a[:], s)
	return Word{binary.LittleEndian.Uint64(a[:]), len(s)}
}

// PutWord writes w's text.
func PutWord(b []byte, n int, w Word) int {
	binary.LittleEndian.PutUint64(b[n:], w.w)
	return n + w.n
}

// Words is a text of up to 24 bytes held as three little-endian words, for
// PutWords: names from a small set (close types, statuses) in three
// stores, without memmove's call.
type Words struct {
	w [3]uint64
	n int
}

// MakeWords returns s as Words, and false when s is longer than 24 bytes.
func MakeWords(s string) (Words, bool) {
	var a [24]byte
	if len(s) > len(a) {
		return Words{}, false
	}
	copy(a[:], s)
	return Words{[3]uint64{binary.LittleEndian.Uint64(a[:]), binary.LittleEndian.Uint64(a[8:]), binary.LittleEndian.Uint64(a[16:])}, len(s)}, true
}

// PutWords writes w's text. It stores all 24 bytes, past a short text by
// more than PutSlack: b[n:] must hold 24 bytes, and a line's bound counts
// 24 for it.
func PutWords(b []byte, n int, w *Words) int {
	t := b[n : n+24]
	binary.LittleEndian.PutUint64(t, w.w[0])
	binary.LittleEndian.PutUint64(t[8:], w.w[1])
	binary.LittleEndian.PutUint64(t[16:], w.w[2])
	return n + w.n
}

// PutString writes s. Up to 16 bytes, it copies s as two overlapping
// words (of 8, 4 or 1 bytes: how memmove copies short strings, without
// its call).
func PutString[T string | []byte](b []byte, n int, s T) int {
	l := len(s)
	t := b[n : n+l]
	switch {
	case l >= 8 && l <= 16:
		binary.LittleEndian.PutUint64(t, load8(s))
		binary.LittleEndian.PutUint64(t[l-8:], load8(s[l-8:]))
	case l >= 4 && l < 8:
		binary.LittleEndian.PutUint32(t, load4(s))
		binary.LittleEndian.PutUint32(t[l-4:], load4(s[l-4:]))
	case l > 0 && l < 4:
		t[0], t[l/2], t[l-1] = s[0], s[l/2], s[l-1]
	default:
		copy(t, s)
	}
	return n + l
}

// load4 returns the first four bytes of s as a little-endian word.
func load4[T string | []byte](s T) uint32 {
	s = s[:4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
