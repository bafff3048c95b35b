package capture

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/bpf"
)

// FanoutMode selects how the kernel spreads an interface's packets over the
// sockets of one PACKET_FANOUT group.
type FanoutMode uint8

// Fan-out modes. FanoutNone (the zero value) gives the socket every packet.
const (
	FanoutNone FanoutMode = iota // no fan-out group
	FanoutHash                   // by flow hash: both directions of a flow reach the same socket
	FanoutLB                     // round robin
	FanoutCPU                    // by the CPU that received the packet
)

// String returns the mode's lowercase name.
func (m FanoutMode) String() string {
	switch m {
	case FanoutNone:
		return "none"
	case FanoutHash:
		return "hash"
	case FanoutLB:
		return "lb"
	case FanoutCPU:
		return "cpu"
	}
	return fmt.Sprintf("fanout(%d)", uint8(m))
}

// FilterCompiler turns a tcpdump-syntax filter expression into a classic BPF
// program for a link type and snapshot length. capture/filter's Compile has
// this signature; it is passed in (rather than imported) because that
// package imports this one.
type FilterCompiler func(expr string, link LinkType, snaplen int) ([]bpf.RawInstruction, error)

// Defaults and limits of AFPacketConfig.
const (
	DefaultAFPacketBlockSize    = 1 << 20               // 1 MiB
	DefaultAFPacketNumBlocks    = 16                    // 16 MiB ring in total
	DefaultAFPacketBlockTimeout = 20 * time.Millisecond // latency bound at low packet rates
	DefaultSnaplen              = 262144                // tcpdump's default
	MaxAFPacketBlockSize        = 1 << 27               // 128 MiB
	MaxAFPacketRingSize         = 1 << 32               // 4 GiB (BlockSize * NumBlocks)
)

// AFPacketConfig configures OpenAFPacket. The zero value captures every
// packet of every interface with default ring sizes.
type AFPacketConfig struct {
	// Interface is the name of the interface to capture on. "" or "any"
	// captures on all interfaces (ifindex 0); packets then carry a Linux
	// cooked header (LinkLinuxSLL), as with tcpdump -i any.
	Interface string
	// BlockSize is the size in bytes of one TPACKET_V3 ring block. Default
	// 1 MiB; it must be a multiple of the page size, at most 128 MiB, and
	// larger than Snaplen plus 128 bytes of headers.
	BlockSize int
	// NumBlocks is the number of ring blocks. Default 16; BlockSize*NumBlocks
	// at most 4 GiB.
	NumBlocks int
	// BlockTimeout is how long the kernel fills a block before handing it
	// over partly filled; it bounds delivery latency at low packet rates.
	// Default 20 ms; rounded to whole milliseconds, between 1 ms and 60 s.
	BlockTimeout time.Duration
	// Snaplen caps the bytes captured per packet. Default 262144 (or
	// BlockSize-128 if smaller); at least 64 and at most 262144.
	Snaplen int
	// Promiscuous puts the interface in promiscuous mode for as long as the
	// source is open. Needs CAP_NET_ADMIN in addition to CAP_NET_RAW on some
	// kernels. Default off. Ignored for all interfaces.
	Promiscuous bool
	// Fanout joins the PACKET_FANOUT group FanoutGroup with this mode so
	// that several sources (in one process or several) share the
	// interface's packets, each packet reaching exactly one of them. All
	// members of a group must use the same mode. Default FanoutNone.
	Fanout FanoutMode
	// FanoutGroup is the fan-out group id, 0 to 65535; unique per network
	// namespace. Used only when Fanout is not FanoutNone.
	FanoutGroup uint16
	// FanoutDefrag makes the kernel reassemble IP fragments before choosing
	// a socket, so all fragments of a datagram reach the same one.
	FanoutDefrag bool
	// BPF is a classic BPF program attached in the kernel before the ring:
	// packets it rejects cost nothing in user space (and are not counted
	// in Stats().Filtered). Its return values above Snaplen are lowered to
	// Snaplen. On all interfaces (cooked capture) the kernel runs it on the
	// packet from its network header, so write it for LinkRaw there.
	// Default: none. Mutually exclusive with Filter.
	BPF []bpf.RawInstruction
	// Filter is a tcpdump-syntax filter expression compiled with
	// FilterCompiler for the source's link type (LinkRaw on all
	// interfaces, see BPF) and Snaplen, then attached like BPF. Default:
	// none.
	Filter string
	// FilterCompiler compiles Filter; required when Filter is set. Pass
	// capture/filter's Compile.
	FilterCompiler FilterCompiler

	// uniqueGroup makes the kernel choose an unused fan-out group id
	// (OpenAFPacketFanout's first socket); FanoutGroup is then ignored.
	uniqueGroup bool
}

