//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Layout of the TPACKET_V3 ring (include/uapi/linux/if_packet.h).
const (
	blkStatusOff   = 8  // tpacket_block_desc.hdr.bh1.block_status
	blkNumPktsOff  = 12 // .num_pkts
	blkFirstPktOff = 16 // .offset_to_first_pkt

	pktNextOff    = 0  // tpacket3_hdr.tp_next_offset
	pktSecOff     = 4  // .tp_sec
	pktNsecOff    = 8  // .tp_nsec
	pktSnaplenOff = 12 // .tp_snaplen
	pktLenOff     = 16 // .tp_len
	pktStatusOff  = 20 // .tp_status
	pktMacOff     = 24 // .tp_mac (u16)
	pktNetOff     = 26 // .tp_net (u16)
	pktVlanTCIOff = 32 // .hv1.tp_vlan_tci
	pktVlanTPOff  = 36 // .hv1.tp_vlan_tpid (u16)
	pktSllOff     = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr)): struct sockaddr_ll
	pktHdrLen     = 68 // TPACKET3_HDRLEN: header plus sockaddr_ll

	sllProtocolOff = pktSllOff + 2  // sockaddr_ll.sll_protocol (network order)
	sllHatypeOff   = pktSllOff + 8  // .sll_hatype
	sllPkttypeOff  = pktSllOff + 10 // .sll_pkttype
	sllHalenOff    = pktSllOff + 11 // .sll_halen
	sllAddrOff     = pktSllOff + 12 // .sll_addr[8]

	sllHdrLen   = 16 // Linux cooked header v1
	frameSize   = 2048
	etherVlanAt = 12 // offset of the EtherType in an Ethernet header
	sllVlanAt   = 14 // offset of the protocol in a cooked header
)

// AFPacketSource captures live packets from a Linux AF_PACKET socket with a
// TPACKET_V3 memory-mapped ring, without cgo.
//
// ReadPacket must be called from one goroutine at a time; Stats and Close
// may be called from any goroutine. Packet.Data aliases a ring block that is
// handed back to the kernel on the next ReadPacket, so it is valid until
// then (or until Close).
type AFPacketSource struct {
	mu     sync.Mutex // held by ReadPacket; Close takes it to wait for the reader
	closed atomic.Bool
	fd     int
	ring   []byte
	// poll is a duplicate of fd in Go's network poller: a reader waits for
	// a block in it without holding a thread in a system call (and making
	// the runtime hand its P to another thread at every wait), and Close
	// wakes it by closing poll.
	poll     *os.File
	pollConn syscall.RawConn
	link     LinkType
	cooked   bool // SOCK_DGRAM: a cooked header is built in front of each packet
	snaplen  int
	blockSz  int
	nblocks  int
	cur      int  // index of the block being read
	held     bool // the current block belongs to user space
	left     uint32
	pktAt    int    // offset in ring of the next packet header
	loopback bool   // the bound interface is a loopback: skip outgoing copies
	group    uint16 // the fan-out group id, with AFPacketConfig.Fanout
	scratch  []byte

	packets, bytes, truncated atomic.Uint64
	// pend counts the packets delivered from the current block, added to
	// the atomic counters once the reader leaves the block or waits (an
	// atomic add per packet cost several percent of a pipeline's time).
	pend struct{ packets, bytes, truncated uint64 }

	statsMu sync.Mutex // guards fd against Close and the kernel counters below
	drops   uint64
	freezes uint64
}

var (
	_ DeadlineSource = (*AFPacketSource)(nil)
	_ BatchSource    = (*AFPacketSource)(nil)
)

