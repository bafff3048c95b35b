package encoding

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// EncoderConfig configures an Encoder. The zero value (or a nil pointer)
// means defaults.
type EncoderConfig struct {
	// Dict is the agent's dictionary: tag values it knows go out as ids,
	// the others as strings (once per batch) for the server to assign.
	// Default nil: every tag value goes out as a string of the batch's
	// string table.
	Dict *AgentDict
	// TagStrings writes each tag cell as its string (ColTagString), with
	// no dictionary and no string table: the "String column" layout, for
	// comparison and for receivers that keep no dictionary. Default false.
	TagStrings bool
	// Compression is how the body is compressed. Default CompressZstd.
	Compression Compression
	// Level is the zstd level (CompressZstd, CompressZstdBody). Default
	// zstd.SpeedFastest.
	Level zstd.EncoderLevel
	// NoCompression writes the body as it is, whatever Compression says
	// (as CompressNone). Default false.
	NoCompression bool
	// Uvarints writes every integer column as uvarints, in frames a 1.1
	// (or, with CompressZstd, 1.0) decoder reads. Default false: columns
	// in fixed-width blocks (ColPacked, format 1.2), faster to write and
	// smaller.
	Uvarints bool
	// AgentID names the capture point (the agent, or its capture
	// interface) in every l7_flow_log row (agent_id), so that the server
	// tells observations of different points apart (DeepFlow's agent_id
	// and tap_port). Default "": the column is left out.
	AgentID string
	// LocalAddr reports whether an address is the capture point's own (an
	// address of its host or network namespace). It decides the tap_side
	// of packet records: "c" when the client's address is local, "s" when
	// the server's is, "local" when both are, "rest" when neither. Default
	// nil: packet records have no tap_side. eBPF records (a process id on
	// one side) are "c-p" or "s-p" either way. LocalAddrs returns one for
	// the machine's interfaces.
	LocalAddr func(netip.Addr) bool
	// TagSetIDs names each record side's tag set by one dictionary id once
	// the server has assigned it one (format 1.3, FlagTagSetIDs): a side
	// whose tags all have ids is looked up as a whole in the Dict (a value
	// of TagSetKey) and written as that id; only sets the server has not
	// named yet go into the batch's tag set table, and the server names
	// them when it resolves the batch. Frames need a 1.3 server. Default
	// false: every batch's tag set table holds each of its sets (1.2).
	TagSetIDs bool
}

// Compression is the compression of a frame's payload.
type Compression uint8

// Compressions. zstd is the wire format's default: column by column where
// it pays (format 1.2), or the whole body (what a 1.0 decoder reads, with
// Uvarints). S2 (FlagS2, format 1.1) compresses the whole body: on packed
// columns about as fast as CompressZstd on generated records, faster on
// records that compress well (replayed captures: 550 against 790 ns a
// row), frames a few percent larger; for agents short of CPU.
const (
	// CompressZstd compresses with zstd: column by column (FlagColumnZstd,
	// format 1.2) the columns and the string table where it pays, that is
	// where a try saves an eighth or more (tried again every zstdRetry
	// batches where it did not); with Uvarints, the whole body (FlagZstd,
	// as CompressZstdBody). The default.
	CompressZstd Compression = iota
	CompressS2               // an S2 block of the whole body
	CompressNone             // the body as it is
	// CompressZstdBody compresses the whole body as one zstd frame
	// (FlagZstd): about a tenth smaller than CompressZstd and a tenth
	// slower on generated records.
	CompressZstdBody
)

// EncoderStats counts an Encoder's work.
type EncoderStats struct {
	Frames     uint64 // frames written
	Rows       uint64 // rows written (both tables)
	BodyBytes  uint64 // bodies before compression
	FrameBytes uint64 // frames, headers included
	TagIDs     uint64 // tag cells sent as dictionary ids
	TagInline  uint64 // tag cells sent as strings of the string table
	SetHits    uint64 // record sides whose tags were found with one cache lookup
	ListSides  uint64 // record sides with a tag.List (a tagging stage's), keyed by it rather than by hashing their strings
	DupTags    uint64 // tags dropped because the record had the key twice on one side (the last one is kept)
	SetIDs     uint64 // tag sets sent as their dictionary id (TagSetIDs), counted once a batch
}

// Encoder builds batches of records in columns and writes them as frames.
// Add records with AddL4 and AddL7; AppendFrame writes the batch and
// starts the next one. The records are read during the call only.
//
// An Encoder is not safe for concurrent use; the AgentDict it reads may be
// shared by several.
//
// A record side's tags are found as a whole in a cache of tag sets: by
// their tag.List when a tagging stage attached one (autotag.Stage does:
// one pointer, no string read), else by a hash of their strings'
// addresses. Only a side not found there has its values looked up, through
// a small cache per tag key indexed by the address of the string's bytes
// (and checked by comparing the strings), then in the dictionary.
type Encoder struct {
	cfg      EncoderConfig
	pt       pointCache // l7 capture-point columns' string indexes (point.go)
	zenc     *zstd.Encoder
	l4       *tableEnc
	l7       *tableEnc
	keys     map[string]*keyState
	keyCache [1 << keyCacheBits]keyCacheEnt
	setHot   []setHot
	setCold  []setCold
	setEnts  []setEnt
	sets     *tableEnc // the batch's tag set table
	nh       [2 * maxSetTags]uint64
	listKey  uint64 // random: the second word of a List side's key (setKey)
	touch    setEnt // the loads that fetch the entries early (tags)
	stamp    int    // of the tag set cache's fills
	canon    []byte // a TagSetKey value being looked up
	lists    []listEnt
	listGen  uint32 // of the lists' entries; bumped when the ids change (flushCaches)
	listNext uint32 // the way replaced in a full bucket

	// String table of the batch: index 0 is "".
	strs    map[string]uint32
	strList []string

	epoch, version uint64 // of the AgentDict when the batch started
	dictGen        uint64
	batch          uint32 // batch number, tags inline codes in the caches
	batchIDs       int    // dictionary ids in the batch
	noIDs          bool   // the dictionary changed after ids were written: strings only
	body           []byte
	zraw, zbuf     []byte    // the string table, and zstd's output (CompressZstd)
	strZ           zstdState // of the string table
	stats          EncoderStats
}

type colEnc struct {
	name string
	typ  ColumnType
	buf  []byte
	prev int64
	nz   uint64 // OR of the values: 0 means the column is all zero and is omitted
	// zeros is the rows of an all-zero column not written yet (flush).
	zeros int
	z     zstdState
}

// zstdState is what an Encoder learnt about compressing one column (or
// the string table) with zstd: most columns of records (times, ports,
// counters) are as good as random bytes once packed, and compressing them
// would cost the most of the encoding for nothing.
type zstdState struct {
	on   bool   // the last try saved at least zstdGain
	next uint32 // the batch from which to try again when off
}

const (
	// zstdMin is the least data compressed: a zstd frame of less does
	// not pay its header.
	zstdMin = 256
	// zstdRetry is the batches after which a column that did not pay is
	// tried again.
	zstdRetry = 16
)

// zstdPays reports whether compressed bytes out of raw are worth it: at
// least an eighth less.
func zstdPays(compressed, raw int) bool { return compressed <= raw-raw/8 }

func (c *colEnc) u(v uint64) {
	c.nz |= v
	if v < 0x80 {
		c.buf = append(c.buf, byte(v))
		return
	}
	c.buf = binary.AppendUvarint(c.buf, v)
}

