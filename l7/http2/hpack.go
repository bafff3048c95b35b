package http2

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// This file is an HPACK decoder (RFC 7541) for a passive observer. It
// differs from golang.org/x/net/http2/hpack.Decoder, whose Huffman decoder
// it uses, in what an observer needs:
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

// fieldSink receives the fields of a block in order. name is nil when it is
// unknown (an entry the observer never saw); value is nil when the whole
// field is unknown. The slices are valid only during the call.
type fieldSink interface {
	field(name, value []byte)
}

// hent is one dynamic table entry, its bytes at ring[off:off+nlen+vlen].
type hent struct {
	off, nlen, vlen uint32
	noName          bool // inserted from a literal whose name was unknown
}

// hpackDecoder is one direction's decoding context.
type hpackDecoder struct {
	ring    []byte // entry bytes, a FIFO laid out as a bip buffer of 2*eff
	wr      int    // next write offset in ring
	ents    []hent // entries, a ring: oldest at head
	head, n int
	size    int // table size as RFC 7541 counts it (bytes + 32 per entry)
	maxSize int // current limit, from size updates (default 4096)
	eff     int // the table size the ring and ents are laid out for (<= maxSize, grows on demand)
	limit   int // the most this decoder keeps (Config.MaxTableSize)

	scratch []byte // Huffman-decoded strings and names of the current block
	hw      scratchWriter

	unknown uint64 // fields that referenced entries never seen
}

// scratchWriter appends to the decoder's scratch buffer.
type scratchWriter struct{ d *hpackDecoder }

func (w *scratchWriter) Write(b []byte) (int, error) {
	w.d.scratch = append(w.d.scratch, b...)
	return len(b), nil
}

const defaultTableSize = 4096

func (d *hpackDecoder) init(limit int) {
	d.limit = limit
	d.maxSize = min(defaultTableSize, limit)
	d.hw.d = d
}

// forget drops every entry: bytes of this direction were lost, so later
// references to older entries are unknown.
func (d *hpackDecoder) forget() {
	d.head, d.n, d.size, d.wr = 0, 0, 0, 0
}

// decode decodes block, passing each field to s. On a grammar error it
// stops, forgets the table (its state is no longer known) and returns
// errHPACK; the fields before the error were passed.
func (d *hpackDecoder) decode(block []byte, s fieldSink) error {
	d.scratch = d.scratch[:0]
	b := block
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed field
			idx, rest, ok := readInt(b, 7)
			if !ok || idx == 0 {
				return d.fail()
			}
			b = rest
			name, value, known, noName := d.at(idx)
			switch {
			case !known:
				d.unknown++
				s.field(nil, nil)
			case noName:
				s.field(nil, value)
			default:
				s.field(name, value)
			}
		case c&0xe0 == 0x20: // dynamic table size update
			size, rest, ok := readInt(b, 5)
			if !ok {
				return d.fail()
			}
			b = rest
			d.setMaxSize(size)
		default:
			prefix := uint8(4) // without indexing, never indexed
			index := c&0xc0 == 0x40
			if index {
				prefix = 6
			}
			idx, rest, ok := readInt(b, prefix)
			if !ok {
				return d.fail()
			}
			b = rest
			var name []byte
			noName := false
			if idx == 0 {
				name, b, ok = d.readString(b)
				if !ok {
					return d.fail()
				}
			} else {
				n, _, known, nn := d.at(idx)
				if !known || nn {
					noName = true
					if !known {
						d.unknown++
					}
				} else if idx > uint64(len(staticTable)) {
					// The entry may be evicted by this very
					// literal's insertion: keep a copy.
					start := len(d.scratch)
					d.scratch = append(d.scratch, n...)
					name = d.scratch[start:]
				} else {
					name = n
				}
			}
			value, rest2, ok := d.readString(b)
			if !ok {
				return d.fail()
			}
			b = rest2
			if noName {
				s.field(nil, value)
			} else {
				s.field(name, value)
			}
			if index {
				d.insert(name, value, noName)
			}
		}
	}
	return nil
}

func (d *hpackDecoder) fail() error {
	d.forget()
	return errHPACK
}

