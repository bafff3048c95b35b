package dubbo

// A hessian2 reader: just enough of the Hessian 2.0 serialization grammar
// (http://hessian.caucho.com/doc/hessian-serialization.html) to read the
// strings of a Dubbo invocation, skip any value (arguments, results), read
// a string-keyed map (attachments) and the class name and detailMessage of
// an exception object.

import "encoding/binary"

const (
	maxDepth      = 32 // nesting of lists, maps and objects
	maxClasses    = 64 // class definitions per message
	inlineClasses = 4  // class definitions the reader holds itself
)

// class is a hessian2 class definition seen in the current message.
type class struct {
	name   []byte
	fields int
	detail int // index of the field "detailMessage", -1 without one
}

// hreader reads hessian2 values from b. Reading past the end or meeting an
// unknown code sets bad, after which every read fails. Strings that are
// chunked are joined in arena, the Parser's scratch buffer.
//
// A reader lives on its caller's stack for one frame. It holds the first
// inlineClasses class definitions itself (a reply object, an exception
// with its cause) and asks its Parser for scratch only for more of them
// or for a chunked string, so that most frames need no scratch.
type hreader struct {
	b      []byte
	bad    bool
	depth  int
	ncls   int
	p      *Parser // lends the scratch; nil for a reader built alone
	inline [inlineClasses]class
	more   *[maxClasses]class // definitions from inlineClasses on; a reader built alone allocates one
	arena  []byte             // appended to; its capacity is fixed (nil until a chunked string, with p)
}

func (r *hreader) fail() { r.bad, r.b = true, nil }

func (r *hreader) byte1() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *hreader) take(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *hreader) peek() (byte, bool) {
	if r.bad || len(r.b) == 0 {
		return 0, false
	}
	return r.b[0], true
}

// utf8Len returns the number of bytes holding n UTF-16 code units of
// UTF-8 text at the start of b, or -1 when b is too short. A 4-byte
// sequence counts as two units (a surrogate pair, as Java counts it);
// Java's own encoder writes each surrogate as 3 bytes, counted one each.
// ASCII, one byte a unit, is passed over eight bytes at a time.
func utf8Len(b []byte, n int) int {
	if n <= len(b) && ascii(b, n) {
		return n
	}
	i := 0
	for n > 0 {
		if i >= len(b) {
			return -1
		}
		c := b[i]
		switch {
		case c < 0x80:
			i++
		case c&0xe0 == 0xc0:
			i += 2
		case c&0xf0 == 0xe0:
			i += 3
		default:
			i += 4
			n--
		}
		n--
	}
	if i > len(b) {
		return -1
	}
	return i
}

const hiBits = 0x8080808080808080