func (c *colEnc) reset() {
	c.buf, c.prev, c.nz, c.zeros = c.buf[:0], 0, 0, 0
}

// tagCol is one tag column of a table: key and side.
type tagCol struct {
	colEnc
	cur  uint64 // this row's code
	curS string // this row's value (TagStrings)
	mark int    // row+1 when cur was set for that row; in the tag set table, the stamp of the last fill that used it
	rows int    // rows written (tag set table)
	// index is the column's place in the tag set table's tags.
	index int
}

// stageRows is how many rows a table stages before writing them into its
// columns: the record's fields are stored in arrays (a few stores a
// record), then each column is encoded in a tight loop over them, with
// what it needs in registers.
const (
	stageRows    = packBlock
	maxStageCols = max(l4NumColumns, l7NumColumns)
)

// tableEnc is the columns of one table being built.
type tableEnc struct {
	typ   TableType
	rows  int
	n     int // staged rows
	st    [maxStageCols][stageRows]uint64
	addrs [2][stageRows]netip.Addr
	addrC [2]int      // the columns of addrs
	proto [4]struct { // l7_protocol values and their string indexes, by address
		s     string
		i     uint32
		batch uint32
	}
	cols   []colEnc
	set    [2]colEnc // tagset_0, tagset_1: index+1 in the tag set table
	setSt  [2][stageRows]uint64
	tags   []*tagCol
	packed bool // columns written as ColPacked blocks (format 1.2), else uvarints
}

// flush encodes the staged rows into the columns. A column whose rows
// have all been zero so far writes nothing: it counts them (zeros), and
// writes them only if a value comes (an all-zero column is left out of
// the frame).
func (t *tableEnc) flush() {
	n := t.n
	t.n = 0
	if n == 0 {
		return
	}
	for j := range t.cols {
		c := &t.cols[j]
		if c.typ == ColAddr {
			a := &t.addrs[0]
			if j == t.addrC[1] {
				a = &t.addrs[1]
			}
			if t.packed {
				c.packAddrs(a[:n])
			} else {
				c.addrs(a[:n])
			}
			continue
		}
		t.flushCol(c, t.st[j][:n])
	}
	t.flushCol(&t.set[0], t.setSt[0][:n])
	t.flushCol(&t.set[1], t.setSt[1][:n])
}

// flushCol encodes the staged values vals of c.
func (t *tableEnc) flushCol(c *colEnc, vals []uint64) {
	if t.packed {
		c.pack(vals)
		return
	}
	n := len(vals)
	if c.typ == ColDelta {
		prev := c.prev
		for i, v := range vals {
			vals[i] = zigzag(int64(v) - prev)
			prev = int64(v)
		}
		c.prev = prev
	}
	var or uint64
	for _, v := range vals {
		or |= v
	}
	if or == 0 && c.nz == 0 {
		c.zeros += n
		return
	}
	if c.zeros > 0 {
		c.buf = append(c.buf, make([]byte, c.zeros)...)
		c.zeros = 0
	}
	c.nz |= or
	c.buf = appendUvarints(c.buf, vals, or)
}

// pack appends one ColPacked block of the values vals (a whole block,
// packBlock rows, but for the last of a batch): a byte, the width w in
// bytes of the values less a base, the zigzag of the difference of that
// base from the previous block's (c.prev, 0 at first), then each value
// less the base in w bytes, little endian. The base is the least value for
// ColDelta columns, else 0 or, when every value is the same, that value. A column whose blocks
// have all been zero so far writes nothing (zeros counts its rows): an
// all-zero column is left out of the frame.
func (c *colEnc) pack(vals []uint64) {
	var lo, hi uint64
	if c.typ == ColDelta {
		// Times and flow ids: large, close to one another.
		lo, hi = vals[0], vals[0]
		for _, v := range vals[1:] {
			lo = min(lo, v)
			hi = max(hi, v)
		}
	} else {
		// Counters, enumerations, indexes: the least is 0 but for a
		// constant (cheaper than the least: two operations a value).
		and, or := vals[0], vals[0]
		if len(vals) == packBlock {
			// A whole block: four at a time, no bounds checks.
			v := (*[packBlock]uint64)(vals)
			a1, o1 := v[1], v[1]
			for i := 2; i < packBlock; i += 2 {
				and &= v[i]
				or |= v[i]
				a1 &= v[i+1]
				o1 |= v[i+1]
			}
			and &= a1
			or |= o1
		} else {
			for _, v := range vals[1:] {
				and &= v
				or |= v
			}
		}
		hi = or
		if and == or {
			lo = or
		}
	}
	if hi == 0 && c.nz == 0 {
		c.zeros += len(vals)
		return
	}
	c.nz = 1
	if len(c.buf) == 0 {
		c.buf = append(c.buf, byte(c.typ)) // ColPacked's first byte
	}
	for ; c.zeros > 0; c.zeros -= min(c.zeros, packBlock) {
		c.buf = append(c.buf, 0, 0) // width 0, least 0: a block of zeros
	}
	w := (bits.Len64(hi-lo) + 7) >> 3
	p := len(c.buf)
	c.buf = slices.Grow(c.buf, 2+binary.MaxVarintLen64+len(vals)*w+8)
	dst := c.buf[:cap(c.buf)]
	dst[p] = byte(w)
	p = len(binary.AppendUvarint(dst[:p+1], zigzag(int64(lo-uint64(c.prev)))))
	c.prev = int64(lo)
	switch w {
	case 0:
	case 1:
		d := dst[p : p+len(vals)]
		for i, v := range vals {
			d[i] = byte(v - lo)
		}
		p += len(vals)
	case 2:
		if len(vals) == packBlock {
			// A whole block: no bounds checks.
			d := (*[2 * packBlock]byte)(dst[p:])
			v := (*[packBlock]uint64)(vals)
			for i := range packBlock {
				x := v[i] - lo
				d[2*i], d[2*i+1] = byte(x), byte(x>>8)
			}
		} else {
			d := dst[p : p+2*len(vals)]
			for i, v := range vals {
				binary.LittleEndian.PutUint16(d[2*i:], uint16(v-lo))
			}
		}
		p += 2 * len(vals)
	default:
		// Room was made for 8 bytes past the last value: every value is
		// stored as 8 bytes, the next one overwriting the excess.
		for _, v := range vals {
			binary.LittleEndian.PutUint64((*[8]byte)(dst[p:])[:], v-lo)
			p += w
		}
	}
	c.buf = dst[:p]
}

// appendUvarints appends the uvarints of vals, whose OR is or.
func appendUvarints(buf []byte, vals []uint64, or uint64) []byte {
	p := len(buf)
	if or < 0x80 {
		// One byte each.
		buf = slices.Grow(buf, len(vals))[:p+len(vals)]
		dst := buf[p:]
		for i, v := range vals {
			dst[i] = byte(v)
		}
		return buf
	}
	buf = slices.Grow(buf, len(vals)*binary.MaxVarintLen64)
	dst := buf[:cap(buf)]
	if or < 1<<28 {
		// At most four bytes each: the bytes are spread without a
		// branch (sizes that vary from row to row defeat the branch
		// predictor), four stored at once.
		for _, v := range vals {
			d := (*[4]byte)(dst[p:])
			x := uint32(v)
			n := varintLen[bits.Len32(x)]
			w := x&0x7f | x<<1&0x7f00 | x<<2&0x7f0000 | x<<3&0x7f000000 | 0x808080&(1<<(8*(n-1))-1)
			binary.LittleEndian.PutUint32(d[:], w)
			p += int(n)
		}
		return dst[:p]
	}
	for _, v := range vals {
		// Room was made for every value: one bounds check a value.
		d := (*[binary.MaxVarintLen64]byte)(dst[p:])
		switch {
		case v < 1<<7:
			d[0] = byte(v)
			p++
		case v < 1<<14:
			d[0] = byte(v) | 0x80
			d[1] = byte(v >> 7)
			p += 2
		case v < 1<<21:
			d[0] = byte(v) | 0x80
			d[1] = byte(v>>7) | 0x80
			d[2] = byte(v >> 14)
			p += 3
		default:
			i := 0
			for v >= 0x80 && i < len(d)-1 {
				d[i] = byte(v) | 0x80
				v >>= 7
				i++
			}
			d[i] = byte(v)
			p += i + 1
		}
	}
	return dst[:p]
}