// OpenAFPacket opens a live capture on cfg.Interface. Errors match
// ErrPermission when the process lacks CAP_NET_RAW (or CAP_NET_ADMIN for
// promiscuous mode) and ErrNotSupported when the kernel lacks TPACKET_V3 or
// the fan-out mode.
func OpenAFPacket(cfg AFPacketConfig) (*AFPacketSource, error) {
	cfg, err := cfg.withDefaults(os.Getpagesize())
	if err != nil {
		return nil, err
	}
	ifindex := 0
	if cfg.Interface != "" && cfg.Interface != "any" {
		ifi, err := net.InterfaceByName(cfg.Interface)
		if err != nil {
			return nil, fmt.Errorf("capture: interface %q: %w", cfg.Interface, err)
		}
		ifindex = ifi.Index
	}
	s := &AFPacketSource{fd: -1, snaplen: cfg.Snaplen, blockSz: cfg.BlockSize, nblocks: cfg.NumBlocks}
	if err := s.open(cfg, ifindex); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// OpenAFPacketFanout opens n sources on cfg.Interface, joined in a new
// PACKET_FANOUT group, so that n readers share the interface's packets,
// each packet reaching exactly one of them, with no hand-off between the
// readers. The kernel chooses a group id that no other socket in the
// network namespace uses (PACKET_FANOUT_FLAG_UNIQUEID, Linux 4.12 and
// later; cfg.FanoutGroup is ignored). cfg.Fanout defaults to FanoutHash:
// the kernel's symmetric flow hash sends both directions of a TCP or UDP
// conversation to the same source. It hashes the outer headers of a
// tunnel that runs over UDP (VXLAN, Geneve), whose source port differs
// by direction, and IP fragments carry no ports, so with FanoutHash set
// FanoutDefrag too (the kernel then delivers each IPv4 datagram
// reassembled, as one packet); IPv6 fragments are not reassembled.
// Each source has a ring of its own (BlockSize * NumBlocks bytes); every
// other field applies to each. n is between 1 and MaxFanoutSources.
// Errors are those of OpenAFPacket; on an error no source stays open.
func OpenAFPacketFanout(cfg AFPacketConfig, n int) ([]*AFPacketSource, error) {
	if n < 1 || n > MaxFanoutSources {
		return nil, fmt.Errorf("%w: %d fan-out sources, want 1 to %d", errConfig, n, MaxFanoutSources)
	}
	if cfg.Fanout == FanoutNone {
		cfg.Fanout = FanoutHash
	}
	cfg.uniqueGroup = true
	srcs := make([]*AFPacketSource, 0, n)
	for len(srcs) < n {
		s, err := OpenAFPacket(cfg)
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			return nil, err
		}
		if cfg.uniqueGroup {
			cfg.uniqueGroup, cfg.FanoutGroup = false, s.group
		}
		srcs = append(srcs, s)
	}
	return srcs, nil
}

func permissionError(op, capability string, err error) error {
	return fmt.Errorf("%w: %s needs %s (%w)", ErrPermission, op, capability, err)
}

func isPerm(err error) bool { return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) }