// at returns the entry at HPACK index idx (1-based, static first).
func (d *hpackDecoder) at(idx uint64) (name, value []byte, known, noName bool) {
	if idx <= uint64(len(staticTable)) {
		e := &staticTable[idx-1]
		return staticBytes[e.no : e.no+e.nl], staticBytes[e.vo : e.vo+e.vl], true, false
	}
	k := idx - uint64(len(staticTable)) - 1
	if k >= uint64(d.n) {
		return nil, nil, false, false
	}
	e := &d.ents[(d.head+d.n-1-int(k))%len(d.ents)]
	b := d.ring[e.off : e.off+e.nlen+e.vlen]
	return b[:e.nlen], b[e.nlen:], true, e.noName
}

// readString reads a string literal (RFC 7541, 5.2).
func (d *hpackDecoder) readString(b []byte) (s, rest []byte, ok bool) {
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
	start := len(d.scratch)
	if _, err := hpack.HuffmanDecode(&d.hw, raw); err != nil {
		d.scratch = d.scratch[:start]
		return nil, nil, false
	}
	return d.scratch[start:], rest, true
}

// setMaxSize applies a dynamic table size update, bounded by the limit.
func (d *hpackDecoder) setMaxSize(size uint64) {
	if size > uint64(d.limit) {
		// Entries beyond the limit are dropped early: references to
		// them come out unknown, never wrong.
		size = uint64(d.limit)
	}
	d.maxSize = int(size)
	d.evict(0)
}

// evict drops the oldest entries until need more bytes fit.
func (d *hpackDecoder) evict(need int) {
	for d.n > 0 && d.size+need > d.maxSize {
		e := &d.ents[d.head]
		d.size -= int(e.nlen+e.vlen) + 32
		d.head = (d.head + 1) % len(d.ents)
		d.n--
	}
	if d.n == 0 {
		d.head, d.wr, d.size = 0, 0, 0
	}
}

// insert adds an entry. name and value must not alias the ring.
func (d *hpackDecoder) insert(name, value []byte, noName bool) {
	sz := len(name) + len(value) + 32
	if sz > d.maxSize {
		d.forgetKnown()
		return
	}
	d.evict(sz)
	if d.size+sz > d.eff {
		// Lay the rings out for what the table holds, doubling up to
		// maxSize: most connections never fill the 4 KiB a peer allows.
		e := max(d.eff, minEff)
		for e < d.size+sz {
			e *= 2
		}
		d.eff = min(e, d.maxSize)
		d.grow()
	}
	need := len(name) + len(value)
	// Bip buffer: live bytes plus need never exceed eff (size counts 32
	// more per entry), and the ring holds 2*eff, so a contiguous run of
	// need bytes is free either at wr or, when the live bytes do not wrap
	// yet, at 0.
	wrapped := d.n > 0 && int(d.ents[d.head].off) > d.wr
	if !wrapped && d.wr+need > len(d.ring) {
		d.wr = 0
	}
	off := d.wr
	copy(d.ring[off:], name)
	copy(d.ring[off+len(name):], value)
	d.wr += need
	d.ents[(d.head+d.n)%len(d.ents)] = hent{off: uint32(off), nlen: uint32(len(name)), vlen: uint32(len(value)), noName: noName}
	d.n++
	d.size += sz
}

// forgetKnown empties the table as RFC 7541 4.4 does for an entry larger
// than the table.
func (d *hpackDecoder) forgetKnown() { d.forget() }

// minEff is the smallest table the rings are laid out for.
const minEff = 512

// grow resizes the ring and the entry ring for eff, keeping the entries.
func (d *hpackDecoder) grow() {
	ring := make([]byte, 2*d.eff)
	ents := make([]hent, d.eff/32+1)
	wr := 0
	for i := 0; i < d.n; i++ {
		e := d.ents[(d.head+i)%len(d.ents)]
		l := int(e.nlen + e.vlen)
		copy(ring[wr:], d.ring[e.off:int(e.off)+l])
		e.off = uint32(wr)
		ents[i] = e
		wr += l
	}
	d.ring, d.ents, d.head, d.wr = ring, ents, 0, wr
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
