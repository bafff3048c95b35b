package http2

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"sync"
)

// This file is an HPACK decoder (RFC 7541) for a passive observer. It
// differs from golang.org/x/net/http2/hpack.Decoder in what an observer
// needs:
//   - A reference to a dynamic table entry the observer never saw (the
//     connection was joined mid-stream, or bytes were lost) is reported as
//     an unknown field and decoding goes on, instead of failing the block:
//     literals after it are still decoded, and the entries inserted since
//     the join are exact, because the dynamic table indexes from the newest
//     entry.
//   - Names and values are byte slices into the block, the table or a
//     reused scratch buffer: no allocation in steady state.

// errHPACK means a header block breaks HPACK's grammar.
var errHPACK = errors.New("http2: malformed HPACK block")

// fieldSink receives the fields of a block in order, but for those whose
// name it does not want. name is nil when it is unknown (an entry the
// observer never saw); value is nil when the whole field is unknown, or
// when wants said no for nil. name is valid only during the call; value
// until the next block is decoded, as long as the block's bytes are (it
// is in the block, the static table or the decoder's scratch: a dynamic
// table entry's value is passed as a copy, since a later insertion may
// overwrite the entry).
type fieldSink interface {
	field(name, value []byte)
	// wants reports whether the sink needs the values of fields named
	// name (nil: of fields whose name is unknown), in this block or any
	// later one. A value the sink does not need is neither
	// Huffman-decoded nor kept in the dynamic table: only its length is
	// (RFC 7541's table size counts it).
	wants(name []byte) bool
}

// hent is one dynamic table entry, its bytes at ring[off:off+e.stored()]:
// the name's nlen, then the value's vlen unless noValue.
type hent struct {
	off, nlen, vlen uint32
	noName          bool  // inserted from a literal whose name was unknown
	noValue         bool  // the value's bytes are not kept (no sink wants them; vlen > 0)
	static          uint8 // the static table entry whose name it has (packed without the name), or 0
	back            uint8 // the entry this many before has the same name (0: none, or not known)
}

// stored returns the number of bytes e keeps in the ring.
func (e *hent) stored() uint32 {
	if e.noValue {
		return e.nlen
	}
	return e.nlen + e.vlen
}

// hring is a dynamic table laid out for lookups and insertions: the
// entries' bytes in a FIFO laid out as a bip buffer (ring, 2*eff bytes for
// a table of eff), and the entries in a ring, oldest at head. Rings are
// pooled by size (hringPools): a decoder holds one only while its
// connection is busy.
type hring struct {
	ring     []byte
	wr       int // next write offset in ring
	ents     []hent
	head     int
	capacity int32 // the table size it is laid out for: len(ring)/2
}

// hpackDecoder is one direction's decoding context. Its dynamic table is
// in one of two layouts: in an hring (w) while the connection is busy, or,
// once idle, packed: the entries' bytes and lengths in one exact slice,
// which the next header block lays out in an hring again.
type hpackDecoder struct {
	w      *hring // the table laid out for use, nil while packed
	packed []byte // the entries packed when the table was last packed, oldest first (hring.pack)
	// packedN is the number of packed entries still in the table: the
	// newest packedN of packed are its oldest (evictions took the
	// others). The next pack drops the evicted ones from packed and
	// appends the entries inserted since, instead of packing the whole
	// table again.
	packedN uint16

	n       uint16 // entries (at most maxLimit/32+1)
	size    int32  // table size as RFC 7541 counts it (bytes + 32 per entry)
	maxSize int32  // current limit, from size updates (default 4096)
}

// byteSink holds the Huffman-decoded strings and copied names of the
// block being decoded, valid until the next block.
type byteSink struct{ b []byte }

const defaultTableSize = 4096

// init makes d a new decoder keeping at most limit bytes of table
// (Config.MaxTableSize).
func (d *hpackDecoder) init(limit int) {
	d.maxSize = int32(min(defaultTableSize, limit))
}