// MaxFanoutSources is the most sources OpenAFPacketFanout opens: the
// kernel's default limit of sockets in a fan-out group.
const MaxFanoutSources = 256

// errConfig is wrapped by errors for AFPacketConfig values out of range,
// found before any system call.
var errConfig = errors.New("capture: invalid AF_PACKET config")

// withDefaults returns the config with defaults filled in, or an error
// wrapping errConfig.
func (c AFPacketConfig) withDefaults(pageSize int) (AFPacketConfig, error) {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultAFPacketBlockSize
	}
	if c.NumBlocks == 0 {
		c.NumBlocks = DefaultAFPacketNumBlocks
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultAFPacketBlockTimeout
	}
	if c.Snaplen == 0 {
		c.Snaplen = min(DefaultSnaplen, c.BlockSize-128)
	}
	switch {
	case c.BlockSize < 0 || c.BlockSize%pageSize != 0 || c.BlockSize > MaxAFPacketBlockSize:
		return c, fmt.Errorf("%w: BlockSize %d is not a multiple of the page size %d up to %d", errConfig, c.BlockSize, pageSize, MaxAFPacketBlockSize)
	case c.NumBlocks < 0 || uint64(c.NumBlocks)*uint64(c.BlockSize) > MaxAFPacketRingSize:
		return c, fmt.Errorf("%w: NumBlocks %d gives a ring over %d bytes", errConfig, c.NumBlocks, uint64(MaxAFPacketRingSize))
	case c.BlockTimeout < time.Millisecond || c.BlockTimeout > time.Minute:
		return c, fmt.Errorf("%w: BlockTimeout %v outside 1ms..60s", errConfig, c.BlockTimeout)
	case c.Snaplen < 64 || c.Snaplen > DefaultSnaplen:
		return c, fmt.Errorf("%w: Snaplen %d outside 64..%d", errConfig, c.Snaplen, DefaultSnaplen)
	case c.Snaplen+128 > c.BlockSize:
		return c, fmt.Errorf("%w: Snaplen %d does not fit a block of %d bytes", errConfig, c.Snaplen, c.BlockSize)
	case c.Fanout > FanoutCPU:
		return c, fmt.Errorf("%w: unknown fan-out mode %d", errConfig, c.Fanout)
	case c.Filter != "" && len(c.BPF) > 0:
		return c, fmt.Errorf("%w: both Filter and BPF set", errConfig)
	case c.Filter != "" && c.FilterCompiler == nil:
		return c, fmt.Errorf("%w: Filter set without FilterCompiler", errConfig)
	}
	return c, nil
}

// clampBPF returns a copy of prog whose constant return values are at most
// snaplen, so the kernel truncates accepted packets to snaplen. A nil prog
// becomes a program accepting every packet with snaplen bytes.
func clampBPF(prog []bpf.RawInstruction, snaplen int) []bpf.RawInstruction {
	if len(prog) == 0 {
		return []bpf.RawInstruction{{Op: 0x06, K: uint32(snaplen)}} // ret #snaplen
	}
	out := make([]bpf.RawInstruction, len(prog))
	copy(out, prog)
	for i := range out {
		// BPF_RET|BPF_K: class 0x06, source K (0x00).
		if out[i].Op == 0x06 && out[i].K > uint32(snaplen) {
			out[i].K = uint32(snaplen)
		}
	}
	return out
}
