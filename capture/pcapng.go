package capture

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"
)

// pcapng block types (the draft-ietf-opsawg-pcapng numbering).
const (
	pcapngSHB = 0x0a0d0d0a // section header; a palindrome, so byte-order free
	pcapngIDB = 0x00000001 // interface description
	pcapngPB  = 0x00000002 // obsolete packet block
	pcapngSPB = 0x00000003 // simple packet block
	pcapngEPB = 0x00000006 // enhanced packet block

	pcapngBOM = 0x1a2b3c4d // byte-order magic inside the SHB

	optEndOfOpt = 0
	optTsresol  = 9
	optTsoffset = 14
)

// pcapngInterface is what a packet needs from its interface description.
type pcapngInterface struct {
	link     LinkType
	snaplen  uint32
	units    uint64 // timestamp units per second (if_tsresol)
	tsoffset int64  // seconds added to every timestamp (if_tsoffset)
}

// readFirstSection reads the section header that must open a pcapng file.
func (s *FileSource) readFirstSection() error {
	btype, blen, err := s.readBlockHeader(0, false)
	if err != nil {
		return err
	}
	if btype != pcapngSHB {
		return &FormatError{Offset: 0, Err: errBadMagic}
	}
	return s.readSectionHeader(0, blen)
}

// readBlockHeader reads a block's type and total length (and, for a
// section header, its byte-order magic, which sets s.order) and checks the
// length.
func (s *FileSource) readBlockHeader(start int64, atBoundary bool) (btype, blen uint32, err error) {
	h := s.hdr[:8]
	if err := s.readFull(h, start, atBoundary); err != nil {
		return 0, 0, err
	}
	btype = binary.LittleEndian.Uint32(h)
	if btype == pcapngSHB {
		bom := s.hdr[8:12]
		if err := s.readFull(bom, start, false); err != nil {
			return 0, 0, err
		}
		switch {
		case binary.LittleEndian.Uint32(bom) == pcapngBOM:
			s.order = binary.LittleEndian
		case binary.BigEndian.Uint32(bom) == pcapngBOM:
			s.order = binary.BigEndian
		default:
			return 0, 0, &FormatError{Offset: start, Err: fmt.Errorf("%w: section header byte-order magic %#x", errBadMagic, bom)}
		}
	} else {
		btype = s.order.Uint32(h)
	}
	blen = s.order.Uint32(h[4:])
	if blen < 12 || blen%4 != 0 || blen > maxBlockSize {
		return 0, 0, &FormatError{Offset: start, Err: fmt.Errorf("%w: %d", errBadBlockLen, blen)}
	}
	return btype, blen, nil
}

// finishBlock skips to the block's trailing length and checks it. read is
// how many bytes of the block have been read.
func (s *FileSource) finishBlock(start int64, blen, read uint32) error {
	if read+4 > blen {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: %d", errBadBlockLen, blen)}
	}
	if err := s.discard(int64(blen-read-4), start); err != nil {
		return err
	}
	t := s.hdr[28:32]
	if err := s.readFull(t, start, false); err != nil {
		return err
	}
	if trailer := s.order.Uint32(t); trailer != blen {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: leading %d, trailing %d", errBadBlockLen, blen, trailer)}
	}
	return nil
}

// readSectionHeader reads the rest of a section header whose first 12 bytes
// have been read, and starts a new section.
func (s *FileSource) readSectionHeader(start int64, blen uint32) error {
	if blen < 28 {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: section header of %d bytes", errBadBlockLen, blen)}
	}
	h := s.hdr[12:24] // version major, minor, section length
	if err := s.readFull(h, start, false); err != nil {
		return err
	}
	if major := s.order.Uint16(h); major != 1 {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: pcapng %d", errBadVersion, major)}
	}
	s.ifaces = s.ifaces[:0]
	return s.finishBlock(start, blen, 24)
}

// readInterface reads an interface description block.
func (s *FileSource) readInterface(start int64, blen uint32) error {
	if blen < 20 {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: interface description of %d bytes", errBadBlockLen, blen)}
	}
	body := s.data(int(blen - 12))
	if err := s.readFull(body, start, false); err != nil {
		return err
	}
	ifc := pcapngInterface{
		link:    LinkType(s.order.Uint16(body)),
		snaplen: s.order.Uint32(body[4:]),
		units:   1e6,
	}
	// Options are read leniently: a malformed one ends the list.
	opts := body[8:]
	for len(opts) >= 4 {
		code, olen := s.order.Uint16(opts), int(s.order.Uint16(opts[2:]))
		opts = opts[4:]
		if code == optEndOfOpt || olen > len(opts) {
			break
		}
		v := opts[:olen]
		switch {
		case code == optTsresol && olen >= 1:
			ifc.units = tsUnits(v[0])
		case code == optTsoffset && olen >= 8:
			ifc.tsoffset = int64(s.order.Uint64(v))
		}
		pad := (olen + 3) &^ 3
		if pad > len(opts) {
			break
		}
		opts = opts[pad:]
	}
	s.ifaces = append(s.ifaces, ifc)
	return s.finishBlock(start, blen, blen-4)
}

