package kafka

import "encoding/binary"

// reader reads Kafka primitives from a message body that may be cut short
// (the parser looks at a bounded prefix). The first read past the end or
// of an impossible value sets bad; every read after that returns zero
// values, so that a decoding function can read on and check bad once.
type reader struct {
	b    []byte
	off  int
	flex bool // compact strings and arrays, tagged fields
	bad  bool
}

func (r *reader) need(n int) bool {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
		return false
	}
	return true
}

func (r *reader) skip(n int) {
	if r.need(n) {
		r.off += n
	}
}

func (r *reader) int8() int8 {
	if !r.need(1) {
		return 0
	}
	v := int8(r.b[r.off])
	r.off++
	return v
}

func (r *reader) int16() int16 {
	if !r.need(2) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b[r.off:]))
	r.off += 2
	return v
}

func (r *reader) int32() int32 {
	if !r.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v
}

func (r *reader) int64() int64 {
	if !r.need(8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

// uvarint reads an unsigned varint of at most 5 bytes (a 32-bit value).
func (r *reader) uvarint() uint32 {
	var v uint32
	for i := 0; i < 5; i++ {
		if !r.need(1) {
			return 0
		}
		c := r.b[r.off]
		r.off++
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
	r.bad = true
	return 0
}

// varint reads a zigzag-encoded signed varint of at most 10 bytes, as
// record batches use.
func (r *reader) varint() int64 {
	var v uint64
	for i := 0; i < 10; i++ {
		if !r.need(1) {
			return 0
		}
		c := r.b[r.off]
		r.off++
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(v>>1) ^ -int64(v&1)
		}
	}
	r.bad = true
	return 0
}

// length reads the length of a string or bytes: int16 (strings) or int32
// (bytes) in classic encoding, uvarint minus one in compact encoding. -1
// is null.
func (r *reader) length(wide bool) int {
	if r.flex {
		return int(r.uvarint()) - 1
	}
	if wide {
		return int(r.int32())
	}
	return int(r.int16())
}

// str reads a (nullable) string and returns its bytes, nil for null.
func (r *reader) str() []byte {
	n := r.length(false)
	if n < 0 {
		if n < -1 {
			r.bad = true
		}
		return nil
	}
	if !r.need(n) {
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// bytes reads (nullable) bytes. When fewer bytes are there than the
// length says, it returns those that are there, with full false, and
// leaves the reader at its end (bad).
func (r *reader) bytes() (b []byte, full bool) {
	n := r.length(true)
	if r.bad || n < -1 {
		r.bad = true
		return nil, false
	}
	if n == -1 {
		return nil, true
	}
	if n > len(r.b)-r.off {
		b = r.b[r.off:]
		r.off = len(r.b)
		r.bad = true
		return b, false
	}
	b = r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b, true
}

// array reads an array length; -1 is null (returned as 0). A length that
// cannot fit in what is left of the body even at one byte per element is
// taken as what is left, so that loops stay bounded on garbage.
func (r *reader) array() int {
	var n int
	if r.flex {
		n = int(r.uvarint()) - 1
	} else {
		n = int(r.int32())
	}
	if r.bad || n < 0 {
		if n < -1 {
			r.bad = true
		}
		return 0
	}
	return min(n, len(r.b)-r.off)
}

// tags skips a tagged-field section (flexible versions only).
func (r *reader) tags() {
	if !r.flex {
		return
	}
	n := int(r.uvarint())
	for i := 0; i < n && !r.bad; i++ {
		r.uvarint()
		r.skip(int(r.uvarint()))
	}
}

// uuid reads a 16-byte topic id.
func (r *reader) uuid() []byte {
	if !r.need(16) {
		return nil
	}
	u := r.b[r.off : r.off+16 : r.off+16]
	r.off += 16
	return u
}

// count reads an array length as written (not bounded by the bytes left);
// null is 0.
func (r *reader) count() int {
	var n int
	if r.flex {
		n = int(r.uvarint()) - 1
	} else {
		n = int(r.int32())
	}
	if r.bad || n < 0 {
		if n < -1 {
			r.bad = true
		}
		return 0
	}
	return n
}