// forget drops every entry: bytes of this direction were lost, so later
// references to older entries are unknown.
func (d *hpackDecoder) forget() {
	d.n, d.size = 0, 0
	if d.w != nil {
		d.w.head, d.w.wr = 0, 0
	}
	d.packed, d.packedN = nil, 0
}

// decode decodes block, passing each field to s; sc holds the decoded
// strings; limit is the most the table keeps (Config.MaxTableSize, as
// init had it). It returns the number of fields that referred to entries
// never seen. On a grammar error it stops, forgets the table (its state is
// no longer known) and returns errHPACK; the fields before the error were
// passed.
func (d *hpackDecoder) decode(block []byte, s fieldSink, sc *byteSink, limit int) (unknown uint64, err error) {
	sc.b = sc.b[:0]
	if d.w == nil && d.n > 0 {
		d.layout(d.size)
	}
	b := block
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed field
			idx, rest, ok := readInt(b, 7)
			if !ok || idx == 0 {
				return unknown, d.fail()
			}
			b = rest
			name, value, known, noName := d.at(idx)
			switch {
			case !known:
				unknown++
				s.field(nil, nil)
			case noName:
				s.field(nil, value)
			case value != nil: // nil: an entry whose value the sink did not want
				if idx > uint64(len(staticTable)) {
					start := len(sc.b)
					sc.b = append(sc.b, value...)
					value = sc.b[start:len(sc.b):len(sc.b)]
				}
				s.field(name, value)
			}
		case c&0xe0 == 0x20: // dynamic table size update
			size, rest, ok := readInt(b, 5)
			if !ok {
				return unknown, d.fail()
			}
			b = rest
			d.setMaxSize(size, limit)
		default:
			prefix := uint8(4) // without indexing, never indexed
			index := c&0xc0 == 0x40
			if index {
				prefix = 6
			}
			idx, rest, ok := readInt(b, prefix)
			if !ok {
				return unknown, d.fail()
			}
			b = rest
			var name []byte
			noName := false
			static, back := uint8(0), uint8(0)
			if idx == 0 {
				name, b, ok = readString(b, sc)
				if !ok {
					return unknown, d.fail()
				}
			} else {
				n, _, known, nn := d.at(idx)
				if !known || nn {
					noName = true
					if !known {
						unknown++
					}
				} else if idx > uint64(len(staticTable)) {
					// The entry may be evicted by this very
					// literal's insertion: keep a copy. An entry
					// inserted with this name will name the
					// static entry it names, or it.
					start := len(sc.b)
					sc.b = append(sc.b, n...)
					name = sc.b[start:]
					k := idx - uint64(len(staticTable)) // 1: the newest
					if static = d.w.ent(int(d.n) - int(k)).static; static == 0 && k <= maxNameBack {
						back = uint8(k)
					}
				} else {
					name, static = n, uint8(idx)
				}
			}
			// The value of a field that the sink does not want is
			// only measured: it is never needed, from this block or
			// from the table.
			var value []byte
			vlen := 0
			if !s.wants(name) { // name is nil when noName
				vlen, b, ok = stringLen(b)
			} else {
				value, b, ok = readString(b, sc)
				vlen = len(value)
			}
			if !ok {
				return unknown, d.fail()
			}
			if noName {
				s.field(nil, value)
			} else if value != nil {
				s.field(name, value)
			}
			if index {
				d.insert(name, value, vlen, noName, static, back)
			}
		}
	}
	return unknown, nil
}

func (d *hpackDecoder) fail() error {
	d.forget()
	return errHPACK
}

// at returns the entry at HPACK index idx (1-based, static first). The
// table is laid out (decode does it first).
func (d *hpackDecoder) at(idx uint64) (name, value []byte, known, noName bool) {
	if idx <= uint64(len(staticTable)) {
		e := &staticTable[idx-1]
		return staticBytes[e.no : e.no+e.nl], staticBytes[e.vo : e.vo+e.vl], true, false
	}
	k := idx - uint64(len(staticTable)) - 1
	if k >= uint64(d.n) {
		return nil, nil, false, false
	}
	w := d.w
	e := w.ent(int(d.n) - 1 - int(k))
	b := w.ring[e.off : e.off+e.stored()]
	if e.noValue {
		return b, nil, true, e.noName
	}
	return b[:e.nlen], b[e.nlen:], true, e.noName
}