func (s *AFPacketSource) open(cfg AFPacketConfig, ifindex int) error {
	// Decide the socket type from the interface's hardware type: link
	// layers the decoders know are captured raw, anything else (and all
	// interfaces at once) cooked.
	sockType := unix.SOCK_DGRAM
	s.link = LinkLinuxSLL
	if ifindex != 0 {
		hatype, err := hardwareType(cfg.Interface)
		if err != nil {
			return err
		}
		switch hatype {
		case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
			sockType, s.link = unix.SOCK_RAW, LinkEthernet
		case unix.ARPHRD_NONE:
			sockType, s.link = unix.SOCK_RAW, LinkRaw
		}
		s.loopback = hatype == unix.ARPHRD_LOOPBACK
	}
	s.cooked = sockType == unix.SOCK_DGRAM

	// Protocol 0: nothing is queued until bind, after the filter is set.
	fd, err := unix.Socket(unix.AF_PACKET, sockType|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if isPerm(err) {
			return permissionError("open AF_PACKET socket", "CAP_NET_RAW", err)
		}
		return fmt.Errorf("capture: open AF_PACKET socket: %w", err)
	}
	s.fd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("capture: set TPACKET_V3: %w (%w)", ErrNotSupported, err)
	}

	prog := cfg.BPF
	if cfg.Filter != "" {
		// A cooked socket's filter sees the packet from its network header.
		link := s.link
		if s.cooked {
			link = LinkRaw
		}
		prog, err = cfg.FilterCompiler(cfg.Filter, link, cfg.Snaplen)
		if err != nil {
			return fmt.Errorf("capture: compile filter: %w", err)
		}
	}
	if err := attachBPF(fd, clampBPF(prog, cfg.Snaplen)); err != nil {
		return err
	}

	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.NumBlocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(cfg.BlockSize / frameSize * cfg.NumBlocks),
		Retire_blk_tov: uint32(cfg.BlockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("capture: set PACKET_RX_RING (%d blocks of %d bytes): %w", cfg.NumBlocks, cfg.BlockSize, err)
	}
	// The ring's pages belong to the kernel; MAP_POPULATE maps them all now
	// so the reader takes no page faults.
	s.ring, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("capture: map ring: %w", err)
	}

	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("capture: bind to %q: %w", cfg.Interface, err)
	}
	if cfg.Promiscuous && ifindex != 0 {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			if isPerm(err) {
				return permissionError("set promiscuous mode", "CAP_NET_ADMIN", err)
			}
			return fmt.Errorf("capture: set promiscuous mode: %w", err)
		}
	}
	if cfg.Fanout != FanoutNone {
		mode := unix.PACKET_FANOUT_HASH
		switch cfg.Fanout {
		case FanoutLB:
			mode = unix.PACKET_FANOUT_LB
		case FanoutCPU:
			mode = unix.PACKET_FANOUT_CPU
		}
		if cfg.FanoutDefrag {
			mode |= unix.PACKET_FANOUT_FLAG_DEFRAG
		}
		group := int(cfg.FanoutGroup)
		if cfg.uniqueGroup {
			group, mode = 0, mode|unix.PACKET_FANOUT_FLAG_UNIQUEID
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, group|mode<<16); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("capture: join fan-out group %d (%v): %w: mode differs from the group's or is unknown to the kernel (%w)", group, cfg.Fanout, ErrNotSupported, err)
			}
			return fmt.Errorf("capture: join fan-out group %d (%v): %w", group, cfg.Fanout, err)
		}
		s.group = cfg.FanoutGroup
		if cfg.uniqueGroup {
			// getsockopt(PACKET_FANOUT): id | type << 16 | flags << 24.
			v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
			if err != nil {
				return fmt.Errorf("capture: read fan-out group id: %w", err)
			}
			s.group = uint16(v)
		}
	}

	if err := s.openPoll(); err != nil {
		return err
	}
	s.scratch = make([]byte, cfg.Snaplen+sllHdrLen+4)
	return nil
}

// hardwareType returns the ARPHRD_ type of a named interface.
func hardwareType(name string) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("capture: interface %q type: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("capture: interface %q type: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, fmt.Errorf("capture: interface %q type: %w", name, err)
	}
	return ifr.Uint16(), nil // ifr_hwaddr.sa_family
}

func attachBPF(fd int, prog []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("capture: attach BPF filter of %d instructions: %w", len(prog), err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// LinkType returns the link type of the packets this source delivers.
func (s *AFPacketSource) LinkType() LinkType { return s.link }

// Snaplen returns the snapshot length in force.
func (s *AFPacketSource) Snaplen() int { return s.snaplen }

func (s *AFPacketSource) blockStatus(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.ring[b*s.blockSz+blkStatusOff]))
}

// ReadPacket blocks until a packet arrives and fills p with it. It returns
// ErrClosed after Close (promptly, also when blocked), and an error wrapping
// the errno if the socket fails, for example unix.ENETDOWN when the
// interface goes away; the source should then be closed.
func (s *AFPacketSource) ReadPacket(p *Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		for s.left > 0 {
			s.left--
			h := s.pktAt
			s.pktAt += int(binary.NativeEndian.Uint32(s.ring[h+pktNextOff:]))
			if s.deliver(h, p) {
				return nil
			}
		}
		if s.nextBlock() {
			continue
		}
		s.publish()
		if err := s.wait(); err != nil {
			return err
		}
	}
}