// ascii reports whether the first n bytes of b (n <= len(b)) are ASCII.
func ascii(b []byte, n int) bool {
	i := 0
	for ; i+8 <= n; i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&hiBits != 0 {
			return false
		}
	}
	switch {
	case i == n:
		return true
	case i+8 <= len(b): // a whole word, the bytes past n masked off
		return binary.LittleEndian.Uint64(b[i:])&hiBits&(1<<(8*(n-i))-1) == 0
	case n >= 8: // the last eight bytes, some seen already
		return binary.LittleEndian.Uint64(b[n-8:])&hiBits == 0
	}
	for ; i < n; i++ {
		if b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// chunk reads the text of one string chunk of n units.
func (r *hreader) chunk(n int) []byte {
	k := utf8Len(r.b, n)
	if k < 0 {
		r.fail()
		return nil
	}
	return r.take(k)
}

// str reads a string value. It returns ok false, consuming nothing, when
// the next value is not a string; null reads as (nil, true). A chunked
// string is joined in the arena (cut where the arena is full).
func (r *hreader) str() ([]byte, bool) {
	c, ok := r.peek()
	if !ok {
		return nil, false
	}
	if c == 'N' {
		r.b = r.b[1:]
		return nil, true
	}
	if !isString(c) {
		return nil, false
	}
	if c <= 0x1f { // the common short string, ASCII
		if n := int(c); n < len(r.b) && ascii(r.b[1:], n) {
			v := r.b[1 : 1+n : 1+n]
			r.b = r.b[1+n:]
			return v, true
		}
	}
	var out []byte
	joined := false
	for {
		c := r.byte1()
		var part []byte
		final := true
		switch {
		case c <= 0x1f:
			part = r.chunk(int(c))
		case c >= 0x30 && c <= 0x33:
			part = r.chunk(int(c-0x30)<<8 | int(r.byte1()))
		case c == 'S' || c == 'R':
			hi := r.byte1()
			part = r.chunk(int(hi)<<8 | int(r.byte1()))
			final = c == 'S'
		default:
			r.fail()
		}
		if r.bad {
			return nil, false
		}
		if final && !joined {
			return part, true
		}
		if !joined {
			joined = true
			if r.arena == nil && r.p != nil {
				r.arena = r.p.scratch().arena[:0]
			}
			start := len(r.arena)
			r.arena = appendCap(r.arena, part)
			out = r.arena[start:len(r.arena):len(r.arena)]
		} else {
			start := len(r.arena) - len(out)
			r.arena = appendCap(r.arena, part)
			out = r.arena[start:len(r.arena):len(r.arena)]
		}
		if final {
			return out, true
		}
		if c, ok := r.peek(); !ok || !isString(c) {
			r.fail()
			return nil, false
		}
	}
}

// appendCap appends what fits of p to b without growing b.
func appendCap(b, p []byte) []byte {
	return append(b, p[:min(len(p), cap(b)-len(b))]...)
}

func isString(c byte) bool {
	return c <= 0x1f || c >= 0x30 && c <= 0x33 || c == 'S' || c == 'R'
}

// int reads an int or long value.
func (r *hreader) int() (int64, bool) {
	c := r.byte1()
	switch {
	case r.bad:
		return 0, false
	case c >= 0x80 && c <= 0xbf:
		return int64(c) - 0x90, true
	case c >= 0xc0 && c <= 0xcf:
		return (int64(c)-0xc8)<<8 | int64(r.byte1()), !r.bad
	case c >= 0xd0 && c <= 0xd7:
		b := r.take(2)
		if r.bad {
			return 0, false
		}
		return (int64(c)-0xd4)<<16 | int64(b[0])<<8 | int64(b[1]), true
	case c == 'I' || c == 'Y':
		b := r.take(4)
		if r.bad {
			return 0, false
		}
		return int64(int32(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))), true
	case c >= 0xd8 && c <= 0xef:
		return int64(c) - 0xe0, true
	case c >= 0xf0:
		return (int64(c)-0xf8)<<8 | int64(r.byte1()), !r.bad
	case c >= 0x38 && c <= 0x3f:
		b := r.take(2)
		if r.bad {
			return 0, false
		}
		return (int64(c)-0x3c)<<16 | int64(b[0])<<8 | int64(b[1]), true
	case c == 'L':
		b := r.take(8)
		if r.bad {
			return 0, false
		}
		var v uint64
		for _, x := range b {
			v = v<<8 | uint64(x)
		}
		return int64(v), true
	}
	r.fail()
	return 0, false
}