// readString reads a string literal (RFC 7541, 5.2); a Huffman-coded one
// is decoded into sc.
func readString(b []byte, sc *byteSink) (s, rest []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, false
	}
	huff := b[0]&0x80 != 0
	n, rest, ok := readInt(b, 7)
	if !ok || n > uint64(len(rest)) {
		return nil, nil, false
	}
	raw := rest[:n]
	rest = rest[n:]
	if !huff {
		return raw, rest, true
	}
	start := len(sc.b)
	sc.b, ok = huffmanDecode(sc.b, raw)
	if !ok {
		return nil, nil, false
	}
	return sc.b[start:], rest, true
}

// stringLen reads a string literal as readString does, returning the
// length of its (decoded) string only.
func stringLen(b []byte) (n int, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	huff := b[0]&0x80 != 0
	l, rest, ok := readInt(b, 7)
	if !ok || l > uint64(len(rest)) {
		return 0, nil, false
	}
	if !huff {
		return int(l), rest[l:], true
	}
	n, ok = huffmanLen(rest[:l])
	return n, rest[l:], ok
}

// setMaxSize applies a dynamic table size update, bounded by limit.
func (d *hpackDecoder) setMaxSize(size uint64, limit int) {
	if size > uint64(limit) {
		// Entries beyond the limit are dropped early: references to
		// them come out unknown, never wrong.
		size = uint64(limit)
	}
	d.maxSize = int32(size)
	d.evict(0)
}

// evict drops the oldest entries until need more bytes fit.
func (d *hpackDecoder) evict(need int32) {
	for d.n > 0 && d.size+need > d.maxSize {
		w := d.w
		e := &w.ents[w.head]
		d.size -= int32(e.nlen+e.vlen) + 32
		if w.head++; w.head == len(w.ents) {
			w.head = 0
		}
		d.n--
		if d.packedN > 0 {
			d.packedN--
		}
	}
	if d.n == 0 {
		d.size = 0
		if d.w != nil {
			d.w.head, d.w.wr = 0, 0
		}
	}
}

// insert adds an entry whose value is vlen bytes long: value, or, when
// value is nil, bytes not kept. static is the static table entry whose
// name it has, or 0; back, when not 0, says that the entry back places
// before it has the same name.
// name and value must not alias the ring.
func (d *hpackDecoder) insert(name, value []byte, vlen int, noName bool, static, back uint8) {
	sz := int32(len(name) + vlen + 32)
	if sz > d.maxSize {
		d.forgetKnown()
		return
	}
	d.evict(sz)
	if d.w == nil || d.size+sz > d.w.capacity {
		// Lay the rings out for what the table holds, doubling up to
		// maxSize: most connections never fill the 4 KiB a peer allows.
		e := int32(minEff)
		if d.w != nil {
			e = max(d.w.capacity, e)
		}
		for e < d.size+sz {
			e *= 2
		}
		d.layout(min(e, d.maxSize))
	}
	w := d.w
	need := len(name) + len(value)
	// Bip buffer: live bytes plus need never exceed the capacity (size
	// counts 32 more per entry), and the ring holds twice it, so a contiguous
	// run of need bytes is free either at wr or, when the live bytes do
	// not wrap yet, at 0.
	wrapped := d.n > 0 && int(w.ents[w.head].off) > w.wr
	if !wrapped && w.wr+need > len(w.ring) {
		w.wr = 0
	}
	off := w.wr
	copy(w.ring[off:], name)
	copy(w.ring[off+len(name):], value)
	w.wr += need
	*w.ent(int(d.n)) = hent{off: uint32(off), nlen: uint32(len(name)), vlen: uint32(vlen), noName: noName,
		noValue: value == nil && vlen > 0, static: static, back: back}
	d.n++
	d.size += sz
}

