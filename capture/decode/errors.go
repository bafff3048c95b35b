package decode

import (
	"errors"
	"strconv"
)

// Sentinel errors, matched with errors.Is on the *DecodeError that Decode
// returns.
var (
	// ErrTruncated: the capture ends inside a header that is needed to
	// identify the packet (link or IP header).
	ErrTruncated = errors.New("decode: truncated")
	// ErrMalformed: a header field is impossible (bad version, header length
	// shorter than its minimum, length beyond the enclosing packet).
	ErrMalformed = errors.New("decode: malformed")
	// ErrUnsupported: the link type or an encapsulation is not decoded.
	ErrUnsupported = errors.New("decode: unsupported")
	// ErrNotIP: a well-formed frame that carries no IP packet (ARP, LLDP,
	// STP, ...). Counted in Stats.NotIP; not an alarm.
	ErrNotIP = errors.New("decode: not IP")
)

// DecodeError says which layer failed, at which byte offset, and why (one
// of the sentinels above). The offset counts from the start of the frame,
// or from the start of the reassembly buffer for a reassembled datagram.
//
// The *DecodeError returned by Decode belongs to the Decoder and is
// overwritten by its next Decode, like Meta.Payload; copy the struct to
// keep it. This keeps every path, the error paths included, free of
// allocations.
type DecodeError struct {
	Layer  string // "ethernet", "vlan", "mpls", "ipv4", "ipv6", "tcp", "gre", ...
	Offset int    // byte offset of the failing header or field
	Err    error  // ErrTruncated, ErrMalformed, ErrUnsupported or ErrNotIP
}

func (e *DecodeError) Error() string {
	return e.Layer + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }
