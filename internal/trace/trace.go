package trace

import (
	"encoding/base64"

	"github.com/metaflow-go/metaflow/internal/ascii"
)

// IDs are the ids one header value carries; byte slices alias the value or
// the Buf passed to the function that returned them.
type IDs struct {
	TraceID, SpanID, ParentSpanID []byte
}

// Buf is caller-owned storage for ids that are decoded rather than sliced
// (sw8's base64). Its contents are valid until the next call using it.
type Buf struct {
	trace [64]byte
	span  [160]byte
}

// Kind is a tracing header name.
type Kind uint8

// Header kinds.
const (
	None           Kind = iota
	Traceparent         // traceparent
	SW8                 // sw8
	B3                  // b3
	B3TraceID           // X-B3-TraceId
	B3SpanID            // X-B3-SpanId
	B3ParentSpanID      // X-B3-ParentSpanId
	XRequestID          // X-Request-ID
)

// KindOf returns the kind of a header name, ignoring ASCII case; None for
// other names.
func KindOf(name []byte) Kind {
	switch len(name) {
	case 2:
		if ascii.EqualFoldLower(name, "b3") {
			return B3
		}
	case 3:
		if ascii.EqualFoldLower(name, "sw8") {
			return SW8
		}
	case 11:
		if ascii.EqualFoldLower(name, "traceparent") {
			return Traceparent
		}
		if ascii.EqualFoldLower(name, "x-b3-spanid") {
			return B3SpanID
		}
	case 12:
		if ascii.EqualFoldLower(name, "x-b3-traceid") {
			return B3TraceID
		}
		if ascii.EqualFoldLower(name, "x-request-id") {
			return XRequestID
		}
	case 17:
		if ascii.EqualFoldLower(name, "x-b3-parentspanid") {
			return B3ParentSpanID
		}
	}
	return None
}

// ParseTraceparent reads a W3C traceparent value
// "version-traceid-parentid-flags".
func ParseTraceparent(v []byte) (IDs, bool) {
	var f [4][]byte
	if splitN(v, '-', f[:]) != 4 || len(f[1]) != 32 || len(f[2]) != 16 ||
		!isHex(f[1]) || !isHex(f[2]) {
		return IDs{}, false
	}
	return IDs{TraceID: f[1], SpanID: f[2]}, true
}

// ParseSW8 reads a SkyWalking sw8 value
// "sample-traceId-segmentId-spanId-service-instance-endpoint-target", whose
// ids are base64, decoding into b. A value whose trace id decodes but whose
// segment or span id does not yields the trace id alone, ok true.
func ParseSW8(v []byte, b *Buf) (IDs, bool) {
	var f [8][]byte
	if splitN(v, '-', f[:]) < 4 {
		return IDs{}, false
	}
	enc := base64.StdEncoding
	if enc.DecodedLen(len(f[1])) > len(b.trace) {
		return IDs{}, false
	}
	n, err := enc.Decode(b.trace[:], f[1])
	if err != nil || n == 0 {
		return IDs{}, false
	}
	ids := IDs{TraceID: b.trace[:n]}
	if enc.DecodedLen(len(f[2]))+1+len(f[3]) > len(b.span) || !isDigits(f[3]) {
		return ids, true
	}
	k, err := enc.Decode(b.span[:], f[2])
	if err != nil || k == 0 {
		return ids, true
	}
	b.span[k] = '-'
	k++
	k += copy(b.span[k:], f[3])
	ids.SpanID = b.span[:k]
	return ids, true
}

// ParseB3 reads a single-header B3 value
// "traceid-spanid[-sampled[-parentspanid]]" (a lone sampling flag such as
// "0" carries no ids and yields ok false).
func ParseB3(v []byte) (IDs, bool) {
	var f [4][]byte
	n := splitN(v, '-', f[:])
	if n < 2 || !isB3ID(f[0], 32) || !isB3ID(f[1], 16) {
		return IDs{}, false
	}
	ids := IDs{TraceID: f[0], SpanID: f[1]}
	if n == 4 && isB3ID(f[3], 16) {
		ids.ParentSpanID = f[3]
	}
	return ids, true
}

// IsB3ID reports whether v is a B3 id: 16 or 32 lower-case or upper-case
// hex digits (a trace id may have either length, a span id 16).
func IsB3ID(v []byte) bool { return isB3ID(v, 32) }

func isB3ID(v []byte, max int) bool {
	return (len(v) == 16 || len(v) == max) && isHex(v)
}

// splitN splits b at sep into at most len(f) fields and returns how many
// it found; the last field keeps the rest.
func splitN(b []byte, sep byte, f [][]byte) int {
	n := 0
	for n < len(f)-1 {
		i := -1
		for j, c := range b {
			if c == sep {
				i = j
				break
			}
		}
		if i < 0 {
			break
		}
		f[n] = b[:i]
		b = b[i+1:]
		n++
	}
	f[n] = b
	return n + 1
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return len(b) > 0
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
