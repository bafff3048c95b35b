package jsonw

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync/atomic"
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
// what time.Time.AppendFormat writes, several times faster. The text up
// to the minute ("2006-01-02T15:04") comes from a small cache of recent
// minutes when it holds it: records written together mostly share it.
func AppendTime(b []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	min, s := sec/60, sec%60
	if s < 0 {
		min, s = min-1, s+60
	}
	b, n := extend(b, 30) // 2006-01-02T15:04:05.000000000Z
	t := b[n : n+30]
	e := &minutes[uint64(min)%uint64(len(minutes))]
	seq := e.seq.Load()
	w0, w1 := e.text[0].Load(), e.text[1].Load()
	if seq&1 != 0 || e.min.Load() != min || e.seq.Load() != seq || w0 == 0 {
		w0, w1 = minuteText(min)
		if seq&1 == 0 && e.seq.CompareAndSwap(seq, seq+1) {
			e.min.Store(min)
			e.text[0].Store(w0)
			e.text[1].Store(w1)
			e.seq.Store(seq + 2)
		}
	}
	binary.LittleEndian.PutUint64(t[0:], w0)
	binary.LittleEndian.PutUint64(t[8:], w1)
	f := uint64(frac)
	binary.LittleEndian.PutUint32(t[16:], uint32(pair(uint64(s)))<<8|':'|'.'<<24)
	t[20] = byte('0' + f/1e8)
	binary.LittleEndian.PutUint64(t[21:], digits8(f%1e8)|ascii8)
	t[29] = 'Z'
	return b
}

// minutes caches the text of recent minutes for AppendTime, direct-mapped
// by minute number. Each entry is a sequence lock: seq is odd while one
// writer fills it, and a reader uses it only when seq was even and
// unchanged around its reads. Entries are a cache line apart so that
// shards writing different minutes do not share one.
var minutes [64]struct {
	seq  atomic.Uint64
	min  atomic.Int64     // minute number: Unix seconds / 60
	text [2]atomic.Uint64 // "2006-01-02T15:04", little-endian; 0 when empty
	_    [32]byte
}

// minuteText returns "2006-01-02T15:04" of minute min (Unix seconds / 60)
// as two little-endian words.
func minuteText(min int64) (uint64, uint64) {
	days, hm := min/1440, min%1440
	if hm < 0 {
		days, hm = days-1, hm+1440
	}
	// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
	// z is positive across the int64 nanosecond range (years 1677 to
	// 2262), so the rest is unsigned: no sign fix-ups after divisions.
	z := uint64(days + 719468)
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
	h, mi := uint64(hm)/60, uint64(hm)%60
	// 2006-01- and 02T15:04
	w0 := uint64(pair(y/100)) | uint64(pair(y%100))<<16 | '-'<<32 | uint64(pair(m))<<40 | '-'<<56
	w1 := uint64(pair(d)) | 'T'<<16 | uint64(pair(h))<<24 | ':'<<40 | uint64(pair(mi))<<48
	return w0, w1
}

// pair returns the two ASCII digits of v (0 to 99) as a little-endian
// 16-bit word: the tens digit in the low byte.
func pair(v uint64) uint16 {
	return uint16(digits100[2*v]) | uint16(digits100[2*v+1])<<8
}

// ascii8 turns eight digit values into their ASCII digits.
const ascii8 = 0x30303030_30303030

// digits8 returns the eight decimal digits of v (below 1e8, leading zeros
// kept) as byte values 0 to 9 of a little-endian word (OR ascii8 for their
// text), the most significant digit in the low byte: two 4-digit halves in 32-bit lanes, split into 2-digit pairs in
// 16-bit lanes, then into digits in bytes, each step one multiplication
// for all lanes (q = x/100 as x*10486>>20 is exact below 10^4, x/10 as
// x*103>>10 below 100).
func digits8(v uint64) uint64 {
	x := v/10000 | v%10000<<32
	q := x * 10486 >> 20 & 0x0000007f_0000007f
	x = q | (x-q*100)<<16
	q = x * 103 >> 10 & 0x000f000f_000f000f
	return q | (x-q*10)<<8
}

const hexDigits = "0123456789abcdef"

// Quote appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func Quote[T string | []byte](b []byte, s T) []byte {
	i := plainLen(s)
	if i == len(s) {
		// Nothing to escape (most values): one copy between the quotes.
		b, l := extend(b, len(s)+2)
		b[l] = '"'
		copy(b[l+1:], s)
		b[len(b)-1] = '"'
		return b
	}
	return quote(append(b, '"'), s, i)
}

// plainLen returns the length of the prefix of s that Quote copies as it
// is: eight bytes at a time, the last eight (overlapping) at once too,
// and byte by byte in a string of fewer than eight.
func plainLen[T string | []byte](s T) int {
	i := 0
	if len(s) >= 8 {
		for ; i+8 <= len(s); i += 8 {
			if !plain8(load8(s[i : i+8])) {
				return i + plainTail(s[i:])
			}
		}
		if i == len(s) || plain8(load8(s[len(s)-8:])) {
			return len(s)
		}
	}
	return i + plainTail(s[i:])
}

// plainTail returns the length of the prefix of s that Quote copies as
// it is, byte by byte.
func plainTail[T string | []byte](s T) int {
	i := 0
	for i < len(s) && plainByte[s[i]] {
		i++
	}
	return i
}

// load8 returns the first eight bytes of s as a little-endian word.
func load8[T string | []byte](s T) uint64 {
	s = s[:8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainByte reports, for each byte, whether Quote copies it as it is:
// printable ASCII other than '"', '\\' and DEL.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// quote appends the rest of Quote's output for s, whose first i bytes
// need no escaping and have not been written, after the opening quote.
func quote[T string | []byte](b []byte, s T, i int) []byte {
	start := 0
	for i < len(s) {
		// Eight bytes at a time while none needs a look.
		for i+8 <= len(s) && plain8(load8(s[i:])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plainByte[c] {
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