// forgetKnown empties the table as RFC 7541 4.4 does for an entry larger
// than the table.
func (d *hpackDecoder) forgetKnown() { d.forget() }

// minEff is the smallest table the rings are laid out for.
const minEff = 512

// hringPools hold the rings of idle tables by size class: class c is laid
// out for a table of minEff<<c bytes, up to maxLimit.
var hringPools [hringClasses]sync.Pool

const hringClasses = 12 // minEff<<11 == maxLimit

func hringClass(size int32) int { return bits.Len32(uint32(max(size, 1)-1) >> 9) }

// getHring returns an empty ring laid out for a table of at least size
// bytes.
func getHring(size int32) *hring {
	c := hringClass(size)
	if w, ok := hringPools[c].Get().(*hring); ok {
		return w
	}
	e := minEff << c
	return &hring{ring: make([]byte, 2*e), ents: make([]hent, e/32+1), capacity: int32(e)}
}

func putHring(w *hring) {
	w.head, w.wr = 0, 0
	hringPools[hringClass(w.capacity)].Put(w)
}

// layout lays the table out in a ring for a table of at least size bytes
// (RFC 7541's count), from the ring in use or from the packed entries, and
// gives the ring in use back.
func (d *hpackDecoder) layout(size int32) {
	nw := getHring(size)
	if old := d.w; old != nil {
		for i := 0; i < int(d.n); i++ {
			e := *old.ent(i)
			l := int(e.stored())
			copy(nw.ring[nw.wr:], old.ring[e.off:int(e.off)+l])
			e.off = uint32(nw.wr)
			nw.ents[i] = e
			nw.wr += l
		}
		putHring(old)
	} else {
		nw.unpack(d.packed, int(d.n))
	}
	d.w = nw
}

// idle packs the table and gives its ring back (the connection is idle).
// The entries evicted since the table was last packed are dropped from
// the packed ones and the entries inserted since are appended (a table
// that did not change costs nothing), unless an entry left names an
// evicted one (nameBack): then the table is packed afresh. The packed
// slice keeps its memory while it fits the entries closely, so that a
// connection going idle again and again does not allocate.
func (d *hpackDecoder) idle() {
	w := d.w
	if w == nil {
		return
	}
	from := int(d.packedN)
	if drop := packedCount(d.packed) - from; drop > 0 {
		if w.backEvicted(from) {
			from = 0
		} else {
			d.packed = dropPacked(d.packed, drop)
		}
	}
	if from == 0 {
		d.packed = d.packed[:0]
	}
	if from < int(d.n) || from == 0 {
		d.packed = w.pack(d.packed, from, int(d.n))
	}
	d.packedN = d.n
	d.w = nil
	putHring(w)
}

// backEvicted reports whether one of the oldest n entries names an entry
// evicted (nameBack).
func (w *hring) backEvicted(n int) bool {
	for i := range min(n, maxNameBack) {
		if int(w.ent(i).back) > i {
			return true
		}
	}
	return false
}

// packedCount returns the number of entries in p, a packed table.
func packedCount(p []byte) int {
	if len(p) < 2 {
		return 0
	}
	return int(binary.LittleEndian.Uint16(p))
}

// dropPacked removes the oldest drop entries of p, a packed table whose
// other entries do not name them (nameBack), in place.
func dropPacked(p []byte, drop int) []byte {
	q := p[2:]
	for range drop {
		head, k := uvarint(q)
		vl, k2 := uvarint(q[k:])
		q = q[k+k2:]
		if head&3 == nameBytes || head&3 == nameUnknown {
			q = q[head>>2:]
		}
		if vl&1 == 0 {
			q = q[vl>>1:]
		}
	}
	n := copy(p[2:], q)
	p = p[:2+n]
	binary.LittleEndian.PutUint16(p, uint16(packedCount(p)-drop))
	return p
}