// tsUnits returns the timestamp units per second of an if_tsresol value:
// 10^v, or 2^(v&0x7f) when the top bit is set. Resolutions that do not fit
// 64 bits fall back to the default, microseconds.
func tsUnits(v byte) uint64 {
	if v&0x80 != 0 {
		if e := v & 0x7f; e < 64 {
			return 1 << e
		}
		return 1e6
	}
	if v > 19 {
		return 1e6
	}
	u := uint64(1)
	for range v {
		u *= 10
	}
	return u
}

// timestamp converts a 64-bit pcapng timestamp of ifc.
func (ifc *pcapngInterface) timestamp(ts uint64) time.Time {
	sec, frac := ts/ifc.units, ts%ifc.units
	// frac < units, so frac*1e9/units fits and Div64 cannot panic.
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, ifc.units)
	return time.Unix(int64(sec)+ifc.tsoffset, int64(ns))
}

// readPcapngPacket reads blocks until a packet block, and fills p from it.
func (s *FileSource) readPcapngPacket(p *Packet) error {
	for {
		start := s.off
		btype, blen, err := s.readBlockHeader(start, true)
		if err != nil {
			return err
		}
		switch btype {
		case pcapngSHB:
			err = s.readSectionHeader(start, blen)
		case pcapngIDB:
			err = s.readInterface(start, blen)
		case pcapngEPB, pcapngPB:
			return s.readEnhancedPacket(p, start, btype, blen)
		case pcapngSPB:
			return s.readSimplePacket(p, start, blen)
		default:
			err = s.finishBlock(start, blen, 8)
		}
		if err != nil {
			return err
		}
	}
}

// readEnhancedPacket reads an enhanced packet block, or an obsolete packet
// block, which differs only in a 16-bit interface id followed by a 16-bit
// drop count.
func (s *FileSource) readEnhancedPacket(p *Packet, start int64, btype, blen uint32) error {
	h := s.hdr[8:28]
	if blen < 32 {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: packet block of %d bytes", errBadBlockLen, blen)}
	}
	if err := s.readFull(h, start, false); err != nil {
		return err
	}
	var id uint32
	if btype == pcapngPB {
		id = uint32(s.order.Uint16(h))
	} else {
		id = s.order.Uint32(h)
	}
	ts := uint64(s.order.Uint32(h[4:]))<<32 | uint64(s.order.Uint32(h[8:]))
	caplen := s.order.Uint32(h[12:])
	orig := s.order.Uint32(h[16:])
	if id >= uint32(len(s.ifaces)) {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: %d", errNoInterface, id)}
	}
	if caplen > MaxRecordSize {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: captured length %d", errRecordTooLong, caplen)}
	}
	if 32+(caplen+3)&^3 > blen {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: %d for %d captured bytes", errBadBlockLen, blen, caplen)}
	}
	data := s.data(int(caplen))
	if err := s.readFull(data, start, false); err != nil {
		return err
	}
	if err := s.finishBlock(start, blen, 28+caplen); err != nil {
		return err
	}
	ifc := &s.ifaces[id]
	setLengths(p, data, orig)
	p.Timestamp = ifc.timestamp(ts)
	p.LinkType = ifc.link
	p.Interface = int(id)
	return nil
}

// readSimplePacket reads a simple packet block: interface 0, no timestamp,
// captured length implied by the block length and the snapshot length.
func (s *FileSource) readSimplePacket(p *Packet, start int64, blen uint32) error {
	if blen < 16 {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: simple packet block of %d bytes", errBadBlockLen, blen)}
	}
	if len(s.ifaces) == 0 {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: 0", errNoInterface)}
	}
	h := s.hdr[8:12]
	if err := s.readFull(h, start, false); err != nil {
		return err
	}
	orig := s.order.Uint32(h)
	ifc := &s.ifaces[0]
	caplen := blen - 16
	if orig < caplen {
		caplen = orig
	}
	if ifc.snaplen != 0 && ifc.snaplen < caplen {
		caplen = ifc.snaplen
	}
	if caplen > MaxRecordSize {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: captured length %d", errRecordTooLong, caplen)}
	}
	data := s.data(int(caplen))
	if err := s.readFull(data, start, false); err != nil {
		return err
	}
	if err := s.finishBlock(start, blen, 12+caplen); err != nil {
		return err
	}
	setLengths(p, data, orig)
	p.Timestamp = time.Time{}
	p.LinkType = ifc.link
	p.Interface = 0
	return nil
}