// varintLen is the length of the uvarint of a value of 0 to 32 bits.
var varintLen = [33]uint32{1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5}

// addrs appends the addresses a.
func (c *colEnc) addrs(a []netip.Addr) {
	p := len(c.buf)
	c.buf = slices.Grow(c.buf, 17*len(a))
	dst := c.buf[:cap(c.buf)]
	for i := range a {
		// Room was made for every address: one bounds check each.
		d := (*[17]byte)(dst[p:])
		switch ip := &a[i]; {
		case ip.Is4():
			b := ip.As4()
			d[0], d[1], d[2], d[3], d[4] = 4, b[0], b[1], b[2], b[3]
			p += 5
			c.nz = 1
		case ip.Is6():
			b := ip.As16()
			d[0] = 16
			copy(d[1:], b[:])
			p += 17
			c.nz = 1
		default:
			d[0] = 0
			p++
		}
	}
	c.buf = dst[:p]
}

// packAddrs appends one ColPacked block of addresses: when they are all
// IPv4, as the 32-bit numbers they are (a width byte, the zigzag of the
// least less the previous block's least, each less the least in w bytes);
// else the byte 0xff and the addresses as ColAddr writes them. A column
// whose addresses have all been none so far writes nothing (zeros).
func (c *colEnc) packAddrs(a []netip.Addr) {
	var u [packBlock]uint32
	lo, hi := ^uint32(0), uint32(0)
	v4 := true
	for i := range a {
		if !a[i].Is4() {
			v4 = false
			break
		}
		b := a[i].As4()
		x := binary.BigEndian.Uint32(b[:])
		u[i] = x
		lo = min(lo, x)
		hi = max(hi, x)
	}
	if !v4 && c.nz == 0 {
		none := true
		for i := range a {
			none = none && !a[i].IsValid()
		}
		if none {
			c.zeros += len(a)
			return
		}
	}
	if len(c.buf) == 0 {
		c.buf = append(c.buf, byte(c.typ)) // ColPacked's first byte
	}
	for ; c.zeros > 0; c.zeros -= min(c.zeros, packBlock) {
		c.buf = append(c.buf, 0xff)
		c.buf = append(c.buf, make([]byte, min(c.zeros, packBlock))...)
	}
	c.nz = 1
	if !v4 {
		c.buf = append(c.buf, 0xff)
		c.addrs(a)
		return
	}
	w := (bits.Len32(hi-lo) + 7) >> 3
	p := len(c.buf)
	c.buf = slices.Grow(c.buf, 2+binary.MaxVarintLen64+len(a)*w+4)
	dst := c.buf[:cap(c.buf)]
	dst[p] = byte(w)
	p = len(binary.AppendUvarint(dst[:p+1], zigzag(int64(lo)-c.prev)))
	c.prev = int64(lo)
	// Room was made for 4 bytes past the last value.
	for _, x := range u[:len(a)] {
		binary.LittleEndian.PutUint32((*[4]byte)(dst[p:])[:], x-lo)
		p += w
	}
	c.buf = dst[:p]
}

func (t *tableEnc) reset() {
	t.rows, t.n = 0, 0
	for i := range t.cols {
		t.cols[i].reset()
	}
	t.set[0].reset()
	t.set[1].reset()
	for _, c := range t.tags {
		c.reset()
		c.mark, c.rows = 0, 0
	}
}

// keyState is what an Encoder knows about one tag key.
type keyState struct {
	key    string
	cache  []cacheEnt
	shift  uint
	fills  int
	cols   [3][2]*tagCol // ColTagString columns per table type, per side
	setCol *tagCol       // the key's column in the tag set table
}

const (
	keyCacheBits = 6
	setCacheBits = 15
)

// setHot and setCold cache the codes of one side's tags (see nhash)
// and their row in the batch's tag set table. The hot part, what a hit
// reads, is one cache line.
type setHot struct {
	h1, h2   uint64 // the 128-bit NH hash of the tags' string addresses and lengths
	set      uint32 // index+1 in the tag set table of batch setBatch; with TagSetIDs, the ColTagSetRef code: odd, a row of batch setBatch; even, the set's dictionary id (any batch)
	batch    uint32 // 0, or the batch of the inline codes among the codes
	setBatch uint32
	ids      uint8  // codes that are dictionary ids
	dups     uint8  // tags dropped: their key came again (the last one is kept)
	n        uint16 // tags; 0 for an empty slot and for a side of more than maxSetTags (never hits)
}

// setEnt is one tag of a cached tag set: its code<<24 | the index of its
// column in the tag set table (codes are below 2^34, a table has fewer
// than 2^24 columns). A slot's entries are in Encoder.setEnts (setStride,
// two cache lines, a slot) or, when more, in its setCold.
type setEnt uint64

const setStride = 16

// setWays is the associativity of the tag set cache: a slot is four
// entries in two 64-byte lines. Two ways were not enough: the few buckets
// that three of an agent's busy endpoints fall in (about 1 in 400 with
// 8,000 endpoints) refilled a slot for nearly every row of them.
const setWays = 4

type setCold struct {
	keep []unsafe.Pointer // keeps the strings whose addresses are hashed alive
	ents []setEnt         // the entries of a set of more than setStride tags
}

// maxSetTags is the most tags a side may have for its tag set to be
// cached: the hash has keys for that many.
const maxSetTags = 32

type keyCacheEnt struct {
	key string
	ks  *keyState
}

type cacheEnt struct {
	s     string
	code  uint64
	batch uint32 // 0: a dictionary id (valid for the epoch); else the batch of an inline code
}

const (
	cacheMinBits = 8
	cacheMaxBits = 14
)

// NewEncoder returns an Encoder.
func NewEncoder(cfg *EncoderConfig) (*Encoder, error) {
	e := &Encoder{keys: make(map[string]*keyState), strs: make(map[string]uint32)}
	for i := range e.nh {
		e.nh[i] = rand.Uint64()
	}
	e.listKey = rand.Uint64()
	if cfg != nil {
		e.cfg = *cfg
	}
	if e.cfg.Level == 0 {
		e.cfg.Level = zstd.SpeedFastest
	}
	if e.cfg.NoCompression {
		e.cfg.Compression = CompressNone
	}
	if e.cfg.Compression > CompressZstdBody {
		return nil, errors.New("encoding: unknown Compression")
	}
	if e.cfg.Compression == CompressZstd && e.cfg.Uvarints {
		e.cfg.Compression = CompressZstdBody
	}
	if e.cfg.Compression == CompressZstd || e.cfg.Compression == CompressZstdBody {
		z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(e.cfg.Level), zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
		if err != nil {
			return nil, err
		}
		e.zenc = z
	}
	if e.cfg.TagSetIDs && !e.cfg.TagStrings {
		e.lists = make([]listEnt, 1<<listCacheBits)
		e.listGen = 1
	}
	e.l4 = &tableEnc{typ: TableL4, cols: newCols(l4Columns), addrC: [2]int{l4IP0, l4IP1}}
	e.l7 = &tableEnc{typ: TableL7, cols: newCols(l7Columns), addrC: [2]int{l7IP0, l7IP1}}
	e.sets = &tableEnc{typ: TableTagSets}
	for _, t := range []*tableEnc{e.l4, e.l7} {
		t.set[0] = colEnc{name: "tagset_0", typ: ColTagSet}
		t.set[1] = colEnc{name: "tagset_1", typ: ColTagSet}
		if e.cfg.TagSetIDs {
			t.set[0] = colEnc{name: "tagsetid_0", typ: ColTagSetRef}
			t.set[1] = colEnc{name: "tagsetid_1", typ: ColTagSetRef}
		}
		t.packed = !e.cfg.Uvarints
	}
	e.start()
	return e, nil
}