// nextBlock hands the block the reader holds, if any, back to the kernel
// and takes the next one if the kernel has filled it; it reports whether
// it did.
func (s *AFPacketSource) nextBlock() bool {
	if s.held {
		s.publish()
		atomic.StoreUint32(s.blockStatus(s.cur), unix.TP_STATUS_KERNEL)
		s.held = false
		s.cur++
		if s.cur == s.nblocks {
			s.cur = 0
		}
	}
	if !s.blockReady() {
		return false
	}
	b := s.cur * s.blockSz
	s.held = true
	s.left = binary.NativeEndian.Uint32(s.ring[b+blkNumPktsOff:])
	s.pktAt = b + int(binary.NativeEndian.Uint32(s.ring[b+blkFirstPktOff:]))
	return true
}

// ReadPackets fills ps with up to len(ps) packets of one ring block,
// waiting only for the first, and returns how many (BatchSource): one
// lock for the lot. It returns 0 and the error ReadPacket would return
// when there is no packet. Their Data stay valid until the next
// ReadPacket, ReadPackets or Close, which hands the block back.
func (s *AFPacketSource) ReadPackets(ps []Packet) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed.Load() {
			return 0, ErrClosed
		}
		n := 0
		for s.left > 0 && n < len(ps) {
			h := s.pktAt
			if n > 0 && s.needsScratch(h) {
				return n, nil // the scratch copy would overwrite ps[n-1]'s
			}
			s.left--
			s.pktAt += int(binary.NativeEndian.Uint32(s.ring[h+pktNextOff:]))
			if s.deliver(h, &ps[n]) {
				n++
			}
		}
		if n > 0 {
			return n, nil
		}
		if s.nextBlock() {
			continue
		}
		s.publish()
		if err := s.wait(); err != nil {
			return 0, err
		}
	}
}

// needsScratch reports whether deliver would put the packet at ring
// offset h into s.scratch: a VLAN tag to put back with no room for it in
// front of the frame (insertVLAN).
func (s *AFPacketSource) needsScratch(h int) bool {
	r := s.ring
	status := binary.NativeEndian.Uint32(r[h+pktStatusOff:])
	if status&unix.TP_STATUS_VLAN_VALID == 0 || s.link == LinkRaw {
		return false
	}
	start := h + int(binary.NativeEndian.Uint16(r[h+pktMacOff:]))
	if s.cooked {
		start = h + int(binary.NativeEndian.Uint16(r[h+pktNetOff:])) - sllHdrLen
	}
	return start-4 < h+pktHdrLen
}

// publish adds the counts of the packets delivered since the last call
// to the counters Stats reads. s.mu must be held.
func (s *AFPacketSource) publish() {
	if s.pend.packets == 0 {
		return
	}
	s.packets.Add(s.pend.packets)
	s.bytes.Add(s.pend.bytes)
	if s.pend.truncated != 0 {
		s.truncated.Add(s.pend.truncated)
	}
	s.pend.packets, s.pend.bytes, s.pend.truncated = 0, 0, 0
}

// SetReadDeadline sets the time after which ReadPacket, finding no
// packet in the ring, returns an error matching os.ErrDeadlineExceeded
// instead of waiting (DeadlineSource). Packets already captured are still
// returned after it. A zero t clears it. It may be called from any
// goroutine; after Close it returns ErrClosed.
func (s *AFPacketSource) SetReadDeadline(t time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.poll.SetReadDeadline(t); err != nil {
		if s.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("capture: set read deadline: %w", err)
	}
	return nil
}

