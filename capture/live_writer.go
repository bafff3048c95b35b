package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrWriterSnaplen is wrapped by NewPcapWriter for a snapshot length out of
// range.
var ErrWriterSnaplen = errors.New("capture: pcap writer snaplen out of range")

// PcapWriter writes packets as a classic pcap file with nanosecond
// timestamps (magic 0xa1b23c4d, host byte order), readable by tcpdump,
// Wireshark and this package's file source.
//
// It issues two writes per packet and does no buffering of its own: wrap w
// in a bufio.Writer (and flush it) for files. A PcapWriter is not safe for
// concurrent use.
type PcapWriter struct {
	w       io.Writer
	link    LinkType
	snaplen int
	hdr     [16]byte
}

// NewPcapWriter writes the file header to w and returns a writer for
// packets of one link type. Packets longer than snaplen (1 to 262144; 0
// means 262144) are cut to it.
func NewPcapWriter(w io.Writer, link LinkType, snaplen int) (*PcapWriter, error) {
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	if snaplen < 1 || snaplen > DefaultSnaplen {
		return nil, fmt.Errorf("%w: %d", ErrWriterSnaplen, snaplen)
	}
	pw := &PcapWriter{w: w, link: link, snaplen: snaplen}
	var h [24]byte
	binary.NativeEndian.PutUint32(h[0:], 0xa1b23c4d)
	binary.NativeEndian.PutUint16(h[4:], 2) // version 2.4
	binary.NativeEndian.PutUint16(h[6:], 4)
	// thiszone and sigfigs stay 0.
	binary.NativeEndian.PutUint32(h[16:], uint32(snaplen))
	binary.NativeEndian.PutUint32(h[20:], uint32(link))
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("capture: write pcap header: %w", err)
	}
	return pw, nil
}

// WritePacket appends one packet. Its Data is cut to the writer's snaplen;
// its Length (at least len(Data)) is recorded as the original length. A
// packet of another link type than the writer's is an error, since a pcap
// file has one.
func (pw *PcapWriter) WritePacket(p *Packet) error {
	if p.LinkType != pw.link {
		return fmt.Errorf("capture: write pcap: packet link type %v in a %v file", p.LinkType, pw.link)
	}
	data := p.Data
	if len(data) > pw.snaplen {
		data = data[:pw.snaplen]
	}
	length := max(p.Length, len(p.Data))
	ts := p.Timestamp
	binary.NativeEndian.PutUint32(pw.hdr[0:], uint32(ts.Unix()))
	binary.NativeEndian.PutUint32(pw.hdr[4:], uint32(ts.Nanosecond()))
	binary.NativeEndian.PutUint32(pw.hdr[8:], uint32(len(data)))
	binary.NativeEndian.PutUint32(pw.hdr[12:], uint32(length))
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return fmt.Errorf("capture: write pcap record: %w", err)
	}
	if _, err := pw.w.Write(data); err != nil {
		return fmt.Errorf("capture: write pcap record: %w", err)
	}
	return nil
}
