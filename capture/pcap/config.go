package pcap

import "time"

// Config configures Open. The zero value is not usable: Interface is
// required.
type Config struct {
	// Interface is the device to capture on ("any" on Linux for all; on
	// Windows an \Device\NPF_{GUID} name). Required.
	Interface string
	// Snaplen caps the bytes captured per packet. Default 262144; at most
	// 262144.
	Snaplen int
	// Promiscuous puts the interface in promiscuous mode. Default off.
	Promiscuous bool
	// Timeout is the libpcap buffer timeout: the longest a packet waits in
	// the kernel buffer, and the longest Close waits for a blocked reader.
	// Default 50 ms; between 1 ms and 10 s.
	Timeout time.Duration
	// BufferSize is the kernel buffer in bytes. Default 16 MiB; at most
	// 1 GiB.
	BufferSize int
	// Filter is a tcpdump-syntax expression compiled and attached by
	// libpcap. Default: none.
	Filter string
	// Immediate delivers each packet as soon as it arrives instead of in
	// batches (more CPU per packet). Default off.
	Immediate bool
}

// Defaults and limits of Config.
const (
	DefaultSnaplen    = 262144
	DefaultTimeout    = 50 * time.Millisecond
	DefaultBufferSize = 16 << 20
	MaxBufferSize     = 1 << 30
)