// release gives the ring back and drops the packed entries, keeping the
// packed slice's memory, the table's size and limits (Reset starts
// afresh after it).
func (d *hpackDecoder) release() {
	if d.w != nil {
		putHring(d.w)
		d.w = nil
	}
	d.packed, d.packedN = d.packed[:0], 0
}

// A packed entry is uvarint(head), uvarint(vlen<<1 | noValue), the name's
// bytes when head says they follow, and the value's unless noValue. The
// low two bits of head say how the name is given, the others a number.
const (
	nameBytes   = 0 // the name's length; its bytes follow
	nameUnknown = 1 // the name's length (0); the entry's name is unknown (hent.noName)
	nameStatic  = 2 // the static table entry whose name it is (hent.static)
	nameBack    = 3 // k: the name of the entry k before, among the last maxNameBack
)

const maxNameBack = 16

// ent returns the entry i places after the oldest, 0 <= i < len(w.ents).
func (w *hring) ent(i int) *hent {
	j := w.head + i
	if j >= len(w.ents) {
		j -= len(w.ents)
	}
	return &w.ents[j]
}

// packHead returns the head of entry e and whether its name's bytes
// follow it.
func packHead(e *hent) (uint64, bool) {
	switch {
	case e.static != 0:
		return uint64(e.static)<<2 | nameStatic, false
	case e.noName:
		return uint64(e.nlen)<<2 | nameUnknown, true
	case e.back != 0:
		return uint64(e.back)<<2 | nameBack, false
	}
	return uint64(e.nlen)<<2 | nameBytes, true
}

// pack appends entries from to n-1 of w (0: the oldest), packed, to p,
// which holds the entries before from (none: empty): in p's memory when
// they fit it and it is not much larger than they need, else in a new
// slice of about the size they need. It returns nil for no entries. A
// packed table is the number of entries (16 bits, little-endian), then
// the entries.
func (w *hring) pack(p []byte, from, n int) []byte {
	if n == 0 {
		return nil
	}
	need := max(len(p), 2)
	for i := from; i < n; i++ {
		e := w.ent(i)
		if int(e.back) > i {
			e.back = 0 // the entry with the same name was evicted
		}
		h, lit := packHead(e)
		need += uvarintLen(h) + uvarintLen(packValue(e)) + int(e.stored())
		if !lit {
			need -= int(e.nlen)
		}
	}
	if cap(p) < need || cap(p) > max(need+need/4+16, minPackedCap) {
		// The malloc size class the slice takes anyway, so that a few
		// entries inserted later may fit it.
		q := slices.Grow([]byte(nil), need)
		p = append(q, p...)
	}
	if len(p) == 0 {
		p = append(p, 0, 0)
	}
	binary.LittleEndian.PutUint16(p, uint16(n))
	for i := from; i < n; i++ {
		e := w.ent(i)
		h, lit := packHead(e)
		b := w.ring[e.off : e.off+e.stored()]
		p = binary.AppendUvarint(p, h)
		p = binary.AppendUvarint(p, packValue(e))
		if !lit {
			b = b[e.nlen:]
		}
		p = append(p, b...)
	}
	return p
}

// minPackedCap is the capacity of a packed slice kept whatever it holds: a
// parser reused for another connection (Reset) packs its tables into the
// memory of the earlier connection's.
const minPackedCap = 256

// packValue returns the uvarint that gives e's value length.
func packValue(e *hent) uint64 {
	v := uint64(e.vlen) << 1
	if e.noValue {
		v |= 1
	}
	return v
}