func newCols(spec []colSpec) []colEnc {
	c := make([]colEnc, len(spec))
	for i, s := range spec {
		c[i] = colEnc{name: s.name, typ: s.typ}
	}
	return c
}

// start begins a batch.
func (e *Encoder) start() {
	e.batchIDs, e.noIDs = 0, false
	e.batch++
	if e.batch == 0 {
		e.batch = 1
		e.flushCaches()
	}
	clear(e.strs)
	e.strList = append(e.strList[:0], "")
	if d := e.cfg.Dict; d != nil {
		if g := d.gen.Load(); g != e.dictGen {
			e.dictGen = g
			e.flushCaches()
		}
		e.epoch, e.version = d.Version()
	}
}

// dictChanged handles a dictionary that was replaced (a first sync or a
// resync) during a batch: the cached ids are dropped; a batch that holds no
// id yet adopts the new epoch, one that does keeps its epoch and sends the
// rest of its values as strings (ids of the new dictionary would not mean
// the same as the ones already written).
func (e *Encoder) dictChanged(d *AgentDict) {
	e.dictGen = d.gen.Load()
	e.flushCaches()
	if e.batchIDs == 0 {
		e.epoch, e.version = d.Version()
	} else {
		e.noIDs = true
	}
}

func (e *Encoder) flushCaches() {
	e.listGen++
	if e.listGen == 0 {
		clear(e.lists)
		e.listGen = 1
	}
	clear(e.setHot)
	for _, k := range e.keys {
		clear(k.cache)
	}
}

// Rows returns the number of rows in the batch being built.
func (e *Encoder) Rows() int { return e.l4.rows + e.l7.rows }

// Stats returns the encoder's counters.
func (e *Encoder) Stats() EncoderStats { return e.stats }

// AddL4 adds an l4_flow_log record to the batch.
func (e *Encoder) AddL4(r *flow.Record) {
	t := e.l4
	n := t.n
	s := &t.st
	s[l4FlowID][n] = uint64(int64(r.FlowID))
	s[l4StartTime][n] = uint64(r.StartTime)
	s[l4EndTime][n] = uint64(r.EndTime)
	s[l4Duration][n] = zigzag(r.Duration)
	t.addrs[0][n] = r.IP0
	t.addrs[1][n] = r.IP1
	s[l4ClientPort][n] = uint64(r.ClientPort)
	s[l4ServerPort][n] = uint64(r.ServerPort)
	s[l4Protocol][n] = uint64(r.Protocol)
	s[l4VLAN][n] = uint64(r.VLAN)
	s[l4TunnelType][n] = uint64(r.TunnelType)
	s[l4L7Protocol][n] = uint64(e.protoStr(t, r.L7Protocol))
	s[l4CloseType][n] = uint64(r.CloseType)
	s[l4Snapshot][n] = b2u(r.Snapshot)
	s[l4PacketTx][n] = r.PacketTx
	s[l4PacketRx][n] = r.PacketRx
	s[l4ByteTx][n] = r.ByteTx
	s[l4ByteRx][n] = r.ByteRx
	s[l4L4ByteTx][n] = r.L4ByteTx
	s[l4L4ByteRx][n] = r.L4ByteRx
	s[l4RTT][n] = opt(r.RTT, r.HasRTT)
	s[l4RTTClient][n] = opt(r.RTTClient, r.HasRTTClient)
	s[l4RTTServer][n] = opt(r.RTTServer, r.HasRTTServer)
	s[l4SRTMax][n] = uint64(r.SRTMax)
	s[l4SRTSum][n] = uint64(r.SRTSum)
	s[l4SRTCount][n] = uint64(r.SRTCount)
	s[l4ARTMax][n] = uint64(r.ARTMax)
	s[l4ARTSum][n] = uint64(r.ARTSum)
	s[l4ARTCount][n] = uint64(r.ARTCount)
	s[l4RetransTx][n] = uint64(r.RetransTx)
	s[l4RetransRx][n] = uint64(r.RetransRx)
	s[l4ZeroWinTx][n] = uint64(r.ZeroWinTx)
	s[l4ZeroWinRx][n] = uint64(r.ZeroWinRx)
	s[l4OOOTx][n] = uint64(r.OOOTx)
	s[l4OOORx][n] = uint64(r.OOORx)
	s[l4SynCount][n] = uint64(r.SynCount)
	s[l4SynAckCount][n] = uint64(r.SynAckCount)
	s[l4RetransSyn][n] = uint64(r.RetransSyn)
	s[l4RetransSynAck][n] = uint64(r.RetransSynAck)
	s[l4FinCount][n] = uint64(r.FinCount)
	s[l4L7Request][n] = uint64(r.L7Request)
	s[l4L7Response][n] = uint64(r.L7Response)
	s[l4L7ClientError][n] = uint64(r.L7ClientError)
	s[l4L7ServerError][n] = uint64(r.L7ServerError)
	s[l4L7ServerTimeout][n] = uint64(r.L7ServerTimeout)
	e.tags(t, &r.Tags)
	t.rows++
	if t.n++; t.n == stageRows {
		t.flush()
	}
}

