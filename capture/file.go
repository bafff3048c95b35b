package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// MaxRecordSize is the largest captured length a file record may carry
// (256 KiB, libpcap's largest snapshot length). A longer record is treated
// as damage: no real capture holds one, and honouring a corrupt length
// would make a reader allocate gigabytes.
const MaxRecordSize = 256 << 10

// maxBlockSize bounds a pcapng block that is not a packet block (name
// resolution, statistics, custom blocks); such blocks are skipped without
// being buffered, so the bound only rejects lengths that cannot be real.
const maxBlockSize = 64 << 20

var (
	errBadMagic      = errors.New("not a pcap or pcapng file")
	errRecordTooLong = errors.New("record longer than 256 KiB")
	errBadBlockLen   = errors.New("bad block total length")
	errBadVersion    = errors.New("unsupported format version")
	errNoInterface   = errors.New("packet refers to an undefined interface")
	errTruncated     = io.ErrUnexpectedEOF
)

type fileFormat uint8

const (
	formatPcap fileFormat = iota + 1
	formatPcapng
)

// FileSource reads packets from a pcap or pcapng stream. The format is
// detected from the magic number:
//
//   - pcap with microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d)
//     timestamps, in either byte order, and the "modified pcap" variant
//     (0xa1b2cd34) whose record headers carry 8 extra bytes;
//   - pcapng with any number of sections (each in its own byte order) and
//     interfaces, each interface with its own link type, snapshot length,
//     timestamp resolution (if_tsresol, decimal or binary) and offset
//     (if_tsoffset). Enhanced, simple and obsolete packet blocks are read;
//     other blocks are skipped.
//
// Packet.Data aliases a buffer owned by the source and reused by the next
// ReadPacket; reading allocates nothing once that buffer has grown to the
// largest record. Damaged input ends the stream with a *FormatError after
// every packet before the damage has been delivered; the error is sticky
// and counted once in Stats().Errors.
//
// A FileSource is not safe for concurrent use, except Stats, which may be
// called from any goroutine, and Close.
type FileSource struct {
	br     *bufio.Reader
	closer io.Closer

	format fileFormat
	order  binary.ByteOrder // of the current pcap file or pcapng section
	off    int64            // input offset of the next unread byte
	hdr    [32]byte         // fixed-size record and block headers
	buf    []byte           // packet data, grown to the largest record
	err    error            // sticky error (damage or end of input)

	// pcap
	link     LinkType
	snaplen  uint32
	nano     bool
	modified bool

	// pcapng: the interfaces of the current section.
	ifaces []pcapngInterface

	closed    atomic.Bool
	packets   atomic.Uint64
	bytes     atomic.Uint64
	truncated atomic.Uint64
	errors    atomic.Uint64
}

var _ Source = (*FileSource)(nil)

// OpenFile opens a pcap or pcapng file. Close closes the file.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := newFileSource(f, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// NewFileSource reads a pcap or pcapng stream from r, reading the file
// header (and, for pcapng, the first section header) before it returns.
// Close does not close r.
func NewFileSource(r io.Reader) (*FileSource, error) {
	return newFileSource(r, nil)
}

func newFileSource(r io.Reader, c io.Closer) (*FileSource, error) {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	s := &FileSource{br: br, closer: c}
	magic, err := br.Peek(4)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &FormatError{Offset: 0, Err: errTruncated}
		}
		return nil, err
	}
	switch {
	case isPcapMagic(magic):
		err = s.readPcapHeader()
	case binary.LittleEndian.Uint32(magic) == pcapngSHB:
		s.format = formatPcapng
		// The first section header is read by the first ReadPacket, like
		// any later one; only check here that it is there and sane.
		err = s.readFirstSection()
	default:
		err = &FormatError{Offset: 0, Err: errBadMagic}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ReadPacket fills p with the next packet. It returns io.EOF at the end of
// the input, a *FormatError for damaged input, and ErrClosed after Close.
func (s *FileSource) ReadPacket(p *Packet) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	var err error
	if s.format == formatPcap {
		err = s.readPcapRecord(p)
	} else {
		err = s.readPcapngPacket(p)
	}
	if err != nil {
		if s.closed.Load() {
			return ErrClosed
		}
		if _, ok := err.(*FormatError); ok {
			s.errors.Add(1)
		}
		s.err = err
		return err
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(p.Data)))
	if len(p.Data) < p.Length {
		s.truncated.Add(1)
	}
	return nil
}

