package capture

import (
	"encoding/binary"
	"fmt"
)

// Classic pcap magic numbers, as read in the writer's byte order.
const (
	pcapMagicMicro    = 0xa1b2c3d4
	pcapMagicNano     = 0xa1b23c4d
	pcapMagicModified = 0xa1b2cd34 // Alexey Kuznetsov's patched libpcap: 24-byte record headers

	pcapFileHeaderLen = 24
)

func isPcapMagic(b []byte) bool {
	for _, m := range [...]uint32{binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b)} {
		if m == pcapMagicMicro || m == pcapMagicNano || m == pcapMagicModified {
			return true
		}
	}
	return false
}

// readPcapHeader reads the 24-byte pcap file header.
func (s *FileSource) readPcapHeader() error {
	h := s.hdr[:pcapFileHeaderLen]
	if err := s.readFull(h, 0, false); err != nil {
		return err
	}
	s.format = formatPcap
	s.order = binary.LittleEndian
	magic := s.order.Uint32(h)
	if magic != pcapMagicMicro && magic != pcapMagicNano && magic != pcapMagicModified {
		s.order = binary.BigEndian
		magic = s.order.Uint32(h)
	}
	s.nano = magic == pcapMagicNano
	s.modified = magic == pcapMagicModified
	if major := s.order.Uint16(h[4:]); major != 2 {
		return &FormatError{Offset: 4, Err: fmt.Errorf("%w: pcap %d", errBadVersion, major)}
	}
	s.snaplen = s.order.Uint32(h[16:])
	// The upper bits of the link type field carry FCS information
	// (LT_FCS_DATAVALID etc.); the link type is the low 16 bits.
	s.link = LinkType(s.order.Uint32(h[20:]) & 0xffff)
	return nil
}

// readPcapRecord reads one pcap record header and its data.
func (s *FileSource) readPcapRecord(p *Packet) error {
	start := s.off
	hlen := 16
	if s.modified {
		hlen = 24
	}
	h, err := s.next(hlen, start, true)
	if err != nil {
		return err
	}
	sec := s.order.Uint32(h)
	frac := s.order.Uint32(h[4:])
	caplen := s.order.Uint32(h[8:])
	orig := s.order.Uint32(h[12:])
	if caplen > MaxRecordSize {
		return &FormatError{Offset: start, Err: fmt.Errorf("%w: captured length %d", errRecordTooLong, caplen)}
	}
	data, err := s.next(int(caplen), start, false)
	if err != nil {
		return err
	}
	setLengths(p, data, orig)
	p.Timestamp = unixTime(int64(sec), uint64(frac), s.nano)
	p.LinkType = s.link
	p.Interface = 0
	return nil
}