// openPoll registers a duplicate of the socket with Go's network poller.
// Nothing reads from the socket (packets come through the ring), so it can
// be non-blocking; the kernel signals it readable when it retires a block.
func (s *AFPacketSource) openPoll() error {
	if err := unix.SetNonblock(s.fd, true); err != nil {
		return fmt.Errorf("capture: set socket non-blocking: %w", err)
	}
	dup, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("capture: duplicate socket: %w", err)
	}
	s.poll = os.NewFile(uintptr(dup), "afpacket")
	if s.pollConn, err = s.poll.SyscallConn(); err != nil {
		return fmt.Errorf("capture: socket in the poller: %w", err)
	}
	return nil
}

// blockReady reports whether the current block belongs to user space.
func (s *AFPacketSource) blockReady() bool {
	return atomic.LoadUint32(s.blockStatus(s.cur))&unix.TP_STATUS_USER != 0
}

// wait parks the reader in the network poller until the socket has a
// block ready, Close is called, the read deadline passes
// (os.ErrDeadlineExceeded), or the socket reports an error. The kernel
// wakes the poller when it retires a block and when the socket fails (the
// interface went away: ENETDOWN); a wake-up without a block reads the
// socket's pending error.
func (s *AFPacketSource) wait() error {
	var serr error
	woken := false
	err := s.pollConn.Read(func(uintptr) bool {
		if s.closed.Load() || s.blockReady() {
			return true
		}
		if woken {
			serr = s.socketError()
		}
		woken = true
		return serr != nil
	})
	switch {
	case s.closed.Load():
		return ErrClosed
	case s.blockReady():
		return nil // a ready block beats a pending error: read it first
	case serr != nil:
		return serr
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("capture: wait for a block: %w", err)
	case err != nil:
		if serr = s.socketError(); serr != nil {
			return serr
		}
		return fmt.Errorf("capture: wait for a block: %w", err)
	}
	return nil
}

// socketError returns the socket's pending error, or nil.
func (s *AFPacketSource) socketError() error {
	errno, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("capture: socket error: %w", err)
	}
	if errno != 0 {
		return fmt.Errorf("capture: socket error: %w", unix.Errno(errno))
	}
	return nil
}

// deliver fills p from the packet header at ring offset h. It reports false
// for packets that are skipped: the outgoing copy of each loopback packet,
// which is seen once leaving and once arriving.
func (s *AFPacketSource) deliver(h int, p *Packet) bool {
	r := s.ring
	pkttype := r[h+sllPkttypeOff]
	if pkttype == unix.PACKET_OUTGOING && (s.loopback || (s.cooked && binary.NativeEndian.Uint16(r[h+sllHatypeOff:]) == unix.ARPHRD_LOOPBACK)) {
		return false
	}
	caplen := int(binary.NativeEndian.Uint32(r[h+pktSnaplenOff:]))
	wirelen := int(binary.NativeEndian.Uint32(r[h+pktLenOff:]))
	status := binary.NativeEndian.Uint32(r[h+pktStatusOff:])
	start := h + int(binary.NativeEndian.Uint16(r[h+pktMacOff:]))
	if s.cooked {
		// Build the cooked header in the room the kernel leaves between the
		// packet header and the network header.
		start = h + int(binary.NativeEndian.Uint16(r[h+pktNetOff:])) - sllHdrLen
		c := r[start : start+sllHdrLen]
		binary.BigEndian.PutUint16(c[0:], uint16(pkttype))
		binary.BigEndian.PutUint16(c[2:], binary.NativeEndian.Uint16(r[h+sllHatypeOff:]))
		halen := r[h+sllHalenOff]
		binary.BigEndian.PutUint16(c[4:], uint16(halen))
		copy(c[6:14], r[h+sllAddrOff:h+sllAddrOff+8])
		if halen < 8 {
			clear(c[6+halen : 14])
		}
		c[14], c[15] = r[h+sllProtocolOff], r[h+sllProtocolOff+1]
		caplen += sllHdrLen
		wirelen += sllHdrLen
	}
	data := r[start : start+caplen]
	if status&unix.TP_STATUS_VLAN_VALID != 0 && s.link != LinkRaw {
		data = s.insertVLAN(h, start, caplen, status)
		wirelen += 4
	}
	p.Timestamp = time.Unix(int64(binary.NativeEndian.Uint32(r[h+pktSecOff:])), int64(binary.NativeEndian.Uint32(r[h+pktNsecOff:])))
	p.Data = data
	p.Length = wirelen
	p.LinkType = s.link
	p.Interface = 0
	s.pend.packets++
	s.pend.bytes += uint64(len(data))
	if len(data) < wirelen {
		s.pend.truncated++
	}
	return true
}

