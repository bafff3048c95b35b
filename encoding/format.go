package encoding

import (
	"encoding/binary"
	"hash/crc32"
)

// Frame layout (FORMAT.md is the reference):
//
//	0  magic "MFEB"
//	4  major version (1)
//	5  minor version (2; 1.0 and 1.1 frames are read too)
//	6  flags, uint16 little endian: bits 0-7 required, 8-15 optional
//	8  payload length, uint32 little endian
//	12 body length (decompressed), uint32 little endian
//	16 CRC32C (Castagnoli) of bytes 0-15 and the payload, uint32 little endian
//	20 payload: the body, compressed as FlagZstd or FlagS2 say
const HeaderSize = 20

// Format versions this package writes and reads.
const (
	Major = 1
	Minor = 3
)

// minorPacked is the minor version of frames without FlagTagSetIDs: what a
// 1.2 decoder reads.
const minorPacked = 2

var frameMagic = [4]byte{'M', 'F', 'E', 'B'}

// Frame flags. The low byte holds required flags: a decoder that finds one
// it does not know rejects the frame (ErrFlags). The high byte holds
// optional flags, which a decoder ignores when it does not know them.
const (
	FlagZstd uint16 = 1 << 0 // the payload is one zstd frame holding the body
	FlagS2   uint16 = 1 << 1 // the payload is one S2 block holding the body (since 1.1)
	// FlagPacked says that the body holds ColPacked columns (since 1.2):
	// a decoder that does not know them would take those columns for
	// unknown ones, and their rows for absent.
	FlagPacked uint16 = 1 << 2
	// FlagColumnZstd says that columns may be compressed one by one
	// (since 1.2): a column type with bit 7 set (ColZstd) holds the zstd
	// frame of the data of the type without it.
	FlagColumnZstd uint16 = 1 << 3
	// FlagTagSetIDs says that record sides may name their tag sets by
	// dictionary ids (since 1.3): ColTagSetRef columns, whose ids are
	// values of the reserved key TagSetKey, and that the agent wants the
	// server to assign ids to the batch's new tag sets (Resolve).
	FlagTagSetIDs uint16 = 1 << 4
	requiredMask  uint16 = 0x00ff
	knownFlags           = FlagZstd | FlagS2 | FlagPacked | FlagColumnZstd | FlagTagSetIDs
)

// TagSetKey is the reserved dictionary key of whole tag sets (format 1.3,
// FlagTagSetIDs): its values are a side's tags as "key=id" pairs of their
// dictionary ids, sorted by key and joined by commas ("az=2,pod=17"), and
// a value's id names the set in ColTagSetRef columns. No tag may have
// this key.
const TagSetKey = "@tagset"

// TableType says which records a table holds. A decoder decodes tables of
// any type (every column names itself); it is the reader's business to
// ignore types it does not know.
type TableType uint8

// Table types.
const (
	TableL4 TableType = 1 // l4_flow_log rows
	TableL7 TableType = 2 // l7_flow_log rows
	// TableTagSets holds the distinct tag sets of the batch, one a row, a
	// ColTag column per key (named after the key); ColTagSet columns of the
	// other tables refer to its rows. At most one a batch.
	TableTagSets TableType = 3
)

// ColumnType says how a column's values are encoded. The types a decoder
// does not know are kept as raw bytes (Column.Raw), never an error.
type ColumnType uint8

// Column types. Every value is a uvarint unless said otherwise; zigzag maps
// signed to unsigned (0, -1, 1, -2 ... to 0, 1, 2, 3 ...).
const (
	ColUvarint    ColumnType = 1  // unsigned integers
	ColVarint     ColumnType = 2  // signed integers, zigzag
	ColDelta      ColumnType = 3  // signed integers, zigzag of the difference from the previous row (the first from 0)
	ColOptUvarint ColumnType = 4  // 0: absent, else value+1
	ColOptVarint  ColumnType = 5  // 0: absent, else zigzag(value)+1
	ColString     ColumnType = 6  // index in the batch's string table, 0 the empty string
	ColTag        ColumnType = 7  // 0: absent; id<<1: dictionary id; index<<1|1: a string of the batch's table
	ColAddr       ColumnType = 8  // one length byte (0, 4 or 16) and the address bytes
	ColTagString  ColumnType = 9  // 0: absent, else the length+1 and the bytes of the value
	ColTagSet     ColumnType = 10 // "tagset_0", "tagset_1": 0 no tags, else index+1 of a row of the TableTagSets table
	// ColTagSetRef ("tagsetid_0", "tagsetid_1"; since 1.3, FlagTagSetIDs):
	// 0 no tags; id<<1: the dictionary id of a tag set (a value of
	// TagSetKey); index<<1|1: the row index (from 0) of the TableTagSets
	// table. Decode expands the rows of the table, Resolve the ids.
	ColTagSetRef ColumnType = 12
	// ColPacked (since 1.2, FlagPacked) holds the values of the type of
	// its first byte (ColUvarint, ColVarint, ColDelta, ColOptUvarint,
	// ColOptVarint, ColString, ColTagSet or ColTagSetRef) in blocks of packBlock rows of
	// a fixed width each: a width byte w (0 to 8), the zigzag uvarint of
	// the block's least value less the previous block's (the first less
	// 0), and each value less the least in w bytes, little endian. The
	// values are the ones the type writes as uvarints (zigzag for
	// ColVarint, value+1 for the optional types), but for ColDelta: the
	// values themselves, not their differences. A decoder reports the
	// column with the type of the first byte.
	ColPacked ColumnType = 11
	// ColZstd is a bit of a column's type (since 1.2, FlagColumnZstd): the
	// data is the uvarint length of the column's data and the zstd frame
	// of it, a column of the type without the bit.
	ColZstd ColumnType = 0x80
)

// packBlock is the rows of a ColPacked block.
const packBlock = 64

func appendHeader(b []byte, minor uint8, flags uint16, payload, body int) []byte {
	b = append(b, frameMagic[:]...)
	b = append(b, Major, minor)
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(payload))
	b = binary.LittleEndian.AppendUint32(b, uint32(body))
	return append(b, 0, 0, 0, 0)
}

// sealFrame writes the checksum of a frame whose header and payload are in
// place.
func sealFrame(frame []byte) {
	c := crc32.Update(0, castagnoli, frame[:16])
	c = crc32.Update(c, castagnoli, frame[HeaderSize:])
	binary.LittleEndian.PutUint32(frame[16:], c)
}

// FrameLen returns the total length of the frame whose header starts hdr
// (at least HeaderSize bytes), to read a stream of frames: read HeaderSize
// bytes, then FrameLen(hdr)-HeaderSize more. Errors: ErrMagic, ErrVersion,
// ErrTruncated (short header), ErrTooLarge (beyond max, when max > 0).
func FrameLen(hdr []byte, max int) (int, error) {
	if len(hdr) < HeaderSize {
		return 0, ErrTruncated
	}
	if [4]byte(hdr[:4]) != frameMagic {
		return 0, ErrMagic
	}
	if hdr[4] != Major {
		return 0, ErrVersion
	}
	n := int64(binary.LittleEndian.Uint32(hdr[8:])) + HeaderSize
	if max > 0 && n > int64(max) {
		return 0, ErrTooLarge
	}
	return int(n), nil
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