// unpack lays the n entries that pack wrote in p out in w, which is empty
// and laid out for them.
func (w *hring) unpack(p []byte, n int) {
	if n == 0 {
		return
	}
	p = p[2:]
	for i := range n {
		head, k := uvarint(p)
		vl, k2 := uvarint(p[k:])
		p = p[k+k2:]
		e := hent{off: uint32(w.wr), vlen: uint32(vl >> 1), noValue: vl&1 != 0}
		dst := w.ring[w.wr:]
		switch head & 3 {
		case nameStatic:
			se := &staticTable[head>>2-1]
			e.static, e.nlen = uint8(head>>2), uint32(se.nl)
			copy(dst, staticBytes[se.no:se.no+se.nl])
		case nameBack:
			e.back = uint8(head >> 2)
			o := &w.ents[i-int(e.back)]
			e.nlen = o.nlen
			copy(dst, w.ring[o.off:o.off+o.nlen])
		default:
			e.nlen, e.noName = uint32(head>>2), head&3 == nameUnknown
			copy(dst, p[:e.nlen])
			p = p[e.nlen:]
		}
		if !e.noValue {
			copy(dst[e.nlen:], p[:e.vlen])
			p = p[e.vlen:]
		}
		w.ents[i] = e
		w.wr += int(e.stored())
	}
}

// uvarint reads a uvarint that binary.AppendUvarint wrote, one byte long
// most of the time.
func uvarint(p []byte) (uint64, int) {
	if p[0] < 0x80 {
		return uint64(p[0]), 1
	}
	return binary.Uvarint(p)
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// readInt reads an HPACK integer with an n-bit prefix (RFC 7541, 5.1).
// Values above 2^32 are rejected.
func readInt(b []byte, n uint8) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	mask := uint64(1)<<n - 1
	v := uint64(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, true
	}
	var m uint
	for i, c := range b {
		v += uint64(c&0x7f) << m
		if v > 1<<32 {
			return 0, nil, false
		}
		if c&0x80 == 0 {
			return v, b[i+1:], true
		}
		m += 7
		if m > 35 {
			return 0, nil, false
		}
	}
	return 0, nil, false
}

// staticEntry locates a static table entry in staticBytes.
type staticEntry struct{ no, nl, vo, vl uint16 }

// The static table (RFC 7541, Appendix A), as offsets into one byte slice
// so that fields from it need no conversion.
var staticBytes, staticTable = buildStatic([...][2]string{
	{":authority", ""},
	{":method", "GET"},
	{":method", "POST"},
	{":path", "/"},
	{":path", "/index.html"},
	{":scheme", "http"},
	{":scheme", "https"},
	{":status", "200"},
	{":status", "204"},
	{":status", "206"},
	{":status", "304"},
	{":status", "400"},
	{":status", "404"},
	{":status", "500"},
	{"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"},
	{"accept-language", ""},
	{"accept-ranges", ""},
	{"accept", ""},
	{"access-control-allow-origin", ""},
	{"age", ""},
	{"allow", ""},
	{"authorization", ""},
	{"cache-control", ""},
	{"content-disposition", ""},
	{"content-encoding", ""},
	{"content-language", ""},
	{"content-length", ""},
	{"content-location", ""},
	{"content-range", ""},
	{"content-type", ""},
	{"cookie", ""},
	{"date", ""},
	{"etag", ""},
	{"expect", ""},
	{"expires", ""},
	{"from", ""},
	{"host", ""},
	{"if-match", ""},
	{"if-modified-since", ""},
	{"if-none-match", ""},
	{"if-range", ""},
	{"if-unmodified-since", ""},
	{"last-modified", ""},
	{"link", ""},
	{"location", ""},
	{"max-forwards", ""},
	{"proxy-authenticate", ""},
	{"proxy-authorization", ""},
	{"range", ""},
	{"referer", ""},
	{"refresh", ""},
	{"retry-after", ""},
	{"server", ""},
	{"set-cookie", ""},
	{"strict-transport-security", ""},
	{"transfer-encoding", ""},
	{"user-agent", ""},
	{"vary", ""},
	{"via", ""},
	{"www-authenticate", ""},
})

func buildStatic(t [61][2]string) ([]byte, []staticEntry) {
	var b []byte
	ents := make([]staticEntry, len(t))
	for i, f := range t {
		ents[i].no, ents[i].nl = uint16(len(b)), uint16(len(f[0]))
		b = append(b, f[0]...)
		ents[i].vo, ents[i].vl = uint16(len(b)), uint16(len(f[1]))
		b = append(b, f[1]...)
	}
	return b, ents
}
