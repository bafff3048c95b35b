package encoding

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"io"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// deltaMagic starts an encoded Delta; the fourth byte is its version.
var deltaMagic = [4]byte{'M', 'F', 'D', 1}

// MaxDeltaSize bounds an encoded delta read by ParseDelta or ReadFrom.
const MaxDeltaSize = 1 << 30

// AppendBinary appends d's encoding: "MFD\x01", the body length (uint32
// little endian), the body (uvarints: epoch, from, count, then per entry
// key length, key, value length, value, id) and a CRC32C (Castagnoli) of
// all that precedes it. FORMAT.md describes it.
func (d *Delta) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, deltaMagic[:]...)
	b = append(b, 0, 0, 0, 0)
	body := len(b)
	b = binary.AppendUvarint(b, d.Epoch)
	b = binary.AppendUvarint(b, d.From)
	b = binary.AppendUvarint(b, uint64(len(d.Entries)))
	for _, e := range d.Entries {
		b = appendString(b, e.Key)
		b = appendString(b, e.Value)
		b = binary.AppendUvarint(b, uint64(e.ID))
	}
	n := len(b) - body
	if n > MaxDeltaSize {
		return b[:start], ErrTooLarge
	}
	binary.LittleEndian.PutUint32(b[body-4:], uint32(n))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// ParseDelta decodes one delta from the start of b into d (reusing its
// Entries) and returns the bytes it used. Errors: ErrMagic, ErrChecksum,
// ErrTooLarge, or a *FormatError (ErrTruncated, ErrCorrupt). The strings
// of d are copies: they do not alias b.
func ParseDelta(b []byte, d *Delta) (int, error) {
	if len(b) < 8 {
		if len(b) >= 4 && [4]byte(b[:4]) != deltaMagic {
			return 0, ErrMagic
		}
		return 0, &FormatError{Offset: len(b), What: "delta header", Err: ErrTruncated}
	}
	if [4]byte(b[:4]) != deltaMagic {
		return 0, ErrMagic
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > MaxDeltaSize {
		return 0, ErrTooLarge
	}
	total := 8 + int(n) + 4
	if len(b) < total {
		return 0, &FormatError{Offset: len(b), What: "delta body", Err: ErrTruncated}
	}
	if crc32.Checksum(b[:total-4], castagnoli) != binary.LittleEndian.Uint32(b[total-4:]) {
		return 0, ErrChecksum
	}
	r := reader{b: b[8 : total-4], base: 8}
	d.Epoch = r.uvarint("epoch")
	d.From = r.uvarint("from")
	count := r.uvarint("count")
	if r.err == nil && count > uint64(len(r.b)-r.off)/3 { // an entry is at least 3 bytes
		r.fail("count", ErrCorrupt)
	}
	d.Entries = d.Entries[:0]
	for i := uint64(0); i < count && r.err == nil; i++ {
		k := r.bytes("key")
		v := r.bytes("value")
		id := r.uvarint("id")
		if r.err == nil && (id == 0 || id > MaxIDs) {
			r.fail("id", ErrCorrupt)
		}
		d.Entries = append(d.Entries, Entry{Key: string(k), Value: string(v), ID: uint32(id)})
	}
	if r.err == nil && r.off != len(r.b) {
		r.fail("delta end", ErrCorrupt)
	}
	if r.err != nil {
		d.Entries = d.Entries[:0]
		return 0, r.err
	}
	return total, nil
}

// WriteTo writes the whole dictionary as one delta from 0 (a snapshot).
// A server that appends each later delta to the same file (AppendDelta)
// restores exactly what it had, ids and epoch, with ReadFrom.
func (d *Dictionary) WriteTo(w io.Writer) (int64, error) {
	delta, _ := d.Delta(0, 0)
	b, err := delta.AppendBinary(nil)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// AppendDelta writes the assignments after version since to w (a
// journal): call it with the version last written, before handing the new
// ids to agents, and a restore never loses an id an agent holds. It
// returns the version written up to.
func (d *Dictionary) AppendDelta(w io.Writer, since uint64) (uint64, error) {
	delta, err := d.Delta(d.Epoch(), since)
	if err != nil {
		return since, err
	}
	if len(delta.Entries) == 0 {
		return since, nil
	}
	b, err := delta.AppendBinary(nil)
	if err != nil {
		return since, err
	}
	if _, err := w.Write(b); err != nil {
		return since, err
	}
	return delta.To(), nil
}

// ReadFrom replaces the dictionary with the snapshot and deltas read from r
// until io.EOF (what WriteTo and AppendDelta wrote). A journal cut short
// by a crash (a truncated last delta) restores up to its last whole delta
// and returns io.ErrUnexpectedEOF with it; any other error leaves a
// partly restored dictionary that should not be used.
func (d *Dictionary) ReadFrom(r io.Reader) (int64, error) {
	br := bufio.NewReader(r)
	var total int64
	var delta Delta
	var buf []byte
	for {
		var hdr [8]byte
		n, err := io.ReadFull(br, hdr[:])
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, io.ErrUnexpectedEOF
		}
		if [4]byte(hdr[:4]) != deltaMagic {
			return total, ErrMagic
		}
		size := binary.LittleEndian.Uint32(hdr[4:])
		if size > MaxDeltaSize {
			return total, ErrTooLarge
		}
		buf = append(buf[:0], hdr[:]...)
		buf = append(buf, make([]byte, int(size)+4)...)
		m, err := io.ReadFull(br, buf[8:])
		if err != nil {
			return total, io.ErrUnexpectedEOF
		}
		if _, err := ParseDelta(buf, &delta); err != nil {
			return total, err
		}
		if err := d.Apply(&delta); err != nil {
			return total, err
		}
		total += int64(n + m)
	}
}

// reader reads uvarints and length-prefixed bytes from a body, keeping
// the first error as a *FormatError.
type reader struct {
	b    []byte
	off  int
	base int // offset of b in what the error reports
	err  error
}

func (r *reader) fail(what string, err error) {
	if r.err == nil {
		r.err = &FormatError{Offset: r.base + r.off, What: what, Err: err}
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	b := r.b[r.off:]
	if len(b) > 0 && b[0] < 0x80 {
		r.off++
		return uint64(b[0])
	}
	v, n := binary.Uvarint(b)
	if n <= 0 {
		if n == 0 {
			r.fail(what, ErrTruncated)
		} else {
			r.fail(what, ErrCorrupt)
		}
		return 0
	}
	r.off += n
	return v
}

func (r *reader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(what, ErrTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// bytes reads a uvarint length and that many bytes; the slice aliases the
// input.
func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail(what, ErrTruncated)
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}
