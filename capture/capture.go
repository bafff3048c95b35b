package capture

import (
	"errors"
	"fmt"
	"time"
)

// LinkType is a link-layer header type, numbered as in the pcap LINKTYPE_
// registry (which pcap and pcapng files carry).
type LinkType uint16

// Link types understood by capture/decode.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // IEEE 802.3 Ethernet
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte network-order address family
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// String returns the LINKTYPE_ name without its prefix.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "ETHERNET"
	case LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkLinuxSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkLinuxSLL2:
		return "LINUX_SLL2"
	}
	return fmt.Sprintf("LINKTYPE(%d)", uint16(l))
}

// Packet is one captured frame. The caller owns the struct and reuses it
// across calls; Data belongs to the Source and is valid until the next
// ReadPacket or Close on that Source. Copy it to keep it.
type Packet struct {
	Timestamp time.Time // capture time
	Data      []byte    // captured bytes (may be shorter than Length)
	Length    int       // original length on the wire
	LinkType  LinkType  // link-layer header type of Data
	Interface int       // index of the interface within the source (pcapng IDB index; 0 otherwise)
}

// Source delivers packets. See the package documentation for ownership and
// error contracts.
type Source interface {
	// ReadPacket fills p with the next packet. It returns io.EOF at the end
	// of input.
	ReadPacket(p *Packet) error
	// Stats returns counters since the source was opened. Safe for
	// concurrent use.
	Stats() Stats
	// Close releases the source. A ReadPacket blocked in another goroutine
	// returns promptly with ErrClosed.
	Close() error
}

// LiveSource is implemented by sources whose packets arrive in real time
// from a network interface (AF_PACKET, libpcap), as opposed to files. Live
// reports true for them. A consumer of a live source moves its clocks with
// the wall clock while no packet arrives, so that flows that ended on a
// quiet link are still reported.
type LiveSource interface {
	Source
	Live() bool
}

// DeadlineSource is implemented by live sources whose wait for a packet
// can be bounded, as a net.Conn's read can: once the deadline t has
// passed, a ReadPacket that has no packet to return at once returns an
// error matching os.ErrDeadlineExceeded (errors.Is) instead of waiting,
// and the source stays usable; packets already captured are still
// returned past the deadline. A zero t means no deadline. A reader uses
// it to do periodic work (move a clock, hand over partial batches) on a
// quiet link without a second goroutine. SetReadDeadline may be called
// from any goroutine, also while ReadPacket waits; after Close it returns
// ErrClosed.
type DeadlineSource interface {
	Source
	SetReadDeadline(t time.Time) error
}

// BatchSource is implemented by sources that can deliver several packets
// in one call, which saves a reader the per-call costs (a lock, say) of
// each packet. ReadPackets fills ps[:n] and returns n >= 1, waiting only
// for the first packet; or it returns 0 and the error ReadPacket would.
// The Data of all n packets stay valid until the next ReadPacket,
// ReadPackets or Close. A zero-length ps returns 0 and no error.
type BatchSource interface {
	Source
	ReadPackets(ps []Packet) (int, error)
}

// Stats counts what a source saw and what it lost. Counters only grow.
type Stats struct {
	Packets   uint64 // packets delivered to the caller
	Bytes     uint64 // captured bytes delivered
	Filtered  uint64 // packets read but rejected by a filter
	Truncated uint64 // packets delivered with fewer captured bytes than their original length
	Dropped   uint64 // packets the kernel or driver dropped (live sources)
	IfDropped uint64 // packets the interface dropped (live sources, where known)
	Freezes   uint64 // ring freezes reported by the kernel (AF_PACKET TPACKET_V3)
	Errors    uint64 // records that could not be read (damaged input)
}

var (
	// ErrNotSupported is matched (errors.Is) by errors for features the
	// platform, kernel or build lacks.
	ErrNotSupported = errors.New("capture: not supported")
	// ErrClosed is returned by ReadPacket after Close.
	ErrClosed = errors.New("capture: source closed")
	// ErrPermission is matched by errors caused by missing privileges.
	ErrPermission = errors.New("capture: permission denied")
)

// FormatError reports damaged or unsupported file input at a byte offset.
type FormatError struct {
	Offset int64 // byte offset in the input where the damage starts
	Err    error // what is wrong
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("capture: bad input at offset %d: %v", e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }
