package encoding

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/tag"
)

// DecoderConfig configures a Decoder. The zero value (or a nil pointer)
// means defaults.
type DecoderConfig struct {
	// MaxFrameSize is the largest frame accepted, header included. Default
	// 64 MiB; limit 4 GiB.
	MaxFrameSize int
	// MaxBodySize is the largest decompressed body accepted (what a zstd
	// bomb would inflate to). Default 256 MiB; limit 4 GiB.
	MaxBodySize int
	// MaxRows is the largest row count of one table. Default 1<<22.
	MaxRows int
}

// Decoder defaults.
const (
	DefaultMaxFrameSize = 64 << 20
	DefaultMaxBodySize  = 256 << 20
	DefaultMaxRows      = 1 << 22
)

// DecoderStats counts a Decoder's work.
type DecoderStats struct {
	Frames  uint64 // frames decoded
	Errors  uint64 // frames rejected
	Rows    uint64 // rows decoded
	Unknown uint64 // columns of a type this decoder does not know (kept raw)
}

// Decoder decodes frames. It is safe for concurrent use by several
// goroutines, each with its own Batch (it holds only its configuration,
// a zstd decoder and counters).
type Decoder struct {
	cfg   DecoderConfig
	zdec  *zstd.Decoder
	mu    sync.Mutex
	stats DecoderStats
}

// NewDecoder returns a Decoder.
func NewDecoder(cfg *DecoderConfig) (*Decoder, error) {
	d := &Decoder{}
	if cfg != nil {
		d.cfg = *cfg
	}
	if d.cfg.MaxFrameSize <= 0 {
		d.cfg.MaxFrameSize = DefaultMaxFrameSize
	}
	if d.cfg.MaxBodySize <= 0 {
		d.cfg.MaxBodySize = DefaultMaxBodySize
	}
	d.cfg.MaxFrameSize = int(min(int64(d.cfg.MaxFrameSize), 1<<32-1)) // moot where int has 32 bits
	d.cfg.MaxBodySize = int(min(int64(d.cfg.MaxBodySize), 1<<32-1))
	if d.cfg.MaxRows <= 0 {
		d.cfg.MaxRows = DefaultMaxRows
	}
	z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true), zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(uint64(d.cfg.MaxBodySize)), zstd.WithDecoderMaxWindow(uint64(min(d.cfg.MaxBodySize, 1<<29))))
	if err != nil {
		return nil, err
	}
	d.zdec = z
	return d, nil
}

