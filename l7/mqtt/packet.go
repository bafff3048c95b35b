package mqtt

import "unicode/utf8"

// Control packet types (the high nibble of the first byte).
const (
	tConnect     = 1
	tConnack     = 2
	tPublish     = 3
	tPuback      = 4
	tPubrec      = 5
	tPubrel      = 6
	tPubcomp     = 7
	tSubscribe   = 8
	tSuback      = 9
	tUnsubscribe = 10
	tUnsuback    = 11
	tPingreq     = 12
	tPingresp    = 13
	tDisconnect  = 14
	tAuth        = 15
)

// typeNames are the request_type values, by packet type.
var typeNames = [16]string{
	"", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// typeBytes are typeNames as byte slices, so that messages do not convert.
var typeBytes = func() (b [16][]byte) {
	for i, s := range typeNames {
		b[i] = []byte(s)
	}
	return b
}()

// Protocol levels of the CONNECT packet.
const (
	level31  = 3
	level311 = 4
	level5   = 5
)

var versionBytes = [6][]byte{level31: []byte("3.1"), level311: []byte("3.1.1"), level5: []byte("5")}

// maxRemaining is the largest remaining length four bytes encode.
const maxRemaining = 268435455

// header reads a fixed header. It returns the packet type, its flags, the
// remaining length and the header's size; hl is 0 when more bytes are
// needed and -1 when the length is malformed (a fifth length byte).
func header(b []byte) (typ, flags byte, rem, hl int) {
	if len(b) < 2 {
		return 0, 0, 0, 0
	}
	typ, flags = b[0]>>4, b[0]&0x0f
	mult := 1
	for i := 1; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, 0, 0
		}
		c := b[i]
		rem += int(c&0x7f) * mult
		if c&0x80 == 0 {
			return typ, flags, rem, i + 1
		}
		mult <<= 7
	}
	return 0, 0, 0, -1
}

// flagsOK reports whether the fixed header's flags are the ones the
// specification fixes for typ (PUBLISH's are free but for QoS 3).
func flagsOK(typ, flags byte) bool {
	switch typ {
	case 0:
		return false
	case tPublish:
		return flags&0x06 != 0x06
	case tPubrel, tSubscribe, tUnsubscribe:
		return flags == 0x02
	}
	return flags == 0
}

// reader reads fields from b with bounds checks; a read past the end sets
// bad and returns zero values.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u8() byte {
	if r.off >= len(r.b) {
		r.bad = true
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) u16() uint16 {
	if r.left() < 2 {
		r.bad = true
		r.off = len(r.b)
		return 0
	}
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v
}

// bytes returns the next n bytes.
func (r *reader) bytes(n int) []byte {
	if n < 0 || r.left() < n {
		r.bad = true
		r.off = len(r.b)
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// str returns a string or binary field: a 2-byte length and the bytes.
func (r *reader) str() []byte { return r.bytes(int(r.u16())) }

// varint reads a variable byte integer (at most four bytes).
func (r *reader) varint() int {
	v, mult := 0, 1
	for i := 0; i < 4; i++ {
		c := r.u8()
		if r.bad {
			return 0
		}
		v += int(c&0x7f) * mult
		if c&0x80 == 0 {
			return v
		}
		mult <<= 7
	}
	r.bad = true
	return 0
}

// Property identifiers (MQTT 5, section 2.2.2.2) used by the decoder.
const (
	propTopicAlias   = 0x23
	propUserProperty = 0x26
)

// propKinds gives the value type of each property identifier: 1 byte, 2
// two-byte integer, 4 four-byte integer, 'v' variable byte integer, 's'
// UTF-8 string or binary data, 'p' string pair; 0 is not a property.
var propKinds = [0x2b]byte{
	0x01: 1, 0x02: 4, 0x03: 's', 0x08: 's', 0x09: 's', 0x0b: 'v', 0x11: 4,
	0x12: 's', 0x13: 2, 0x15: 's', 0x16: 's', 0x17: 1, 0x18: 4, 0x19: 1,
	0x1a: 's', 0x1c: 's', 0x1f: 's', 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1,
	0x25: 1, 0x26: 'p', 0x27: 4, 0x28: 1, 0x29: 1, 0x2a: 1,
}

// propOut collects the properties the decoder uses.
type propOut struct {
	alias   int // topic alias, 0 when absent
	traces  [4][2][]byte
	ntraces int // user properties kept in traces (name, value)
}

// props walks an MQTT 5 property list (its length, then the properties).
// When out is not nil it keeps there the topic alias and the first user
// properties whose names are tracing headers (see tracing). It reports
// whether the list is well formed.
func props(r *reader, out *propOut) bool {
	n := r.varint()
	if r.bad || n > r.left() {
		r.bad = true
		return false
	}
	end := r.off + n
	pr := reader{b: r.b[:end], off: r.off}
	r.off = end
	for pr.off < end {
		id := pr.varint()
		if pr.bad || id <= 0 || id >= len(propKinds) || propKinds[id] == 0 {
			r.bad = true
			return false
		}
		switch propKinds[id] {
		case 1:
			pr.u8()
		case 2:
			v := pr.u16()
			if id == propTopicAlias && out != nil {
				out.alias = int(v)
			}
		case 4:
			pr.bytes(4)
		case 'v':
			pr.varint()
		case 's':
			pr.str()
		case 'p':
			k, v := pr.str(), pr.str()
			if out != nil && !pr.bad && out.ntraces < len(out.traces) && isTraceName(k) {
				out.traces[out.ntraces] = [2][]byte{k, v}
				out.ntraces++
			}
		}
		if pr.bad {
			r.bad = true
			return false
		}
	}
	return true
}

// topicOK reports whether a topic name is one Check and resynchronisation
// accept: valid UTF-8 without control characters or wildcards (wild is
// true for a topic filter, which may have them).
func topicOK(t []byte, wild bool) bool {
	if len(t) == 0 {
		return false
	}
	for i := 0; i < len(t); {
		c := t[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || (!wild && (c == '+' || c == '#')) {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(t[i:])
		if r == utf8.RuneError {
			return false
		}
		i += n
	}
	return true
}