// count reads the length of a fixed-length list; a length the remaining
// bytes cannot hold (every value takes one byte at least) fails.
func (r *hreader) count() int {
	n, ok := r.int()
	if !ok || n < 0 || n > int64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// typ skips the type of a typed list or map: a string or a type reference
// (an int).
func (r *hreader) typ() {
	if c, ok := r.peek(); ok && isString(c) {
		r.str()
		return
	}
	r.int()
}

// classDef reads a class definition after its 'C'.
func (r *hreader) classDef() {
	name, ok := r.str()
	if !ok {
		r.fail()
		return
	}
	n := r.count()
	cl := class{name: name, fields: n, detail: -1}
	for i := 0; i < n && !r.bad; i++ {
		f, ok := r.str()
		if !ok {
			r.fail()
			return
		}
		if string(f) == "detailMessage" {
			cl.detail = i
		}
	}
	if r.ncls >= maxClasses {
		r.fail()
		return
	}
	if r.ncls < inlineClasses {
		r.inline[r.ncls] = cl
		r.ncls++
		return
	}
	if r.more == nil {
		if r.p != nil {
			sc := r.p.scratch()
			r.more = &sc.classes
		} else {
			r.more = new([maxClasses]class)
		}
	}
	r.more[r.ncls] = cl
	r.ncls++
	if r.p != nil {
		r.p.ncls = max(r.p.ncls, uint8(r.ncls)) // ncls <= maxClasses
	}
}

// object reads the class index of an object after its first byte c
// ('O' or 0x60-0x6f) and returns its definition.
func (r *hreader) object(c byte) *class {
	idx := int64(c) - 0x60
	if c == 'O' {
		var ok bool
		if idx, ok = r.int(); !ok {
			return nil
		}
	}
	if idx < 0 || idx >= int64(r.ncls) {
		r.fail()
		return nil
	}
	if idx < inlineClasses {
		return &r.inline[idx]
	}
	return &r.more[idx]
}

// skip skips one value, with the class definitions before it.
func (r *hreader) skip() {
	if r.depth >= maxDepth {
		r.fail()
		return
	}
	r.depth++
	r.value()
	r.depth--
}

// value skips one value for skip, which keeps the depth.
func (r *hreader) value() {
	for !r.bad {
		c, ok := r.peek()
		if !ok {
			r.fail()
			return
		}
		switch {
		case c == 'C':
			r.b = r.b[1:]
			r.classDef()
			continue // the value follows
		case isString(c):
			r.str()
		case c == 'N' || c == 'T' || c == 'F' || c == 0x5b || c == 0x5c:
			r.b = r.b[1:]
		case c >= 0x80 && c <= 0xbf, c >= 0xc0 && c <= 0xcf, c >= 0xd0 && c <= 0xd7, c == 'I', c == 'Y',
			c >= 0xd8, c >= 0x38 && c <= 0x3f, c == 'L':
			r.int()
		case c == 0x5d:
			r.take(2)
		case c == 0x5e:
			r.take(3)
		case c == 0x5f || c == 0x4b:
			r.take(5)
		case c == 'D' || c == 0x4a:
			r.take(9)
		case c >= 0x20 && c <= 0x2f: // short binary
			r.take(1 + int(c-0x20))
		case c >= 0x34 && c <= 0x37:
			r.b = r.b[1:]
			r.take(int(c-0x34)<<8 | int(r.byte1()))
		case c == 'B' || c == 'A':
			for !r.bad {
				c := r.byte1()
				hi := r.byte1()
				r.take(int(hi)<<8 | int(r.byte1()))
				if c == 'B' {
					break
				}
				n, ok := r.peek()
				switch {
				case !ok:
					r.fail()
				case n >= 0x20 && n <= 0x2f, n >= 0x34 && n <= 0x37:
					r.skip() // a short final chunk
					return
				case n != 'A' && n != 'B':
					r.fail()
				}
			}
		case c == 'Q': // reference
			r.b = r.b[1:]
			r.int()
		case c == 'U' || c == 'W': // variable-length list
			r.b = r.b[1:]
			if c == 'U' {
				r.typ()
			}
			r.until()
		case c == 'V' || c == 'X': // fixed-length list
			r.b = r.b[1:]
			if c == 'V' {
				r.typ()
			}
			n := r.count()
			for i := 0; i < n && !r.bad; i++ {
				r.skip()
			}
		case c >= 0x70 && c <= 0x7f: // short fixed-length list
			r.b = r.b[1:]
			if c < 0x78 {
				r.typ()
				c -= 0x70
			} else {
				c -= 0x78
			}
			for i := 0; i < int(c) && !r.bad; i++ {
				r.skip()
			}
		case c == 'M' || c == 'H':
			r.b = r.b[1:]
			if c == 'M' {
				r.typ()
			}
			r.until()
		case c == 'O' || c >= 0x60 && c <= 0x6f:
			r.b = r.b[1:]
			if cl := r.object(c); cl != nil {
				for i := 0; i < cl.fields && !r.bad; i++ {
					r.skip()
				}
			}
		default:
			r.fail()
		}
		return
	}
}

// until skips values up to and including the 'Z' that ends a list or map.
func (r *hreader) until() {
	for !r.bad {
		if c, ok := r.peek(); ok && c == 'Z' {
			r.b = r.b[1:]
			return
		}
		r.skip()
	}
}

// mapStrings calls fn with each entry of a map whose key and value are
// strings (others are skipped). A null reads as an empty map.
func (r *hreader) mapStrings(fn func(k, v []byte)) {
	c, ok := r.peek()
	if !ok {
		return
	}
	switch c {
	case 'N':
		r.b = r.b[1:]
		return
	case 'H':
		r.b = r.b[1:]
	case 'M':
		r.b = r.b[1:]
		r.typ()
	default:
		r.fail()
		return
	}
	for !r.bad {
		if c, ok := r.peek(); ok && c == 'Z' {
			r.b = r.b[1:]
			return
		}
		k, kok := r.str()
		if !kok {
			r.skip()
		}
		v, vok := r.str()
		if !vok {
			r.skip()
		}
		if kok && vok && !r.bad {
			fn(k, v)
		}
	}
}

// exception reads an exception object and returns its class name and its
// detailMessage (either may be nil).
func (r *hreader) exception() (name, detail []byte) {
	for !r.bad {
		c, ok := r.peek()
		if !ok {
			return nil, nil
		}
		if c == 'C' {
			r.b = r.b[1:]
			r.classDef()
			continue
		}
		if c != 'O' && (c < 0x60 || c > 0x6f) {
			r.skip()
			return nil, nil
		}
		r.b = r.b[1:]
		cl := r.object(c)
		if cl == nil {
			return nil, nil
		}
		name = cl.name
		for i := 0; i < cl.fields && !r.bad; i++ {
			if i == cl.detail {
				if s, ok := r.str(); ok {
					detail = s
					continue
				}
			}
			r.skip()
		}
		return name, detail
	}
	return nil, nil
}