// AddL7 adds an l7_flow_log record to the batch.
func (e *Encoder) AddL7(r *l7.Record) {
	t := e.l7
	n := t.n
	s := &t.st
	s[l7FlowID][n] = uint64(int64(r.FlowID))
	s[l7StartTime][n] = uint64(r.StartTime)
	s[l7EndTime][n] = uint64(r.EndTime)
	t.addrs[0][n] = r.Client.Addr()
	t.addrs[1][n] = r.Server.Addr()
	s[l7ClientPort][n] = uint64(r.Client.Port())
	s[l7ServerPort][n] = uint64(r.Server.Port())
	s[l7Protocol][n] = uint64(r.Transport)
	s[l7L7Protocol][n] = uint64(e.protoStr(t, r.L7Protocol))
	s[l7IsTLS][n] = b2u(r.IsTLS)
	s[l7HasRequest][n] = b2u(r.HasRequest)
	s[l7HasResponse][n] = b2u(r.HasResponse)
	s[l7Version][n] = uint64(e.bstr(r.Version))
	s[l7ReqTCPSeq][n] = uint64(r.ReqTCPSeq)
	s[l7RespTCPSeq][n] = uint64(r.RespTCPSeq)
	s[l7RequestLength][n] = zigzag(int64(r.RequestLength))
	s[l7ResponseLength][n] = zigzag(int64(r.ResponseLength))
	s[l7CapturedRequestByte][n] = uint64(r.CapturedRequestByte)
	s[l7CapturedResponseByte][n] = uint64(r.CapturedResponseByte)
	s[l7RequestType][n] = uint64(e.bstr(r.RequestType))
	s[l7RequestDomain][n] = uint64(e.bstr(r.RequestDomain))
	s[l7RequestResource][n] = uint64(e.bstr(r.RequestResource))
	s[l7Endpoint][n] = uint64(e.bstr(r.Endpoint))
	s[l7RequestID][n] = opt(r.RequestID, r.HasRequestID)
	s[l7ResponseStatus][n] = opt(uint32(r.Status), r.HasStatus)
	if r.HasResponseCode {
		s[l7ResponseCode][n] = zigzag(int64(r.ResponseCode)) + 1
	} else {
		s[l7ResponseCode][n] = 0
	}
	s[l7ResponseException][n] = uint64(e.bstr(r.ResponseException))
	s[l7ResponseResult][n] = uint64(e.bstr(r.ResponseResult))
	s[l7TraceID][n] = uint64(e.bstr(r.TraceID))
	s[l7SpanID][n] = uint64(e.bstr(r.SpanID))
	s[l7ParentSpanID][n] = uint64(e.bstr(r.ParentSpanID))
	s[l7XRequestID0][n] = uint64(e.bstr(r.XRequestID0))
	s[l7XRequestID1][n] = uint64(e.bstr(r.XRequestID1))
	s[l7UserAgent][n] = uint64(e.bstr(r.UserAgent))
	s[l7ProcessID0][n] = uint64(r.ProcessID0)
	s[l7ProcessID1][n] = uint64(r.ProcessID1)
	s[l7ProcessKName0][n] = uint64(e.knameStr(0, r.ProcessKName0))
	s[l7ProcessKName1][n] = uint64(e.knameStr(1, r.ProcessKName1))
	s[l7SyscallTraceIDRequest][n] = r.SyscallTraceIDRequest
	s[l7SyscallTraceIDResponse][n] = r.SyscallTraceIDResponse
	s[l7SyscallThread0][n] = uint64(r.SyscallThread0)
	s[l7SyscallThread1][n] = uint64(r.SyscallThread1)
	s[l7SyscallCoroutine0][n] = r.SyscallCoroutine0
	s[l7SyscallCoroutine1][n] = r.SyscallCoroutine1
	s[l7TapSide][n] = 0
	if side := e.tapSide(r); side != 0 {
		s[l7TapSide][n] = uint64(e.pointStr(side))
	}
	s[l7AgentID][n] = 0
	if e.cfg.AgentID != "" {
		s[l7AgentID][n] = uint64(e.pointStr(agentSlot))
	}
	e.tags(t, &r.Tags)
	t.rows++
	if t.n++; t.n == stageRows {
		t.flush()
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func opt(v uint32, ok bool) uint64 {
	if ok {
		return uint64(v) + 1
	}
	return 0
}

// str returns the index of s in the batch's string table.
func (e *Encoder) str(s string) uint32 {
	if s == "" {
		return 0
	}
	if i, ok := e.strs[s]; ok {
		return i
	}
	i := uint32(len(e.strList))
	e.strList = append(e.strList, s)
	e.strs[s] = i
	return i
}

// protoStr is str for l7_protocol, with the last values remembered in
// slots picked by their address: the protocol names are a few constants.
func (e *Encoder) protoStr(t *tableEnc, s string) uint32 {
	p := &t.proto[strHash(s)>>62]
	if p.batch == e.batch && same(p.s, s) {
		return p.i
	}
	i := e.str(s)
	p.s, p.i, p.batch = s, i, e.batch
	return i
}

// bstr is str for bytes: the lookup does not allocate; a new string is
// copied once per batch.
func (e *Encoder) bstr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	if i, ok := e.strs[string(b)]; ok {
		return i
	}
	return e.str(string(b))
}

// tags writes the tag columns of one row: with TagStrings, one string
// column per key and side; otherwise the two tag set columns.
func (e *Encoder) tags(t *tableEnc, s *tag.Set) {
	if e.cfg.TagStrings {
		t.setSt[0][t.n], t.setSt[1][t.n] = 0, 0
		e.tagStrings(t, s)
		return
	}
	if d := e.cfg.Dict; d != nil && d.gen.Load() != e.dictGen {
		e.dictChanged(d)
	}
	if e.setHot == nil {
		e.setHot = make([]setHot, 1<<setCacheBits)
		e.setCold = make([]setCold, 1<<setCacheBits)
		e.setEnts = make([]setEnt, setStride<<setCacheBits)
	}
	l0, l1 := s.List(tag.Client), s.List(tag.Server)
	if e.lists != nil && !e.noIDs {
		// TagSetIDs: a side whose List's set id is known is that id, one
		// load.
		set0, ok0 := e.listCode(l0)
		set1, ok1 := e.listCode(l1)
		if (ok0 || l0 == nil && len(s.Side(tag.Client)) == 0) && (ok1 || l1 == nil && len(s.Side(tag.Server)) == 0) {
			t.setSt[0][t.n], t.setSt[1][t.n] = set0, set1
			e.batchIDs++
			return
		}
	}
	// Both sides are keyed and looked up before either is used, so that
	// the two cache lines are fetched at the same time. A side with a
	// tag.List (a tagging stage attached it) is keyed by the list's
	// address; another by the NH hash of its strings.
	ts0, ts1 := s.Side(tag.Client), s.Side(tag.Server)
	lo0, hi0, ok0 := e.setKey(ts0, l0)
	lo1, hi1, ok1 := e.setKey(ts1, l1)
	i0, hit0 := e.probe(lo0, hi0, len(ts0), ok0, -1)
	i1, hit1 := e.probe(lo1, hi1, len(ts1), ok1, i0)
	// A side found but not yet in this batch's tag set table is written
	// there from its entries: load both sides' first entries now, so that
	// the two cache misses overlap.
	// (A set known by its dictionary id, TagSetIDs, needs no entries.)
	var touch setEnt
	if hit0 && e.needEnts(&e.setHot[i0]) {
		touch ^= e.setEnts[i0*setStride]
	}
	if hit1 && e.needEnts(&e.setHot[i1]) {
		touch ^= e.setEnts[i1*setStride]
	}
	e.touch = touch
	var set0, set1 uint64
	if len(ts0) > 0 {
		set0 = e.tagSet(ts0, l0, ok0, i0, hit0)
	}
	if len(ts1) > 0 {
		set1 = e.tagSet(ts1, l1, ok1, i1, hit1)
	}
	t.setSt[0][t.n] = set0
	t.setSt[1][t.n] = set1
	if e.lists != nil && !e.noIDs {
		if l0 != nil && set0&1 == 0 && set0 != 0 {
			e.addList(l0, set0)
		}
		if l1 != nil && set1&1 == 0 && set1 != 0 {
			e.addList(l1, set1)
		}
	}
}

// listEnt is an entry of the Encoder's cache of the set ids of tag.Lists
// (TagSetIDs): a side with a List (a tagging stage's, immutable) found
// here is its set's id with one load, not a lookup in the tag set cache
// (a quarter of its size: it stays in the processor's second-level
// cache). The entry keeps the list referenced, so its address cannot come
// back as another list.
type listEnt struct {
	l    *tag.List
	code uint32 // the ColTagSetRef code: the set's id<<1
	gen  uint32 // Encoder.listGen when filled
}

// The list cache: 1<<listCacheBits entries in buckets of listWays (one
// 64-byte line).
const (
	listCacheBits = 14
	listWays      = 4
)

// listBucket returns the first entry of l's bucket in the list cache.
func listBucket(l *tag.List) int {
	return int(uint64(uintptr(unsafe.Pointer(l)))*0x9E3779B97F4A7C15>>(64-listCacheBits)) &^ (listWays - 1)
}

// listCode returns the code of l's set id from the list cache; ok is
// false when l is nil or not there.
func (e *Encoder) listCode(l *tag.List) (code uint64, ok bool) {
	if l == nil {
		return 0, false
	}
	w := (*[listWays]listEnt)(e.lists[listBucket(l):])
	for i := range w {
		if w[i].l == l && w[i].gen == e.listGen {
			return uint64(w[i].code), true
		}
	}
	return 0, false
}

// addList puts l's set id code into the list cache: in a way of its
// bucket that is stale, else in one picked in turn.
func (e *Encoder) addList(l *tag.List, code uint64) {
	w := (*[listWays]listEnt)(e.lists[listBucket(l):])
	i := 0
	for ; i < listWays; i++ {
		if w[i].gen != e.listGen || w[i].l == l {
			break
		}
	}
	if i == listWays {
		e.listNext++
		i = int(e.listNext % listWays)
	}
	w[i] = listEnt{l: l, code: uint32(code), gen: e.listGen}
}

// setKey returns the tag set cache's key of a side's tags ts: for a side
// with a List l, the list's address and the encoder's random listKey (the
// List is immutable, and the cache keeps it referenced while it holds the
// key, so no other list can have that address: the key can only match the
// same list, and an NH hash of strings matches it with a chance of
// 2^-128); otherwise the NH hash of the strings (nhash). ok is false for a
// side that is not cached (more than maxSetTags tags, or strings nhash
// cannot key).
func (e *Encoder) setKey(ts []tag.Tag, l *tag.List) (lo, hi uint64, ok bool) {
	if l != nil {
		e.stats.ListSides++
		return uint64(uintptr(unsafe.Pointer(l))), e.listKey, len(ts) <= maxSetTags
	}
	return e.nhash(ts)
}

// tagSet returns the index+1 of the tags ts (of the List l, or nil) in the
// batch's tag set table, adding them when they are new: i and hit are the
// slot of the tag set cache and whether it holds ts (probe), ok whether
// ts may be cached (setKey).
func (e *Encoder) tagSet(ts []tag.Tag, l *tag.List, ok bool, i int, hit bool) uint64 {
	hot := &e.setHot[i]
	if hit {
		e.stats.SetHits++
		if hot.setBatch == e.batch {
			return uint64(hot.set)
		}
		if e.cfg.TagSetIDs && hot.set&1 == 0 && hot.setBatch != 0 {
			// The set's dictionary id, valid in every batch of the
			// epoch.
			hot.setBatch = e.batch
			e.batchIDs++
			e.stats.SetIDs++
			return uint64(hot.set)
		}
	} else {
		e.fillSet(i, hot, ts, l, ok)
	}
	if e.cfg.TagSetIDs && hot.batch == 0 && hot.n != 0 {
		// Every tag has an id: the set may have one too.
		if id := e.setID(e.ents(i, len(ts)-int(hot.dups))); id != 0 {
			hot.set, hot.setBatch = id<<1, e.batch
			e.batchIDs++
			e.stats.SetIDs++
			e.stats.DupTags += uint64(hot.dups)
			return uint64(id) << 1
		}
	}
	// A new row of the tag set table: a column that has no value for the
	// rows since its last one gets zeros (absent) first.
	sets := e.sets
	row := sets.rows + 1
	ents := e.ents(i, len(ts)-int(hot.dups))
	cols := sets.tags
	for _, ent := range ents {
		col := cols[ent&(1<<24-1)]
		if pad := row - 1 - col.rows; pad > 0 {
			col.buf = append(col.buf, make([]byte, pad)...)
		}
		col.u(uint64(ent >> 24))
		col.rows = row
	}
	sets.rows = row
	e.batchIDs += int(hot.ids)
	e.stats.TagIDs += uint64(hot.ids)
	e.stats.TagInline += uint64(len(ents) - int(hot.ids))
	e.stats.DupTags += uint64(hot.dups)
	code := uint32(row)
	if e.cfg.TagSetIDs {
		code = uint32(row-1)<<1 | 1
	}
	hot.set, hot.setBatch = code, e.batch
	return uint64(code)
}

// setID returns the dictionary id of the tag set of the entries ents
// (codes that are all ids), 0 when the Dict has none: its TagSetKey value
// (FORMAT.md) is built in e.canon, sorted by key.
func (e *Encoder) setID(ents []setEnt) uint32 {
	d := e.cfg.Dict
	if d == nil || e.noIDs || e.epoch == 0 || len(ents) > maxSetTags {
		return 0
	}
	var sorted [maxSetTags]setEnt
	n := copy(sorted[:], ents)
	cols := e.sets.tags
	name := func(x setEnt) string { return cols[x&(1<<24-1)].name }
	for a := 1; a < n; a++ { // insertion sort: 15 or so tags
		for b := a; b > 0 && name(sorted[b]) < name(sorted[b-1]); b-- {
			sorted[b], sorted[b-1] = sorted[b-1], sorted[b]
		}
	}
	buf := e.canon[:0]
	for _, x := range sorted[:n] {
		k := name(x)
		if !setKeyOK(k) {
			return 0
		}
		buf = appendSetPair(buf, k, uint32(x>>25))
	}
	e.canon = buf
	id, ep, ok := d.lookup(TagSetKey, unsafe.String(unsafe.SliceData(buf), len(buf)))
	if !ok || ep != e.epoch || id > MaxIDs {
		return 0
	}
	return id
}

// needEnts reports whether a side found in slot hot will read its
// entries: it is not yet in this batch, and not known by its set's
// dictionary id.
func (e *Encoder) needEnts(hot *setHot) bool {
	return hot.setBatch != e.batch && !(e.cfg.TagSetIDs && hot.set&1 == 0 && hot.setBatch != 0)
}

// ents returns the n entries of slot i.
func (e *Encoder) ents(i, n int) []setEnt {
	if n <= setStride {
		return e.setEnts[i*setStride : i*setStride+n]
	}
	return e.setCold[i].ents[:n]
}

// fillSet computes the codes of the tags ts (of the List l, or nil) into
// slot i of the tag set cache, keeping l and the strings referenced; a
// side that may not be cached (!ok) never hits.
func (e *Encoder) fillSet(i int, hot *setHot, ts []tag.Tag, l *tag.List, ok bool) {
	e.stamp++
	cold := &e.setCold[i]
	var ents []setEnt
	if len(ts) <= setStride {
		ents = e.setEnts[i*setStride : i*setStride : (i+1)*setStride]
	} else {
		ents = cold.ents[:0]
	}
	keep := cold.keep[:0]
	if l != nil {
		keep = append(keep, unsafe.Pointer(l))
	}
	dups := 0
	for _, tg := range ts {
		if l == nil { // a List keeps its strings
			keep = append(keep, unsafe.Pointer(unsafe.StringData(tg.Key)), unsafe.Pointer(unsafe.StringData(tg.Value)))
		}
		// Keys are few and usually the same strings (constants of the
		// tagging stage): a slot picked by the string's address.
		ke := &e.keyCache[strHash(tg.Key)>>(64-keyCacheBits)]
		ks := ke.ks
		if ks == nil || ke.key != tg.Key {
			ks = e.keyState(tg.Key)
			*ke = keyCacheEnt{key: tg.Key, ks: ks}
		}
		col := ks.setCol
		if col == nil {
			col = &tagCol{colEnc: colEnc{name: ks.key, typ: ColTag}, index: len(e.sets.tags)}
			e.sets.tags = append(e.sets.tags, col)
			ks.setCol = col
		}
		ent := setEnt(e.code(ks, tg.Value)<<24 | uint64(col.index))
		if col.mark == e.stamp {
			// The key again: the last value is kept.
			dups++
			for j := range ents {
				if ents[j]&(1<<24-1) == ent&(1<<24-1) {
					ents[j] = ent
				}
			}
			continue
		}
		col.mark = e.stamp
		ents = append(ents, ent)
	}
	if len(ts) > setStride {
		cold.ents = ents
	}
	cold.keep = keep
	hot.batch, hot.ids, hot.dups, hot.n = 0, 0, uint8(dups), uint16(len(ts))
	if !ok {
		hot.n = 0
	}
	for _, ent := range ents {
		if ent>>24&1 == 0 {
			hot.ids++
		} else {
			hot.batch = e.batch
		}
	}
}

// tagStrings writes one ColTagString column per key and side.
func (e *Encoder) tagStrings(t *tableEnc, s *tag.Set) {
	row := t.rows + 1
	for side := range 2 {
		for _, tg := range s.Side(tag.Side(side)) {
			ke := &e.keyCache[strHash(tg.Key)>>(64-keyCacheBits)]
			ks := ke.ks
			if ks == nil || ke.key != tg.Key {
				ks = e.keyState(tg.Key)
				*ke = keyCacheEnt{key: tg.Key, ks: ks}
			}
			col := ks.cols[t.typ][side]
			if col == nil {
				col = e.newTagCol(t, ks, ks.key+"_"+string('0'+byte(side)), ColTagString)
				ks.cols[t.typ][side] = col
			}
			if col.mark == row {
				e.stats.DupTags++
			}
			col.curS, col.mark = tg.Value, row
		}
	}
	for _, col := range t.tags {
		if col.mark != row {
			col.buf = append(col.buf, 0)
			continue
		}
		col.buf = append(binary.AppendUvarint(col.buf, uint64(len(col.curS))+1), col.curS...)
		col.nz = 1
	}
}

// strHash mixes the address and length of a string's bytes.
func strHash(s string) uint64 {
	return (uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))) ^ uint64(len(s))<<48) * 0x9E3779B97F4A7C15
}

