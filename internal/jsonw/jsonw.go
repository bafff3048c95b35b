package jsonw

import (
	"strconv"
	"time"
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
	return strconv.AppendUint(Key(b, key), v, 10)
}

// Int appends `,"key":v`.
func Int(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(Key(b, key), v, 10)
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

// AppendTime appends ns (Unix nanoseconds) in TimeLayout, UTC, unquoted.
func AppendTime(b []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(b, TimeLayout)
}

const hexDigits = "0123456789abcdef"

// Quote appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func Quote[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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