// Stats returns the counters since the source was opened. Packets and Bytes
// count delivered packets, Truncated those captured shorter than their
// original length, and Errors damaged records (at most one: damage ends the
// stream).
func (s *FileSource) Stats() Stats {
	return Stats{
		Packets:   s.packets.Load(),
		Bytes:     s.bytes.Load(),
		Truncated: s.truncated.Load(),
		Errors:    s.errors.Load(),
	}
}

// Close releases the source and closes the file opened by OpenFile.
// ReadPacket returns ErrClosed afterwards.
func (s *FileSource) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// LinkType returns the link type of a pcap file, or of the first interface
// of the current pcapng section (LinkType(0xffff) before one is seen).
// Packets carry their own link type; this is for writers that copy the
// input's header.
func (s *FileSource) LinkType() LinkType {
	if s.format == formatPcap {
		return s.link
	}
	if len(s.ifaces) == 0 {
		return LinkType(0xffff)
	}
	return s.ifaces[0].link
}

// readFull reads exactly len(b) bytes at the current offset. A clean end of
// input before the first byte gives io.EOF when atBoundary is set; any
// other shortfall is damage at recordStart.
func (s *FileSource) readFull(b []byte, recordStart int64, atBoundary bool) error {
	n, err := io.ReadFull(s.br, b)
	s.off += int64(n)
	if err == nil {
		return nil
	}
	if err == io.EOF && atBoundary {
		return io.EOF
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &FormatError{Offset: recordStart, Err: errTruncated}
	}
	return err
}

// next returns the next n bytes of the record starting at recordStart
// (atBoundary: n is its first), as readFull reads them, but without a copy:
// they alias the reader's buffer, valid until its next read (the next
// ReadPacket), unless n exceeds the buffer (then they are read into the
// packet buffer).
func (s *FileSource) next(n int, recordStart int64, atBoundary bool) ([]byte, error) {
	b, err := s.br.Peek(n)
	if err == nil {
		s.br.Discard(n)
		s.off += int64(n)
		return b, nil
	}
	if err == bufio.ErrBufferFull {
		d := s.data(n)
		return d, s.readFull(d, recordStart, atBoundary)
	}
	// Fewer than n bytes are left: the input ends or failed.
	s.br.Discard(len(b))
	s.off += int64(len(b))
	if err == io.EOF && atBoundary && len(b) == 0 {
		return nil, io.EOF
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, &FormatError{Offset: recordStart, Err: errTruncated}
	}
	return nil, err
}

// discard skips n bytes of the record starting at recordStart.
func (s *FileSource) discard(n int64, recordStart int64) error {
	for n > 0 {
		step := n
		if step > 1<<30 {
			step = 1 << 30
		}
		d, err := s.br.Discard(int(step))
		s.off += int64(d)
		n -= int64(d)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return &FormatError{Offset: recordStart, Err: errTruncated}
			}
			return err
		}
	}
	return nil
}

// data returns the reusable packet buffer resized to n bytes.
func (s *FileSource) data(n int) []byte {
	if cap(s.buf) < n {
		c := 2 * cap(s.buf)
		if c < n {
			c = n
		}
		if c < 2048 {
			c = 2048
		}
		s.buf = make([]byte, c)
	}
	return s.buf[:n]
}

// setLengths fills p's lengths from a record's captured and original
// lengths. An original length below the captured one cannot be true; the
// captured length wins.
func setLengths(p *Packet, data []byte, orig uint32) {
	p.Data = data
	if int64(orig) < int64(len(data)) {
		p.Length = len(data)
	} else {
		p.Length = int(orig)
	}
}

// unixTime converts seconds and a fraction in units per second to a time.
func unixTime(sec int64, frac uint64, nano bool) time.Time {
	if nano {
		return time.Unix(sec, int64(frac))
	}
	return time.Unix(sec, int64(frac)*1000)
}