// insertVLAN puts back the 802.1Q tag the kernel stripped into the frame
// starting at ring offset start, in place when there is room before it
// (there normally is), else in a scratch copy.
func (s *AFPacketSource) insertVLAN(h, start, caplen int, status uint32) []byte {
	r := s.ring
	at := etherVlanAt
	if s.cooked {
		at = sllVlanAt
	}
	tpid := uint16(0x8100)
	if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
		tpid = binary.NativeEndian.Uint16(r[h+pktVlanTPOff:])
	}
	tci := uint16(binary.NativeEndian.Uint32(r[h+pktVlanTCIOff:]))
	if caplen < at {
		return r[start : start+caplen]
	}
	var out []byte
	if start-4 >= h+pktHdrLen {
		out = r[start-4 : start+caplen]
		copy(out, r[start:start+at])
	} else {
		out = s.scratch[:caplen+4]
		copy(out, r[start:start+at])
		copy(out[at+4:], r[start+at:start+caplen])
	}
	binary.BigEndian.PutUint16(out[at:], tpid)
	binary.BigEndian.PutUint16(out[at+2:], tci)
	if len(out) > s.snaplen {
		out = out[:s.snaplen]
	}
	return out
}

// Stats returns the counters since Open. Dropped and Freezes come from the
// kernel's PACKET_STATISTICS; Filtered stays 0 because the kernel does not
// count packets its filter rejects. Packets, Bytes and Truncated count a
// ring block's packets once the reader has left the block, waits for the
// next one, or closed the source: while a reader is in the middle of a
// block, they lag by the packets it has read from it.
func (s *AFPacketSource) Stats() Stats {
	s.statsMu.Lock()
	s.pollKernelStats()
	st := Stats{Dropped: s.drops, Freezes: s.freezes}
	s.statsMu.Unlock()
	st.Packets = s.packets.Load()
	st.Bytes = s.bytes.Load()
	st.Truncated = s.truncated.Load()
	return st
}

// pollKernelStats adds the kernel's counters (which reset on each read) to
// the totals. statsMu must be held.
func (s *AFPacketSource) pollKernelStats() {
	if s.fd < 0 {
		return
	}
	ks, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return
	}
	s.drops += uint64(ks.Drops)
	s.freezes += uint64(ks.Freeze_q_cnt)
}

// Close stops the capture and releases the ring. A ReadPacket blocked in
// another goroutine returns ErrClosed promptly. Close is idempotent.
func (s *AFPacketSource) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.poll != nil {
		s.poll.Close() // wakes a reader waiting in the poller
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publish()
	return s.release()
}

func (s *AFPacketSource) release() error {
	var first error
	s.statsMu.Lock()
	if s.fd >= 0 {
		s.pollKernelStats()
		first = unix.Close(s.fd)
		s.fd = -1
	}
	s.statsMu.Unlock()
	if s.ring != nil {
		if err := unix.Munmap(s.ring); err != nil && first == nil {
			first = err
		}
		s.ring = nil
	}
	if s.poll != nil {
		// poll stays set (closed): SetReadDeadline may still call it.
		s.poll.Close()
	}
	if first != nil {
		return fmt.Errorf("capture: close: %w", first)
	}
	return nil
}

// Live reports true: packets come from a network interface in real time
// (capture.LiveSource).
func (s *AFPacketSource) Live() bool { return true }
