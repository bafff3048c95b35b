package jsonw

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Decimal and address formatting for records: each writes its digits
// straight into b's spare capacity, with no intermediate buffer (strconv
// and netip format into one, then copy).

// digits100 holds the two decimal digits of 0..99.
const digits100 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

var pow10 = [20]uint64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// decLen returns the number of decimal digits of v (1 for 0).
func decLen(v uint64) int {
	t := bits.Len64(v) * 1233 >> 12
	if v >= pow10[t] {
		t++
	}
	return max(t, 1)
}

// extend returns b with n more bytes of length, growing it if needed, and
// the index of the first new byte.
func extend(b []byte, n int) ([]byte, int) {
	l := len(b)
	if cap(b)-l < n {
		b = append(b, make([]byte, n)...)
		return b, l
	}
	return b[:l+n], l
}

// AppendUint appends v in decimal, as strconv.AppendUint(b, v, 10) does.
// Single digits (most counters) take an inlined path.
func AppendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	return appendUint(b, v)
}

// appendUint is AppendUint for v of 10 and above: eight digits at a time
// (digits8), leading zeros dropped by shifting them out.
func appendUint(b []byte, v uint64) []byte {
	if v < 100 {
		return append(b, digits100[v*2], digits100[v*2+1])
	}
	if v < 10000 {
		hi, lo := v/100, v%100*2
		if hi < 10 {
			return append(b, byte('0'+hi), digits100[lo], digits100[lo+1])
		}
		hi *= 2
		return append(b, digits100[hi], digits100[hi+1], digits100[lo], digits100[lo+1])
	}
	if v < 1e8 {
		b, l := extend(b, 8)
		x := digits8(v)
		z := bits.TrailingZeros64(x) &^ 7 // leading '0' digits, in bits
		binary.LittleEndian.PutUint64(b[l:], x>>z|ascii8)
		return b[:l+8-z/8]
	}
	if v < 1e16 {
		hi, lo := v/1e8, v%1e8
		b, l := extend(b, 16)
		x := digits8(hi)
		z := bits.TrailingZeros64(x) &^ 7
		binary.LittleEndian.PutUint64(b[l:], x>>z|ascii8)
		l += 8 - z/8
		binary.LittleEndian.PutUint64(b[l:], digits8(lo)|ascii8)
		return b[:l+8]
	}
	top, mid, lo := v/1e16, v/1e8%1e8, v%1e8
	b, l := extend(b, 24)
	x := digits8(top)
	z := bits.TrailingZeros64(x) &^ 7
	binary.LittleEndian.PutUint64(b[l:], x>>z|ascii8)
	l += 8 - z/8
	binary.LittleEndian.PutUint64(b[l:], digits8(mid)|ascii8)
	binary.LittleEndian.PutUint64(b[l+8:], digits8(lo)|ascii8)
	return b[:l+16]
}

// AppendInt appends v in decimal, as strconv.AppendInt(b, v, 10) does.
func AppendInt(b []byte, v int64) []byte {
	if v < 0 {
		return AppendUint(append(b, '-'), uint64(-v))
	}
	return AppendUint(b, uint64(v))
}

// appendAddr6 appends a 16-byte address as putAddr6 writes it.
func appendAddr6(b []byte, a [16]byte) []byte {
	b, n := extend(b, 39)
	return b[:putAddr6(b, n, a)]
}

// plain6 reports whether a is formatted by appendAddr6: IPv6 without a
// zone, not IPv4-mapped.
func plain6(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && a.Zone() == ""
}

// octets holds, for each byte value, its decimal digits followed by '.'
// in the low bytes (little-endian), and octLen the digits' count: an
// IPv4 address is four 4-byte stores.
var octets, octLen = func() (t [256]uint32, l [256]uint8) {
	for v := range 256 {
		var d []byte
		switch {
		case v >= 100:
			d = []byte{byte('0' + v/100), byte('0' + v/10%10), byte('0' + v%10)}
		case v >= 10:
			d = []byte{byte('0' + v/10), byte('0' + v%10)}
		default:
			d = []byte{byte('0' + v)}
		}
		d = append(d, '.')
		for i := len(d); i < 4; i++ {
			d = append(d, 0)
		}
		t[v] = binary.LittleEndian.Uint32(d)
		l[v] = uint8(len(d[:bytes.IndexByte(d, '.')]))
	}
	return
}()

// appendAddr4 appends a dotted-quad IPv4 address. (putAddr4's two stores
// measure no faster here, in a call AppendAddr does not inline.)
func appendAddr4(b []byte, a [4]byte) []byte {
	b, n := extend(b, 16)
	for i, v := range a {
		binary.LittleEndian.PutUint32(b[n:], octets[v])
		n += int(octLen[v])
		if i < 3 {
			n++ // keep the '.'
		}
	}
	return b[:n]
}

// appendPort appends ':' and a port number.
func appendPort(b []byte, p uint16) []byte {
	switch {
	case p < 10:
		return append(b, ':', byte('0'+p))
	case p < 100:
		return append(b, ':', digits100[p*2], digits100[p*2+1])
	case p < 1000:
		return append(b, ':', byte('0'+p/100), digits100[p%100*2], digits100[p%100*2+1])
	case p < 10000:
		q, r := p/100*2, p%100*2
		return append(b, ':', digits100[q], digits100[q+1], digits100[r], digits100[r+1])
	}
	q, r := p/100%100*2, p%100*2
	return append(b, ':', byte('0'+p/10000), digits100[q], digits100[q+1], digits100[r], digits100[r+1])
}