// Stats returns the decoder's counters.
func (d *Decoder) Stats() DecoderStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Batch is a decoded frame. Its strings (Strings, column names, raw
// columns) are copies that do not alias the frame.
type Batch struct {
	Major, Minor uint8
	Flags        uint16
	Epoch        uint64 // the agent dictionary's epoch the ids belong to (0: none)
	DictVersion  uint64 // the agent dictionary's version when the batch was written
	Strings      []string
	Tables       []Table

	seen   map[string]bool
	cells  int // ColPacked values the body may still decode to (bounds what a small body allocates)
	unzstd int // bytes of ColZstd columns decompressed
}

// Table is one table of a batch: Rows rows of Type in columns. A column
// that is absent holds zero (absent, empty) in every row.
type Table struct {
	Type    TableType
	Rows    int
	Columns []Column

	batch *Batch
	fixed []int // index of each known column of the type, or -1
}

// Column is one decoded column. Which slice holds the values depends on
// Type:
//   - ColUvarint, ColVarint, ColDelta, ColOptUvarint, ColOptVarint: Vals
//     (read them with Uint, Int, OptUint, OptInt);
//   - ColTagSet ("tagset_0", "tagset_1"): Vals, rows of the TableTagSets
//     table (index+1, 0 for none), and Side; Decode has already expanded
//     them into ColTag columns "<key>_id_0" and "<key>_id_1";
//   - ColString: Strs, indexes in Batch.Strings;
//   - ColTag, ColTagString: IDs (dictionary ids, 0 when absent or inline)
//     and Inline (index+1 in Batch.Strings of a value sent as a string, 0
//     otherwise; nil when no cell is inline), with the tag's Key and Side
//     from the column name "<key>_id_0" ("<key>_0" for ColTagString; the
//     key alone in a TableTagSets table);
//   - ColAddr: Addrs;
//   - other types: Raw, the undecoded bytes.
type Column struct {
	Name   string
	Type   ColumnType
	Key    string   // tag columns: the tag key
	Side   tag.Side // tag columns: the side
	Vals   []uint64
	Strs   []uint32
	IDs    []uint32
	Inline []uint32
	Addrs  []netip.Addr
	Raw    string
}

// Uint returns row i of an unsigned column.
func (c *Column) Uint(i int) uint64 { return c.Vals[i] }

// Int returns row i of a signed column.
func (c *Column) Int(i int) int64 { return int64(c.Vals[i]) }

// OptUint returns row i of a ColOptUvarint column.
func (c *Column) OptUint(i int) (uint64, bool) {
	v := c.Vals[i]
	return v - 1, v != 0
}

// OptInt returns row i of a ColOptVarint column.
func (c *Column) OptInt(i int) (int64, bool) {
	v := c.Vals[i]
	return unzigzag(v - 1), v != 0
}

var (
	defaultDecoderOnce sync.Once
	defaultDecoder     *Decoder
	defaultDecoderErr  error
)

// Decode decodes one frame with a default Decoder into a new Batch.
func Decode(frame []byte) (*Batch, error) {
	defaultDecoderOnce.Do(func() { defaultDecoder, defaultDecoderErr = NewDecoder(nil) })
	if defaultDecoderErr != nil {
		return nil, defaultDecoderErr
	}
	b := &Batch{}
	if err := defaultDecoder.Decode(frame, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Decode decodes exactly one frame into b, reusing b's slices. Errors:
// ErrMagic, ErrVersion, ErrFlags, ErrChecksum, ErrTooLarge, or a
// *FormatError (ErrTruncated, ErrCorrupt, ErrTooLarge) for a bad body. On
// error b holds no usable batch. Decoding never panics, whatever frame is.
func (d *Decoder) Decode(frame []byte, b *Batch) error {
	rows, unknown, err := d.decode(frame, b)
	d.mu.Lock()
	if err != nil {
		d.stats.Errors++
	} else {
		d.stats.Frames++
		d.stats.Rows += uint64(rows)
		d.stats.Unknown += uint64(unknown)
	}
	d.mu.Unlock()
	if err != nil {
		b.Tables = b.Tables[:0]
		b.Strings = b.Strings[:0]
	}
	return err
}

func (d *Decoder) decode(frame []byte, b *Batch) (rows, unknown int, err error) {
	if len(frame) >= 4 && [4]byte(frame[:4]) != frameMagic {
		return 0, 0, ErrMagic
	}
	if len(frame) < HeaderSize {
		return 0, 0, &FormatError{Offset: len(frame), What: "frame header", Err: ErrTruncated}
	}
	if frame[4] != Major {
		return 0, 0, ErrVersion
	}
	flags := binary.LittleEndian.Uint16(frame[6:])
	if flags&requiredMask&^knownFlags != 0 {
		return 0, 0, ErrFlags
	}
	if len(frame) > d.cfg.MaxFrameSize {
		return 0, 0, ErrTooLarge
	}
	plen := int64(binary.LittleEndian.Uint32(frame[8:]))
	blen := int64(binary.LittleEndian.Uint32(frame[12:]))
	if HeaderSize+plen > int64(len(frame)) {
		return 0, 0, &FormatError{Offset: len(frame), What: "payload", Err: ErrTruncated}
	}
	if HeaderSize+plen < int64(len(frame)) {
		return 0, 0, &FormatError{Offset: int(HeaderSize + plen), What: "bytes after the payload", Err: ErrCorrupt}
	}
	if blen > int64(d.cfg.MaxBodySize) {
		return 0, 0, ErrTooLarge
	}
	c := crc32.Update(0, castagnoli, frame[:16])
	c = crc32.Update(c, castagnoli, frame[HeaderSize:])
	if c != binary.LittleEndian.Uint32(frame[16:]) {
		return 0, 0, ErrChecksum
	}
	payload := frame[HeaderSize:]
	var body []byte
	switch {
	case flags&FlagZstd != 0 && flags&FlagS2 != 0:
		return 0, 0, &FormatError{Offset: 6, What: "flags: two compressions", Err: ErrCorrupt}
	case flags&FlagS2 != 0:
		n, err := s2.DecodedLen(payload)
		if err != nil {
			return 0, 0, &FormatError{Offset: HeaderSize, What: "s2 payload: " + err.Error(), Err: ErrCorrupt}
		}
		if int64(n) != blen {
			if int64(n) > blen {
				return 0, 0, &FormatError{Offset: HeaderSize, What: "body longer than its header says", Err: ErrTooLarge}
			}
			return 0, 0, &FormatError{Offset: HeaderSize, What: "body shorter than its header says", Err: ErrTruncated}
		}
		body, err = s2.Decode(make([]byte, n), payload)
		if err != nil {
			return 0, 0, &FormatError{Offset: HeaderSize, What: "s2 payload: " + err.Error(), Err: ErrCorrupt}
		}
	case flags&FlagZstd != 0:
		body, err = d.zdec.DecodeAll(payload, make([]byte, 0, blen))
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return 0, 0, ErrTooLarge
			}
			return 0, 0, &FormatError{Offset: HeaderSize, What: "zstd payload: " + err.Error(), Err: ErrCorrupt}
		}
	default:
		body = payload
	}
	if int64(len(body)) != blen {
		if int64(len(body)) > blen {
			return 0, 0, &FormatError{Offset: HeaderSize, What: "body longer than its header says", Err: ErrTooLarge}
		}
		return 0, 0, &FormatError{Offset: len(body), What: "body shorter than its header says", Err: ErrTruncated}
	}
	b.Major, b.Minor, b.Flags = frame[4], frame[5], flags
	return d.parseBody(string(body), b)
}

// parseBody decodes a body held in one string: every string of the batch
// is a substring of it.
func (d *Decoder) parseBody(s string, b *Batch) (rows, unknown int, err error) {
	r := sreader{s: s}
	b.cells = 8*len(s) + 1<<16
	b.unzstd = 0
	b.Epoch = r.uvarint("epoch")
	b.DictVersion = r.uvarint("dictionary version")
	n := r.uvarint("string count")
	sr := &r
	if r.err == nil && b.Flags&FlagColumnZstd != 0 {
		// The strings follow raw after a 0, or in a zstd frame.
		if r.off < len(s) && s[r.off] == 0 {
			r.off++
		} else {
			zs := d.unzstd(&r, b, "string table", false)
			sr = &sreader{s: zs, base: r.off}
		}
	}
	if r.err == nil && n > uint64(len(sr.s)-sr.off) {
		r.fail("string count", ErrCorrupt)
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	b.Strings = append(b.Strings[:0], "")
	for i := uint64(0); i < n && sr.err == nil; i++ {
		b.Strings = append(b.Strings, sr.str("string"))
	}
	if sr != &r {
		if sr.err == nil && sr.off != len(sr.s) {
			sr.fail("bytes after the last string", ErrCorrupt)
		}
		r.err = sr.err
	}
	ntab := r.uvarint("table count")
	if r.err == nil && ntab > uint64(len(s)-r.off) {
		r.fail("table count", ErrCorrupt)
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	nStrings := len(b.Strings) // before ColTagString columns add theirs
	if b.seen == nil {
		b.seen = make(map[string]bool)
	}
	b.Tables = b.Tables[:0]
	for i := uint64(0); i < ntab && r.err == nil; i++ {
		if len(b.Tables) < cap(b.Tables) {
			b.Tables = b.Tables[:len(b.Tables)+1]
		} else {
			b.Tables = append(b.Tables, Table{})
		}
		t := &b.Tables[len(b.Tables)-1]
		t.batch = b
		typ := r.uvarint("table type")
		nrows := r.uvarint("row count")
		ncols := r.uvarint("column count")
		if r.err != nil {
			break
		}
		if typ > 255 {
			r.fail("table type", ErrCorrupt)
			break
		}
		if nrows > uint64(d.cfg.MaxRows) {
			r.fail("row count", ErrTooLarge)
			break
		}
		if ncols > uint64(len(s)-r.off) {
			r.fail("column count", ErrCorrupt)
			break
		}
		t.Type, t.Rows = TableType(typ), int(nrows)
		rows += t.Rows
		clear(b.seen)
		t.Columns = t.Columns[:0]
		for j := uint64(0); j < ncols && r.err == nil; j++ {
			c := t.next()
			name := r.str("column name")
			ctyp := r.byte("column type")
			data := r.str("column data")
			if r.err != nil {
				break
			}
			if b.seen[name] {
				r.fail("column "+name+" repeated", ErrCorrupt)
				break
			}
			b.seen[name] = true
			at := r.off - len(data)
			if ctyp&byte(ColZstd) != 0 && b.Flags&FlagColumnZstd != 0 {
				ctyp &^= byte(ColZstd)
				zr := sreader{s: data, base: at}
				data = d.unzstd(&zr, b, "column "+name, true)
				if zr.err != nil {
					r.err = zr.err
					break
				}
			}
			if !d.column(c, t.Type, name, ColumnType(ctyp), data, at, t.Rows, b, nStrings, &r) {
				unknown++
			}
		}
	}
	if r.err == nil && r.off != len(s) {
		r.fail("bytes after the last table", ErrCorrupt)
	}
	if r.err == nil {
		r.err = d.expand(b, len(s))
	}
	if r.err == nil {
		for i := range b.Tables {
			b.Tables[i].index()
		}
	}
	return rows, unknown, r.err
}

// next returns a new last column of t, reusing the slices of an earlier
// decode.
func (t *Table) next() *Column {
	if len(t.Columns) < cap(t.Columns) {
		t.Columns = t.Columns[:len(t.Columns)+1]
	} else {
		t.Columns = append(t.Columns, Column{})
	}
	return &t.Columns[len(t.Columns)-1]
}

// setName checks the name of a ColTagSet or ColTagSetRef column and sets
// c.Side from it; other types pass.
func setName(c *Column, typ ColumnType, name string) bool {
	var want string
	switch typ {
	case ColTagSet:
		want = "tagset_"
	case ColTagSetRef:
		want = "tagsetid_"
	default:
		return true
	}
	if len(name) != len(want)+1 || name[:len(want)] != want || (name[len(want)] != '0' && name[len(want)] != '1') {
		return false
	}
	c.Side = tag.Side(name[len(want)] - '0')
	return true
}

// expand gives the tables with ColTagSet columns a ColTag column per key
// and side, from the rows of the batch's tag set table.
func (d *Decoder) expand(b *Batch, end int) error {
	var sets *Table
	for i := range b.Tables {
		if b.Tables[i].Type == TableTagSets {
			if sets != nil {
				return &FormatError{Offset: end, What: "two tag set tables", Err: ErrCorrupt}
			}
			sets = &b.Tables[i]
		}
	}
	for ti := range b.Tables {
		t := &b.Tables[ti]
		if t == sets {
			continue
		}
		n := len(t.Columns)
		for ci := range n {
			typ := t.Columns[ci].Type
			if typ != ColTagSet && typ != ColTagSetRef {
				continue
			}
			set := &t.Columns[ci]
			side := set.Side
			var ncols int
			if sets != nil {
				ncols = len(sets.Columns)
			}
			for _, v := range set.Vals {
				if typ == ColTagSetRef {
					// Rows of the table are index<<1|1; ids (id<<1) are
					// Resolve's.
					if v&1 == 0 {
						if v>>1 > MaxIDs {
							return &FormatError{Offset: end, What: "column " + set.Name + ": tag set id", Err: ErrCorrupt}
						}
						continue
					}
					v = v>>1 + 1
				}
				if v != 0 && (sets == nil || v > uint64(sets.Rows)) {
					return &FormatError{Offset: end, What: "column " + set.Name + ": tag set index", Err: ErrCorrupt}
				}
			}
			if sets == nil {
				continue
			}
			if t.Rows*ncols > d.cfg.MaxRows*64 {
				return &FormatError{Offset: end, What: "column " + set.Name + ": tag cells", Err: ErrTooLarge}
			}
			for ki := range sets.Columns {
				k := &sets.Columns[ki]
				if k.Type != ColTag {
					continue
				}
				name := k.Key + "_id_" + string('0'+byte(side))
				if t.Column(name) != nil {
					return &FormatError{Offset: end, What: "column " + name + " repeated", Err: ErrCorrupt}
				}
				c := t.next()
				set = &t.Columns[ci] // t.Columns may have moved
				*c = Column{Name: name, Type: ColTag, Key: k.Key, Side: side, IDs: grow(c.IDs, t.Rows), Inline: c.Inline[:0]}
				for row, v := range set.Vals {
					if typ == ColTagSetRef {
						v = (v>>1 + 1) & -(v & 1) // a row of the table, else 0
					}
					if v == 0 {
						c.IDs[row] = 0
						continue
					}
					c.IDs[row] = k.IDs[v-1]
					if len(k.Inline) > 0 && k.Inline[v-1] != 0 {
						c.setInline(row, t.Rows, int(k.Inline[v-1]-1))
					}
				}
			}
		}
	}
	return nil
}

// column decodes one column's data; it reports false for an unknown type
// (kept raw). Errors go to r, at the offset of the column's data.
func (d *Decoder) column(c *Column, ttyp TableType, name string, typ ColumnType, data string, at, rows int, b *Batch, nStrings int, r *sreader) bool {
	*c = Column{Name: name, Type: typ, Vals: c.Vals[:0], Strs: c.Strs[:0], IDs: c.IDs[:0], Inline: c.Inline[:0], Addrs: c.Addrs[:0]}
	cr := sreader{s: data, base: at}
	what := "column " + name
	if typ == ColPacked {
		d.packed(c, name, &cr, rows, b, nStrings, what)
		if cr.err != nil && r.err == nil {
			r.err = cr.err
		}
		return true
	}
	refs := typ == ColTagSetRef && b.Flags&FlagTagSetIDs != 0
	if (typ >= ColUvarint && typ <= ColTagSet || refs) && rows > len(data) {
		// Every value takes at least one byte.
		r.fail(what, ErrTruncated)
		return true
	}
	switch typ {
	case ColUvarint, ColVarint, ColDelta, ColOptUvarint, ColOptVarint, ColTagSet, ColTagSetRef:
		if typ == ColTagSetRef && !refs {
			c.Raw = data // a 1.2 frame: a type it does not know
			return false
		}
		if !setName(c, typ, name) {
			r.fail(what+": not a tag set column name", ErrCorrupt)
			return true
		}
		c.Vals = grow(c.Vals, rows)
		var prev int64
		for i := range rows {
			v := cr.uvarint(what)
			if typ == ColDelta {
				prev += unzigzag(v)
				v = uint64(prev)
			} else if typ == ColVarint {
				v = uint64(unzigzag(v))
			}
			c.Vals[i] = v
		}
	case ColString:
		c.Strs = grow(c.Strs, rows)
		for i := range rows {
			v := cr.uvarint(what)
			if v >= uint64(nStrings) {
				cr.fail(what+": string index", ErrCorrupt)
			}
			c.Strs[i] = uint32(v)
		}
	case ColTag, ColTagString:
		var key string
		ok := false
		if ttyp == TableTagSets && typ == ColTag {
			key, ok = name, true
		} else if len(name) > 0 && (name[len(name)-1] == '0' || name[len(name)-1] == '1') {
			if typ == ColTag {
				key, ok = strings.CutSuffix(name[:len(name)-1], "_id_")
			} else {
				key, ok = strings.CutSuffix(name[:len(name)-1], "_")
			}
		}
		if !ok || key == "" {
			r.fail(what+": not a tag column name", ErrCorrupt)
			return true
		}
		c.Key, c.Side = key, tag.Side(name[len(name)-1]-'0')
		c.IDs = grow(c.IDs, rows)
		for i := range rows {
			v := cr.uvarint(what)
			switch {
			case v == 0:
				c.IDs[i] = 0
			case typ == ColTagString:
				v--
				if v > uint64(len(cr.s)-cr.off) {
					cr.fail(what, ErrTruncated)
					break
				}
				c.IDs[i] = 0
				c.setInline(i, rows, len(b.Strings))
				b.Strings = append(b.Strings, cr.s[cr.off:cr.off+int(v)])
				cr.off += int(v)
			case v&1 == 1:
				if v>>1 >= uint64(nStrings) {
					cr.fail(what+": string index", ErrCorrupt)
					break
				}
				c.IDs[i] = 0
				c.setInline(i, rows, int(v>>1))
			default:
				if v>>1 > MaxIDs {
					cr.fail(what+": id", ErrCorrupt)
					break
				}
				c.IDs[i] = uint32(v >> 1)
			}
		}
	case ColAddr:
		c.Addrs = grow(c.Addrs, rows)
		for i := range rows {
			c.Addrs[i] = cr.addr(what)
		}
	default:
		c.Raw = data
		return false
	}
	if cr.err == nil && cr.off != len(cr.s) {
		cr.fail(what+": bytes after the last row", ErrCorrupt)
	}
	if cr.err != nil && r.err == nil {
		r.err = cr.err
	}
	return true
}

// packed decodes a ColPacked column (FORMAT.md) into c, which takes the
// type of the values.
func (d *Decoder) packed(c *Column, name string, cr *sreader, rows int, b *Batch, nStrings int, what string) {
	typ := ColumnType(cr.byte(what + ": type"))
	if cr.err != nil {
		return
	}
	switch typ {
	case ColUvarint, ColVarint, ColDelta, ColOptUvarint, ColOptVarint, ColString:
	case ColTagSet, ColTagSetRef:
		if typ == ColTagSetRef && b.Flags&FlagTagSetIDs == 0 {
			cr.fail(what+": packed type", ErrCorrupt)
			return
		}
		if !setName(c, typ, name) {
			cr.fail(what+": not a tag set column name", ErrCorrupt)
			return
		}
	case ColAddr:
		c.Type = typ
		d.packedAddrs(c, cr, rows, b, what)
		return
	default:
		cr.fail(what+": packed type", ErrCorrupt)
		return
	}
	c.Type = typ
	// Every block takes two bytes at least; the batch's budget of values
	// bounds what a small body allocates.
	if blocks := (rows + packBlock - 1) / packBlock; blocks > (len(cr.s)-cr.off)/2 {
		cr.fail(what, ErrTruncated)
		return
	}
	if b.cells -= rows; b.cells < 0 {
		cr.fail(what+": values", ErrTooLarge)
		return
	}
	vals := grow(c.Vals, rows)
	var base uint64
	for start := 0; start < rows; start += packBlock {
		w := int(cr.byte(what))
		base += uint64(unzigzag(cr.uvarint(what)))
		if cr.err != nil {
			return
		}
		if w > 8 {
			cr.fail(what+": width", ErrCorrupt)
			return
		}
		blk := vals[start:min(start+packBlock, rows)]
		n := len(blk) * w
		if n > len(cr.s)-cr.off {
			cr.fail(what, ErrTruncated)
			return
		}
		src := cr.s[cr.off : cr.off+n]
		cr.off += n
		switch w {
		case 0:
			for i := range blk {
				blk[i] = base
			}
		case 1:
			for i := range blk {
				blk[i] = base + uint64(src[i])
			}
		default:
			mask := uint64(1)<<(8*w) - 1
			if w == 8 {
				mask = ^uint64(0)
			}
			for i := range blk {
				var x uint64
				if o := i * w; o+8 <= len(src) {
					x = le64(src[o:]) & mask
				} else {
					for k := w - 1; k >= 0; k-- {
						x = x<<8 | uint64(src[o+k])
					}
				}
				blk[i] = base + x
			}
		}
	}
	if cr.off != len(cr.s) {
		cr.fail(what+": bytes after the last row", ErrCorrupt)
		return
	}
	switch typ {
	case ColVarint:
		for i, v := range vals {
			vals[i] = uint64(unzigzag(v))
		}
	case ColString:
		c.Strs = grow(c.Strs, rows)
		for i, v := range vals {
			if v >= uint64(nStrings) {
				cr.fail(what+": string index", ErrCorrupt)
				return
			}
			c.Strs[i] = uint32(v)
		}
		c.Vals = vals[:0]
		return
	}
	c.Vals = vals
}

// packedAddrs decodes the blocks of a ColPacked column of addresses.
func (d *Decoder) packedAddrs(c *Column, cr *sreader, rows int, b *Batch, what string) {
	if blocks := (rows + packBlock - 1) / packBlock; blocks > (len(cr.s)-cr.off)/2 {
		cr.fail(what, ErrTruncated)
		return
	}
	if b.cells -= 3 * rows; b.cells < 0 {
		cr.fail(what+": values", ErrTooLarge)
		return
	}
	c.Addrs = grow(c.Addrs, rows)
	var base int64
	for start := 0; start < rows && cr.err == nil; start += packBlock {
		blk := c.Addrs[start:min(start+packBlock, rows)]
		w := int(cr.byte(what))
		if w == 0xff {
			for i := range blk {
				blk[i] = cr.addr(what)
			}
			continue
		}
		base += unzigzag(cr.uvarint(what))
		if cr.err != nil {
			return
		}
		if w > 4 {
			cr.fail(what+": width", ErrCorrupt)
			return
		}
		n := len(blk) * w
		if n > len(cr.s)-cr.off {
			cr.fail(what, ErrTruncated)
			return
		}
		src := cr.s[cr.off : cr.off+n]
		cr.off += n
		for i := range blk {
			var x int64
			for k := w - 1; k >= 0; k-- {
				x = x<<8 | int64(src[i*w+k])
			}
			v := base + x
			if v < 0 || v > 1<<32-1 {
				cr.fail(what+": address", ErrCorrupt)
				return
			}
			blk[i] = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}
	}
	if cr.err == nil && cr.off != len(cr.s) {
		cr.fail(what+": bytes after the last row", ErrCorrupt)
	}
}

// unzstd reads what FlagColumnZstd puts in a body and returns what its
// zstd frame holds: for the string table, the uvarint length of the frame,
// the uvarint length of what it holds and the frame; for a column (r its
// data), the uvarint length of what the frame holds and the frame. The batch's decompressed bytes are bounded
// by DecoderConfig.MaxBodySize.
func (d *Decoder) unzstd(r *sreader, b *Batch, what string, column bool) string {
	var n uint64
	if !column {
		n = r.uvarint(what + ": zstd length")
	}
	size := r.uvarint(what + ": length")
	if column {
		n = uint64(len(r.s) - r.off)
	}
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)-r.off) {
		r.fail(what+": zstd frame", ErrTruncated)
		return ""
	}
	if size > uint64(d.cfg.MaxBodySize-b.unzstd) {
		r.fail(what, ErrTooLarge)
		return ""
	}
	frame := r.s[r.off : r.off+int(n)]
	out, err := d.zdec.DecodeAll(unsafe.Slice(unsafe.StringData(frame), len(frame)), make([]byte, 0, size))
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			r.fail(what+": zstd frame", ErrTooLarge)
		} else {
			r.fail(what+": zstd frame: "+err.Error(), ErrCorrupt)
		}
		return ""
	}
	if uint64(len(out)) != size {
		r.fail(what+": zstd frame shorter than said", ErrCorrupt)
		return ""
	}
	r.off += int(n)
	b.unzstd += len(out)
	b.cells += 8 * len(out)
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// le64 reads 8 bytes of s, little endian.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// setInline records that row i holds string idx (Inline holds idx+1).
func (c *Column) setInline(i, rows, idx int) {
	if len(c.Inline) == 0 {
		c.Inline = grow(c.Inline, rows)
		clear(c.Inline)
	}
	c.Inline[i] = uint32(idx) + 1
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// sreader is reader over a string.
type sreader struct {
	s    string
	off  int
	base int
	err  error
}

func (r *sreader) fail(what string, err error) {
	if r.err == nil {
		r.err = &FormatError{Offset: r.base + r.off, What: what, Err: err}
	}
}

func (r *sreader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	if r.off < len(r.s) && r.s[r.off] < 0x80 {
		r.off++
		return uint64(r.s[r.off-1])
	}
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if r.off >= len(r.s) {
			r.fail(what, ErrTruncated)
			return 0
		}
		c := r.s[r.off]
		r.off++
		if shift == 63 && c > 1 {
			r.fail(what, ErrCorrupt)
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}

// addr reads an address as ColAddr writes it.
func (r *sreader) addr(what string) netip.Addr {
	switch n := r.byte(what); n {
	case 0:
	case 4, 16:
		if len(r.s)-r.off < int(n) {
			r.fail(what, ErrTruncated)
			break
		}
		a, _ := netip.AddrFromSlice([]byte(r.s[r.off : r.off+int(n)]))
		r.off += int(n)
		return a
	default:
		r.fail(what+": address length", ErrCorrupt)
	}
	return netip.Addr{}
}

func (r *sreader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.s) {
		r.fail(what, ErrTruncated)
		return 0
	}
	r.off++
	return r.s[r.off-1]
}

func (r *sreader) str(what string) string {
	n := r.uvarint(what)
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)-r.off) {
		r.fail(what, ErrTruncated)
		return ""
	}
	v := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return v
}
