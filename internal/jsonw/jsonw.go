package jsonw

import (
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/metaflow-go/metaflow/tag"
)

// TimeLayout is RFC 3339 with nanoseconds, the records' time format.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Key appends `,"key":`. key must need no escaping.
func Key(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// Uint appends `,"key":v`.
func Uint(b []byte, key string, v uint64) []byte {
	return AppendUint(Key(b, key), v)
}

// Int appends `,"key":v`.
func Int(b []byte, key string, v int64) []byte {
	return AppendInt(Key(b, key), v)
}

// Bool appends `,"key":v`.
func Bool(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(Key(b, key), v)
}

// String appends `,"key":"v"` with v escaped.
func String[T string | []byte](b []byte, key string, v T) []byte {
	return Quote(Key(b, key), v)
}

// OmitEmpty appends `,"key":"v"` unless v is empty.
func OmitEmpty[T string | []byte](b []byte, key string, v T) []byte {
	if len(v) == 0 {
		return b
	}
	return String(b, key, v)
}

// Time appends `,"key":"…"` with ns (Unix nanoseconds) in TimeLayout, UTC.
func Time(b []byte, key string, ns int64) []byte {
	b = append(Key(b, key), '"')
	b = AppendTime(b, ns)
	return append(b, '"')
}

// AppendTime appends ns (Unix nanoseconds) in TimeLayout, UTC, unquoted:
// what time.Time.AppendFormat writes, five times faster.
func AppendTime(b []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	days, s := sec/86400, sec%86400
	if s < 0 {
		days, s = days-1, s+86400
	}
	// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm,
	// valid across the int64 nanosecond range: years 1677 to 2262).
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	var t [30]byte // 2006-01-02T15:04:05.000000000Z
	put2(t[0:], int(y/100))
	put2(t[2:], int(y%100))
	t[4] = '-'
	put2(t[5:], int(m))
	t[7] = '-'
	put2(t[8:], int(d))
	t[10] = 'T'
	put2(t[11:], int(s/3600))
	t[13] = ':'
	put2(t[14:], int(s/60%60))
	t[16] = ':'
	put2(t[17:], int(s%60))
	t[19] = '.'
	f := int(frac)
	for i := 28; i >= 20; i-- {
		t[i] = byte('0' + f%10)
		f /= 10
	}
	t[29] = 'Z'
	return append(b, t[:]...)
}

const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// put2 writes v (0 to 99) as two digits.
func put2(b []byte, v int) {
	b[0], b[1] = digits2[2*v], digits2[2*v+1]
}

const hexDigits = "0123456789abcdef"

// Quote appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func Quote[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look.
		for i+8 <= len(s) && plain8(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		size := validRuneLen(s[i:])
		if size == 0 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 reports whether the 8 bytes of w are all printable ASCII other
// than '"', '\\' and DEL: bytes Quote copies as they are.
func plain8(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	// A byte is flagged when it is below 0x20, equal to '"', '\\' or 0x7f,
	// or has its top bit set (bytes of multi-byte runes take the slow path).
	lt := (w - lo*0x20) &^ w
	q := w ^ lo*'"'
	bs := w ^ lo*'\\'
	del := w ^ lo*0x7f
	eq := (q-lo)&^q | (bs-lo)&^bs | (del-lo)&^del
	return (lt|eq|w)&hi == 0
}

// validRuneLen returns the length of the valid UTF-8 sequence at the start of
// s (whose first byte is not ASCII), or 0 when it is invalid.
func validRuneLen[T string | []byte](s T) int {
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], s)
	r, size := utf8.DecodeRune(buf[:n])
	if r == utf8.RuneError && size <= 1 {
		return 0
	}
	return size
}

// Tags appends each tag of s as a member "<key>_0" (client side) or
// "<key>_1" (server side), in the order they were added.
func Tags(b []byte, s *tag.Set) []byte {
	for side, suffix := range [2]string{"_0", "_1"} {
		for _, t := range s.Side(tag.Side(side)) {
			b = append(b, ',')
			b = Quote(b, t.Key)
			b = append(b[:len(b)-1], suffix...) // inside the closing quote
			b = append(b, '"')
			b = append(b, ':')
			b = Quote(b, t.Value)
		}
	}
	return b
}

// AppendAddr appends a as netip.Addr.AppendTo does, IPv4 without its
// detour through a generic formatter.
func AppendAddr(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		if plain6(a) {
			return appendAddr6(b, a.As16())
		}
		return a.AppendTo(b)
	}
	return appendAddr4(b, a.As4())
}

// AppendAddrPort appends a and port as netip.AddrPort.AppendTo does.
func AppendAddrPort(b []byte, a netip.Addr, port uint16) []byte {
	if !a.Is4() {
		if plain6(a) {
			b = appendAddr6(append(b, '['), a.As16())
			return appendPort(append(b, ']'), port)
		}
		return netip.AddrPortFrom(a, port).AppendTo(b)
	}
	return appendPort(appendAddr4(b, a.As4()), port)
}