// same reports whether a and b are the same string: the same bytes at the
// same address. Strings are immutable, and the cache holds its own
// reference to a, so the bytes cannot have been reused for another value.
func same(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// nhash hashes a side's tags for the tag set cache: records of one
// endpoint share the very same tag strings (a tagging stage hands out
// interned values), and one lookup then replaces one per tag. The hash is
// NH (UMAC's: the sum of (a+k)*(b+k') over pairs of 64-bit words, mod
// 2^128, with random keys k), over one word per string: its address and
// its length (below 2^48 and 2^16; ok is false otherwise, and for more
// than maxSetTags tags: such a side is not cached). A hit is the 128 bits
// matching: the cache holds its own references to the strings it hashed,
// so no other string can have their addresses, and NH makes a collision of
// two different lists a 2^-64 event. The multiplications are independent:
// the hash costs a few cycles a tag.
func (e *Encoder) nhash(ts []tag.Tag) (lo, hi uint64, ok bool) {
	n := len(ts)
	if n > maxSetTags {
		return 0, 0, false
	}
	return nhashGo(unsafe.Pointer(unsafe.SliceData(ts)), n, &e.nh[0])
}

// nhashGo is nhash's loop over the n tags at p, keys at k (2n of them).
// No bounds checks (n is at most maxSetTags, the keys' count / 2), and
// few live values. The high words are summed without the carries of the
// low ones: a collision of (lo, hi) is a difference of NH values below
// n*2^64, at most 2n*2^-64 likely.
func nhashGo(p unsafe.Pointer, n int, k *uint64) (lo, hi uint64, ok bool) {
	var ptrs, lens uint64
	for i := 0; i < n; i++ {
		t := (*tagHdr)(unsafe.Add(p, i*tagSize))
		kk := (*[2]uint64)(unsafe.Add(unsafe.Pointer(k), i*16))
		ptrs |= uint64(t.kp | t.vp)
		lens |= uint64(t.kl | t.vl)
		h, l := bits.Mul64(uint64(t.vp)|uint64(t.vl)<<48+kk[0], uint64(t.kp)|uint64(t.kl)<<48+kk[1])
		lo += l
		hi += h
	}
	return lo, hi, ptrs>>48|lens>>16 == 0
}

// tagHdr is the memory of a tag.Tag: its strings' addresses and lengths.
type tagHdr struct {
	kp, kl, vp, vl uintptr
}

const tagSize = int(unsafe.Sizeof(tag.Tag{}))

// The layout nhash reads: a compile error if tag.Tag is not two strings.
var (
	_ [unsafe.Sizeof(tagHdr{}) - unsafe.Sizeof(tag.Tag{})]struct{}
	_ [unsafe.Sizeof(tag.Tag{}) - unsafe.Sizeof(tagHdr{})]struct{}
	_ [unsafe.Offsetof(tag.Tag{}.Value) - unsafe.Offsetof(tagHdr{}.vp)]struct{}
	_ [unsafe.Offsetof(tagHdr{}.vp) - unsafe.Offsetof(tag.Tag{}.Value)]struct{}
)

// probe looks up the hash of a side of n tags in the tag set cache and
// returns its slot and whether it hit; on a miss, the slot to fill (never
// avoid, the other side's slot), marked empty.
func (e *Encoder) probe(lo, hi uint64, n int, ok bool, avoid int) (int, bool) {
	base := int(((lo^hi)*0x9E3779B97F4A7C15)>>(64-setCacheBits)) &^ (setWays - 1)
	for w := range setWays {
		hot := &e.setHot[base+w]
		if hot.h1 == lo && hot.h2 == hi && int(hot.n) == n && ok &&
			(hot.batch == 0 || hot.batch == e.batch) && !(e.noIDs && hot.ids > 0) {
			return base + w, true
		}
	}
	// Replace a way not used by this batch (the first), else the last;
	// never avoid.
	i := base + setWays - 1
	for w := range setWays {
		if e.setHot[base+w].setBatch != e.batch && base+w != avoid {
			i = base + w
			break
		}
	}
	if i == avoid {
		i--
	}
	hot := &e.setHot[i]
	hot.h1, hot.h2, hot.setBatch, hot.n = lo, hi, 0, 0
	return i, false
}

func (e *Encoder) keyState(key string) *keyState {
	ks := e.keys[key]
	if ks == nil {
		ks = &keyState{key: clone(key)}
		e.keys[ks.key] = ks
	}
	return ks
}

// newTagCol adds a tag column to t; the rows before the current one are
// absent.
func (e *Encoder) newTagCol(t *tableEnc, ks *keyState, name string, typ ColumnType) *tagCol {
	col := &tagCol{colEnc: colEnc{name: name, typ: typ}}
	col.buf = make([]byte, t.rows, max(t.rows, 1024))
	t.tags = append(t.tags, col)
	return col
}

// code returns the ColTag code of value v under key ks.
func (e *Encoder) code(ks *keyState, v string) uint64 {
	if ks.cache == nil {
		ks.shift = 64 - cacheMinBits
		ks.cache = make([]cacheEnt, 1<<cacheMinBits)
	}
	h := strHash(v) >> ks.shift
	ent := &ks.cache[h]
	if ent.s == v && (ent.batch == 0 || ent.batch == e.batch) && ent.code != 0 {
		return ent.code
	}
	var code uint64
	var batch uint32
	if d := e.cfg.Dict; d != nil {
		if id, ep, ok := d.lookup(ks.key, v); ok && ep == e.epoch && ep != 0 && !e.noIDs {
			code = uint64(id) << 1
		}
	}
	if code == 0 {
		code = uint64(e.str(v))<<1 | 1
		batch = e.batch
	}
	if ent.code != 0 {
		ks.fills++
		if ks.fills > 2<<(64-ks.shift) && ks.shift > 64-cacheMaxBits {
			// Too many values for the cache: double it.
			ks.shift--
			ks.cache = make([]cacheEnt, 1<<(64-ks.shift))
			ks.fills = 0
			h = strHash(v) >> ks.shift
			ent = &ks.cache[h]
		}
	}
	// The cache keeps the caller's string and compares contents, so a hit
	// is right whatever the address; the address only picks the slot.
	*ent = cacheEnt{s: v, code: code, batch: batch}
	return code
}

// AppendFrame appends the batch as one frame to dst, starts a new batch
// and returns the extended slice. A batch with no rows still makes a frame
// (it carries the dictionary version). The only error is ErrTooLarge, for
// a body of 4 GiB or more (the batch is dropped).
func (e *Encoder) AppendFrame(dst []byte) ([]byte, error) {
	version := e.version
	if d := e.cfg.Dict; d != nil {
		if ep, v := d.Version(); ep == e.epoch && !e.noIDs {
			version = v
		}
	}
	b := e.body[:0]
	b = binary.AppendUvarint(b, e.epoch)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendUvarint(b, uint64(len(e.strList)-1))
	colZstd := e.cfg.Compression == CompressZstd
	if colZstd {
		// The strings, and a zstd frame of them where it pays.
		raw := e.zraw[:0]
		for _, s := range e.strList[1:] {
			raw = appendString(raw, s)
		}
		e.zraw = raw
		b = e.appendZstd(b, raw, &e.strZ)
	} else {
		for _, s := range e.strList[1:] {
			b = appendString(b, s)
		}
	}
	e.l4.flush()
	e.l7.flush()
	for _, col := range e.sets.tags {
		if pad := e.sets.rows - col.rows; pad > 0 {
			col.buf = append(col.buf, make([]byte, pad)...)
			col.rows = e.sets.rows
		}
	}
	tables := [...]*tableEnc{e.sets, e.l4, e.l7}
	ntab := 0
	for _, t := range tables {
		if t.rows > 0 {
			ntab++
		}
	}
	b = binary.AppendUvarint(b, uint64(ntab))
	for _, t := range tables {
		if t.rows == 0 {
			continue
		}
		b = binary.AppendUvarint(b, uint64(t.typ))
		b = binary.AppendUvarint(b, uint64(t.rows))
		n := 0
		for i := range t.cols {
			if t.cols[i].nz != 0 {
				n++
			}
		}
		for i := range t.set {
			if t.set[i].nz != 0 {
				n++
			}
		}
		for _, c := range t.tags {
			if c.nz != 0 {
				n++
			}
		}
		b = binary.AppendUvarint(b, uint64(n))
		for i := range t.cols {
			b = e.appendColumn(b, &t.cols[i], t.packed, colZstd)
		}
		for i := range t.set {
			b = e.appendColumn(b, &t.set[i], t.packed, colZstd)
		}
		for _, c := range t.tags {
			b = e.appendColumn(b, &c.colEnc, false, colZstd)
		}
		if t != e.sets {
			e.stats.Rows += uint64(t.rows)
		}
	}
	e.body = b
	start := len(dst)
	if uint64(len(b)) > math.MaxUint32 {
		e.reset()
		return dst[:start], ErrTooLarge
	}
	minor, flags := uint8(1), uint16(0)
	if !e.cfg.Uvarints {
		minor, flags = minorPacked, FlagPacked
	}
	if e.cfg.TagSetIDs {
		minor, flags = Minor, flags|FlagTagSetIDs
	}
	if colZstd {
		flags |= FlagColumnZstd
	}
	switch e.cfg.Compression {
	case CompressS2:
		dst = appendHeader(dst, minor, flags|FlagS2, 0, len(b))
		dst = slices.Grow(dst, s2.MaxEncodedLen(len(b)))
		dst = dst[:len(dst)+len(s2.Encode(dst[len(dst):], b))]
	case CompressZstdBody:
		dst = appendHeader(dst, minor, flags|FlagZstd, 0, len(b))
		dst = e.zenc.EncodeAll(b, dst)
	default:
		dst = appendHeader(dst, minor, flags, 0, len(b))
		dst = append(dst, b...)
	}
	frame := dst[start:]
	binary.LittleEndian.PutUint32(frame[8:], uint32(len(frame)-HeaderSize))
	sealFrame(frame)
	e.stats.Frames++
	e.stats.BodyBytes += uint64(len(b))
	e.stats.FrameBytes += uint64(len(frame))
	e.reset()
	return dst, nil
}

// reset starts a new batch.
func (e *Encoder) reset() {
	e.l4.reset()
	e.l7.reset()
	e.sets.reset()
	e.start()
}

// appendColumn appends column c to the body b: as ColPacked when packed
// (and its type packs), zstd-compressed (ColZstd) when colZstd and it
// pays.
func (e *Encoder) appendColumn(b []byte, c *colEnc, packed, colZstd bool) []byte {
	if c.nz == 0 {
		return b
	}
	b = appendString(b, c.name)
	typ, data := c.typ, c.buf
	if packed && c.typ != ColTag && c.typ != ColTagString {
		typ = ColPacked // pack and packAddrs wrote c.typ first
	}
	if colZstd && len(data) >= zstdMin && (c.z.on || e.batch >= c.z.next || e.batch < c.z.next-zstdRetry) {
		z := e.zenc.EncodeAll(data, e.zbuf[:0])
		e.zbuf = z
		n := len(z) + uvarintLen(uint64(len(data)))
		if c.z.on = zstdPays(n, len(data)); c.z.on {
			b = append(b, byte(typ|ColZstd))
			b = binary.AppendUvarint(b, uint64(n))
			b = binary.AppendUvarint(b, uint64(len(data)))
			return append(b, z...)
		}
		c.z.next = e.batch + zstdRetry
	}
	b = append(b, byte(typ))
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// appendZstd appends the string table raw (the strings of the body) as
// FORMAT.md says for FlagColumnZstd: a uvarint 0 and raw, or the uvarint
// length of a zstd frame of raw, raw's length and the frame.
func (e *Encoder) appendZstd(b, raw []byte, z *zstdState) []byte {
	if len(raw) >= zstdMin && (z.on || e.batch >= z.next || e.batch < z.next-zstdRetry) {
		zb := e.zenc.EncodeAll(raw, e.zbuf[:0])
		e.zbuf = zb
		if z.on = zstdPays(len(zb)+uvarintLen(uint64(len(raw))), len(raw)); z.on {
			b = binary.AppendUvarint(b, uint64(len(zb)))
			b = binary.AppendUvarint(b, uint64(len(raw)))
			return append(b, zb...)
		}
		z.next = e.batch + zstdRetry
	}
	b = append(b, 0)
	return append(b, raw...)
}

// uvarintLen is the length of the uvarint of v.
func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }
