package flow

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"time"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// Timeouts are the idle timeouts of flows by state, measured in packet time
// (the timestamps of the packets, never the wall clock). Zero fields mean
// the defaults.
type Timeouts struct {
	// Established: TCP flows in the established state. Default 300s.
	Established time.Duration
	// ClosingRst: a connection reset after it was established, and
	// bidirectional UDP/ICMP flows. Default 35s.
	ClosingRst time.Duration
	// OpeningRst: a connection reset during the handshake (port closed).
	// Default 1s.
	OpeningRst time.Duration
	// FinClosed: a connection closed by FIN both ways. Default 2s.
	FinClosed time.Duration
	// Other: every other state (opening, half-closed, exceptions) and
	// flows seen in one direction only. Default 5s.
	Other time.Duration
}

// Config tunes a Table. The zero value means defaults.
type Config struct {
	// Handler observes each packet of each flow and fills the L7 fields of
	// records. Default nil (none).
	Handler Handler
	// OnRecord receives each l4_flow_log record. The Record is owned by the
	// Table and valid only during the call. Default nil (records dropped).
	OnRecord func(*Record)
	// SnapshotInterval, when set, reports every live flow each interval of
	// packet time as a snapshot record (Record.Snapshot, CloseType
	// ForcedReport) whose counters cover the interval; flows stay open.
	// Default 0 (off); at least 1s.
	SnapshotInterval time.Duration
	// MaxFlows bounds the live flows; at the cap, packets of new flows are
	// counted in Stats.DroppedFlows and not tracked. Default 1,000,000;
	// limit 1<<28.
	MaxFlows int
	// Timeouts by state; zero fields mean their defaults.
	Timeouts Timeouts
	// Shard is written into the top 8 bits of every flow id, so that the
	// ids of several tables (the shards of a pipeline) never collide.
	// Default 0.
	Shard uint8
}

// Stats counts what a Table saw. Counters only grow except ActiveFlows.
type Stats struct {
	Packets      uint64 // Packet calls
	Counted      uint64 // packets counted to a flow
	Flows        uint64 // flows created
	ActiveFlows  uint64 // flows live now
	Records      uint64 // final records emitted (closed, timed out, flushed)
	Snapshots    uint64 // snapshot records emitted
	Reopened     uint64 // flows closed because a new SYN reused their 5-tuple
	DroppedFlows uint64 // packets refused because the table was full (MaxFlows)
	NotL4        uint64 // packets not counted: not IP, or an IP protocol other than TCP/UDP/ICMP
	// Non-first IP fragments (no ports) are matched to their flow by the
	// datagram's first fragment. FragMatched counts those matched;
	// FragUnmatched those whose datagram never showed its ports (dropped).
	FragMatched   uint64
	FragUnmatched uint64
}

const (
	chunkBits       = 12
	chunkSize       = 1 << chunkBits
	defaultMaxFlows = 1_000_000
	limitMaxFlows   = 1 << 28
	nilSlot         = 0
	fragTableSize   = 1024
	minIndex        = 1 << 10
	sweepEvery      = int64(time.Second)
)

// Table is the flow table. It is not safe for concurrent use.
type Table struct {
	cfg      Config
	timeouts [numClasses]int64 // ns by class
	maxFlows uint32

	chunks [][]Flow
	nslots uint32 // slots handed out so far
	free   uint32 // free slot list head (slot+1), linked through Flow.next

	index []uint32 // open addressing, linear probing: slot+1, 0 empty
	mask  uint64
	seed  maphash.Seed
	hseed uint64

	lists [numClasses]struct{ head, tail uint32 } // LRU by last packet, slot+1

	now      int64 // packet time: the highest timestamp seen
	lastExp  int64
	nextSnap int64

	frags []fragEntry

	// vlans holds the last distinct VLAN ids seen (0: untagged), so that a
	// conversation tagged differently in each direction can be matched.
	vlans  [4]uint16
	nvlans int

	rec   Record
	stats Stats
}

// fragEntry links the IP datagram id of a fragmented datagram to its flow,
// and holds counts of fragments seen before the flow was known.
type fragEntry struct {
	src, dst  [16]byte
	id        uint32
	slot, gen uint32 // flow (slot+1, gen); slot 0 = not known yet
	pendPkts  uint32
	pendBytes uint64
	used      bool
}

func fragSlot(src, dst *[16]byte, id uint32) uint64 {
	h := uint64(id) * 0x9E3779B97F4A7C15
	h ^= binary.LittleEndian.Uint64(src[8:]) + binary.LittleEndian.Uint64(src[:8])*31
	h *= 0x9E3779B97F4A7C15
	h ^= binary.LittleEndian.Uint64(dst[8:]) + binary.LittleEndian.Uint64(dst[:8])*31
	h *= 0x9E3779B97F4A7C15
	return (h >> 40) & (fragTableSize - 1)
}

func (t *Table) fragEntry(src, dst *[16]byte, id uint32) *fragEntry {
	if t.frags == nil {
		t.frags = make([]fragEntry, fragTableSize)
	}
	e := &t.frags[fragSlot(src, dst, id)]
	if e.used && (e.id != id || e.src != *src || e.dst != *dst) {
		// Another datagram took the entry: fragments it never matched are
		// lost.
		t.stats.FragUnmatched += uint64(e.pendPkts)
		*e = fragEntry{}
	}
	if !e.used {
		*e = fragEntry{src: *src, dst: *dst, id: id, used: true}
	}
	return e
}

// fragment accounts a fragment without ports (not the datagram's first,
// or one held for reassembly) to the flow of its datagram.
func (t *Table) fragment(m *decode.Meta) {
	src, dst := m.Src.As16(), m.Dst.As16()
	e := t.fragEntry(&src, &dst, m.IPID)
	if e.slot != nilSlot {
		f := t.ref(e.slot)
		if f.flags&fLive != 0 && f.gen == e.gen {
			t.fragCount(f, src, 1, uint64(m.WireLen), m.Timestamp)
			t.stats.FragMatched++
			t.stats.Counted++
			return
		}
		// The flow ended: the fragment cannot be counted.
		t.stats.FragUnmatched++
		return
	}
	e.pendPkts++
	e.pendBytes += uint64(m.WireLen)
}

// fragCount adds fragments sent from src to f.
func (t *Table) fragCount(f *Flow, src [16]byte, n uint32, bytes uint64, ts int64) {
	fromB := src == f.key.b && src != f.key.a
	d := 0
	if fromB != (f.flags&fClientB != 0) {
		d = 1
	}
	p := &f.peers[d]
	p.pkts += n
	p.bytes += bytes
	f.flags |= fSeen0 << d
	if ts > f.end {
		f.end = ts
	}
	c := f.class
	if f.flags&(fSeen0|fSeen1) != fSeen0|fSeen1 && c != clsEstablished {
		c = clsOther
	}
	t.touch(f, c)
}

// fragFirst links an L4-decoded fragment's datagram to its flow f and
// counts the fragments that came before it.
func (t *Table) fragFirst(f *Flow, m *decode.Meta) {
	src, dst := m.Src.As16(), m.Dst.As16()
	e := t.fragEntry(&src, &dst, m.IPID)
	e.slot, e.gen = f.slot+1, f.gen
	if e.pendPkts > 0 {
		t.fragCount(f, src, e.pendPkts, e.pendBytes, m.Timestamp)
		t.stats.FragMatched += uint64(e.pendPkts)
		t.stats.Counted += uint64(e.pendPkts)
		e.pendPkts, e.pendBytes = 0, 0
	}
}

// NewTable returns an empty Table.
func NewTable(cfg Config) *Table {
	t := &Table{cfg: cfg}
	to := cfg.Timeouts
	def := func(d, v time.Duration) int64 {
		if d <= 0 {
			return int64(v)
		}
		return int64(d)
	}
	t.timeouts[clsEstablished] = def(to.Established, 300*time.Second)
	t.timeouts[clsClosingRst] = def(to.ClosingRst, 35*time.Second)
	t.timeouts[clsOpeningRst] = def(to.OpeningRst, time.Second)
	t.timeouts[clsFinClosed] = def(to.FinClosed, 2*time.Second)
	t.timeouts[clsOther] = def(to.Other, 5*time.Second)
	n := cfg.MaxFlows
	if n <= 0 {
		n = defaultMaxFlows
	}
	if n > limitMaxFlows {
		n = limitMaxFlows
	}
	t.maxFlows = uint32(n)
	if t.cfg.SnapshotInterval > 0 && t.cfg.SnapshotInterval < time.Second {
		t.cfg.SnapshotInterval = time.Second
	}
	t.seed = maphash.MakeSeed()
	var b [8]byte
	h := maphash.Bytes(t.seed, b[:])
	t.hseed = h | 1
	t.index = make([]uint32, minIndex)
	t.mask = minIndex - 1
	return t
}

// Stats returns the counters. Like every method of Table, it must be called
// from the goroutine that drives the Table; a pipeline publishes copies for
// other goroutines.
func (t *Table) Stats() Stats { return t.stats }

// Advancer is implemented by a Handler whose clock moves with the Table's
// when time advances without a packet (Table.Advance), such as the L7
// engine's session timeouts.
type Advancer interface {
	Advance(ts int64)
}

// Advance moves the Table's clock to now (unix ns) without a packet: flows
// idle past their timeout are closed and snapshots that fall due are
// emitted, then the Handler's clock is moved too when it implements
// Advancer. A live source calls it with the wall clock while the link is
// quiet, so that flows that ended are reported without waiting for more
// packets. Times earlier than the Table's clock are ignored.
func (t *Table) Advance(now int64) {
	if now <= t.now {
		return
	}
	t.advance(now)
	if a, ok := t.cfg.Handler.(Advancer); ok {
		a.Advance(now)
	}
}

func (t *Table) flow(slot uint32) *Flow {
	return &t.chunks[slot>>chunkBits][slot&(chunkSize-1)]
}

// ref converts slot+1 to a flow.
func (t *Table) ref(r uint32) *Flow { return t.flow(r - 1) }

func (k *key) hash(seed uint64) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := seed
	mix := func(x uint64) {
		h ^= x
		h *= m
		h ^= h >> 29
	}
	mix(binary.LittleEndian.Uint64(k.a[0:8]))
	mix(binary.LittleEndian.Uint64(k.a[8:16]))
	mix(binary.LittleEndian.Uint64(k.b[0:8]))
	mix(binary.LittleEndian.Uint64(k.b[8:16]))
	mix(uint64(k.pa) | uint64(k.pb)<<16 | uint64(k.vlan)<<32 | uint64(k.proto)<<48 | uint64(k.tun)<<56)
	mix(uint64(k.tunID))
	h ^= h >> 32
	return h
}

// keyEq compares keys field by field, cheapest and most distinguishing
// first (ports), without a call to the runtime's memequal.
func keyEq(x, y *key) bool {
	return x.pa == y.pa && x.pb == y.pb && x.a == y.a && x.b == y.b &&
		x.vlan == y.vlan && x.proto == y.proto && x.tun == y.tun && x.tunID == y.tunID
}

// lookup returns the index position holding k, or the empty position where
// it would go, and the slot+1 found (0 if absent).
func (t *Table) lookup(k *key, h uint64) (uint64, uint32) {
	i := h & t.mask
	for {
		r := t.index[i]
		if r == nilSlot {
			return i, 0
		}
		if keyEq(&t.ref(r).key, k) {
			return i, r
		}
		i = (i + 1) & t.mask
	}
}

// indexDelete removes slot+1 r, found at position i, with backward-shift
// deletion so that no tombstones are needed.
func (t *Table) indexDelete(i uint64) {
	for {
		t.index[i] = nilSlot
		j := i
		for {
			j = (j + 1) & t.mask
			r := t.index[j]
			if r == nilSlot {
				return
			}
			home := t.ref(r).key.hash(t.hseed) & t.mask
			// Move r into the hole at i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.index[i] = r
				i = j
				break
			}
		}
	}
}

func (t *Table) indexFind(f *Flow) uint64 {
	i := f.key.hash(t.hseed) & t.mask
	want := f.slot + 1
	for t.index[i] != want {
		i = (i + 1) & t.mask
	}
	return i
}

func (t *Table) grow() {
	old := t.index
	t.index = make([]uint32, 2*len(old))
	t.mask = uint64(len(t.index) - 1)
	for _, r := range old {
		if r == nilSlot {
			continue
		}
		i := t.ref(r).key.hash(t.hseed) & t.mask
		for t.index[i] != nilSlot {
			i = (i + 1) & t.mask
		}
		t.index[i] = r
	}
}

// alloc takes a free slot, or nil at the cap.
func (t *Table) alloc() *Flow {
	if t.free != nilSlot {
		f := t.ref(t.free)
		t.free = f.next
		return f
	}
	if t.nslots >= t.maxFlows {
		return nil
	}
	s := t.nslots
	if int(s>>chunkBits) == len(t.chunks) {
		t.chunks = append(t.chunks, make([]Flow, chunkSize))
	}
	t.nslots++
	f := t.flow(s)
	f.slot = s
	return f
}

// listAdd appends f to the tail of its class list.
func (t *Table) listAdd(f *Flow) {
	l := &t.lists[f.class]
	r := f.slot + 1
	f.next = nilSlot
	f.prev = l.tail
	if l.tail != nilSlot {
		t.ref(l.tail).next = r
	} else {
		l.head = r
	}
	l.tail = r
}

func (t *Table) listRemove(f *Flow) {
	l := &t.lists[f.class]
	if f.prev != nilSlot {
		t.ref(f.prev).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nilSlot {
		t.ref(f.next).prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nilSlot, nilSlot
}

// touch moves f to the tail of the list of class c.
func (t *Table) touch(f *Flow, c uint8) {
	if f.class == c && t.lists[c].tail == f.slot+1 {
		return
	}
	t.listRemove(f)
	f.class = c
	t.listAdd(f)
}

// tick converts packet time to the µs clock (mod 2^32) used for samples.
func tick(ns int64) uint32 { return uint32(ns / 1000) }

// Packet accounts one decoded packet. Time advances to m.Timestamp (if
// later): flows idle past their timeout are closed first.
func (t *Table) Packet(m *decode.Meta) {
	t.stats.Packets++
	if m.Timestamp > t.now {
		t.advance(m.Timestamp)
	}
	if m.IPVersion != 4 && m.IPVersion != 6 {
		t.stats.NotL4++
		return
	}
	switch m.Proto {
	case decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP, decode.ProtoICMPv6:
	default:
		t.stats.NotL4++
		return
	}
	if !m.L4Decoded {
		if m.IsFragment {
			t.fragment(m)
			return
		}
		t.stats.NotL4++
		return
	}
	var k key
	k.proto = m.Proto
	k.vlan = m.VLAN
	k.tun = m.Tunnel.Type
	k.tunID = m.Tunnel.ID
	src, dst := m.Src.As16(), m.Dst.As16()
	sp, dp := m.SrcPort, m.DstPort
	fromB := false
	if c := cmpEnd(src, sp, dst, dp); c > 0 {
		fromB = true
		k.a, k.pa, k.b, k.pb = dst, dp, src, sp
	} else {
		k.a, k.pa, k.b, k.pb = src, sp, dst, dp
	}
	h := k.hash(t.hseed)
	pos, r := t.lookup(&k, h)
	var f *Flow
	if r == nilSlot && t.noteVLAN(k.vlan) {
		// Maybe the other direction of a conversation whose two
		// directions carry different VLAN tags (a trunk seen from one
		// side, tags stripped on the way back).
		f = t.otherVLAN(&k, fromB)
	}
	if f == nil && r != nilSlot {
		f = t.ref(r)
		// A pure SYN from the client of a finished connection opens a new
		// one on the same 5-tuple.
		if m.Proto == decode.ProtoTCP && m.TCPFlags&(decode.TCPSyn|decode.TCPAck|decode.TCPRst|decode.TCPFin) == decode.TCPSyn &&
			reopens(f.state) {
			t.stats.Reopened++
			t.close(f, pos, f.closeType())
			pos, _ = t.lookup(&k, h)
			f = nil
		}
	}
	if f == nil {
		f = t.newFlow(&k, pos, m, fromB)
		if f == nil {
			t.stats.DroppedFlows++
			return
		}
	}
	t.stats.Counted++
	t.update(f, m, fromB)
}

// noteVLAN remembers v among the recent VLAN ids and reports whether
// another id is known, so a missed lookup may try it.
func (t *Table) noteVLAN(v uint16) bool {
	for i := 0; i < t.nvlans; i++ {
		if t.vlans[i] == v {
			return t.nvlans > 1
		}
	}
	if t.nvlans < len(t.vlans) {
		t.nvlans++
	}
	copy(t.vlans[1:t.nvlans], t.vlans[:t.nvlans-1])
	t.vlans[0] = v
	return t.nvlans > 1
}

// otherVLAN returns the live flow with key k but another recent VLAN id
// whose side sending this packet has not been seen yet (or was seen with
// this VLAN id before), so that both directions of a conversation tagged
// differently count as one flow, as tshark's conversations do. A copy of
// the same packets on another VLAN (a mirror of two ports) does not match:
// its sender's side has already been seen on the first VLAN.
func (t *Table) otherVLAN(k *key, fromB bool) *Flow {
	alt := *k
	for i := 0; i < t.nvlans; i++ {
		if t.vlans[i] == k.vlan {
			continue
		}
		alt.vlan = t.vlans[i]
		_, r := t.lookup(&alt, alt.hash(t.hseed))
		if r == nilSlot {
			continue
		}
		f := t.ref(r)
		if f.flags&fAltVLAN != 0 {
			if f.altVLAN == k.vlan {
				return f
			}
			continue
		}
		seen := fSeen1
		if fromB == (f.flags&fClientB != 0) {
			seen = fSeen0 // the sender is the client
		}
		if f.flags&seen == 0 {
			f.flags |= fAltVLAN
			f.altVLAN = k.vlan
			return f
		}
	}
	return nil
}

// cmpEnd orders endpoints (address, then port).
func cmpEnd(a [16]byte, pa uint16, b [16]byte, pb uint16) int {
	x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if x == y {
		x, y = binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	}
	if x == y {
		x, y = uint64(pa), uint64(pb)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (t *Table) newFlow(k *key, pos uint64, m *decode.Meta, fromB bool) *Flow {
	f := t.alloc()
	if f == nil {
		return nil
	}
	slot, gen := f.slot, (f.gen+1)&genMask|uint32(t.cfg.Shard)<<24
	*f = Flow{key: *k, slot: slot, gen: gen, start: m.Timestamp, end: m.Timestamp}
	f.flags = fLive
	if m.IPVersion == 4 {
		f.flags |= fIPv4
	}
	// Orientation: the sender of a SYN is the client, of a SYN-ACK the
	// server; an ICMP echo request comes from the client. Otherwise the
	// side with the higher port is the client (the sender on a tie).
	senderClient := true
	switch m.Proto {
	case decode.ProtoTCP:
		switch flagGroup(m.TCPFlags) {
		case gSyn:
			f.flags |= fOriented
		case gSynAck:
			f.flags |= fOriented
			senderClient = false
		default:
			senderClient = m.SrcPort >= m.DstPort
		}
	case decode.ProtoICMP, decode.ProtoICMPv6:
		switch m.ICMPType {
		case 8, 128: // echo request
			f.flags |= fOriented
		case 0, 129: // echo reply
			f.flags |= fOriented
			senderClient = false
		}
	default:
		senderClient = m.SrcPort >= m.DstPort
	}
	if senderClient == fromB {
		f.flags |= fClientB
	}
	// Grow the index before it passes 3/4 full.
	if (uint64(t.stats.ActiveFlows)+1)*4 > uint64(len(t.index))*3 {
		t.grow()
		pos, _ = t.lookup(k, k.hash(t.hseed))
	}
	t.index[pos] = slot + 1
	f.class = clsOther
	t.listAdd(f)
	t.stats.Flows++
	t.stats.ActiveFlows++
	return f
}

// update accounts m to f.
func (t *Table) update(f *Flow, m *decode.Meta, fromB bool) {
	if m.Timestamp > f.end {
		f.end = m.Timestamp
	}
	// A SYN or SYN-ACK fixes the orientation of a flow judged by ports.
	if f.flags&fOriented == 0 && m.Proto == decode.ProtoTCP {
		switch flagGroup(m.TCPFlags) {
		case gSyn:
			if fromB != (f.flags&fClientB != 0) {
				f.swap()
			}
			f.flags |= fOriented
		case gSynAck:
			if fromB == (f.flags&fClientB != 0) {
				f.swap()
			}
			f.flags |= fOriented
		}
	}
	fromServer := fromB != (f.flags&fClientB != 0)
	d := 0
	if fromServer {
		d = 1
	}
	p := &f.peers[d]
	p.pkts++
	p.bytes += uint64(m.WireLen)
	// Only L4-decoded packets get here: with reassembly the datagram's
	// payload is counted once, on the packet that completed it; without,
	// on its first fragment.
	p.l4bytes += uint64(m.PayloadLen)
	f.flags |= fSeen0 << d
	now := tick(m.Timestamp)
	class := clsOther
	switch m.Proto {
	case decode.ProtoTCP:
		class = t.tcp(f, m, d, now)
	default:
		// Requests from the client, answered by the server.
		if fromServer {
			if f.flags&fArtPend != 0 {
				f.sampleART(now - f.artLastT)
			}
		} else {
			f.artLastT = now
			f.flags |= fArtPend
		}
		class = clsClosingRst
	}
	if f.flags&(fSeen0|fSeen1) != fSeen0|fSeen1 && class != clsEstablished {
		// One side unheard: a datagram nobody answers, a SYN to a
		// silent port. An established TCP stream seen from one side
		// only (asymmetric routing, a request awaiting a long poll)
		// keeps its established timeout.
		class = clsOther
	}
	t.touch(f, class)
	if m.IsFragment && m.L4Decoded {
		t.fragFirst(f, m)
	}
	if h := t.cfg.Handler; h != nil {
		dir := DirTx
		if fromServer {
			dir = DirRx
		}
		h.Packet(f, m, dir)
	}
}

func (f *Flow) sampleART(d uint32) {
	f.flags &^= fArtPend
	if d > f.artMax {
		f.artMax = d
	}
	f.artSum = satAdd(f.artSum, d)
	f.artCount++
}

func (f *Flow) sampleSRT(d uint32) {
	f.flags &^= fSrtPend
	if d > f.srtMax {
		f.srtMax = d
	}
	f.srtSum = satAdd(f.srtSum, d)
	f.srtCount++
}

func satAdd(a, b uint32) uint32 {
	s, c := bits.Add32(a, b, 0)
	if c != 0 {
		return ^uint32(0)
	}
	return s
}

func sat16(v uint16) uint16 {
	if v == ^uint16(0) {
		return v
	}
	return v + 1
}

// seqLT reports a < b in TCP sequence space (RFC 1982 style).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// oooThreshold is how soon after the highest segment a segment that fills a
// hole must arrive to count as out-of-order rather than a retransmission,
// when the handshake RTT is unknown.
const oooThreshold = 3000 // µs

// tcp runs the state machine and the TCP performance counters for a segment
// sent by peer d (0 client, 1 server). It returns the timeout class.
func (t *Table) tcp(f *Flow, m *decode.Meta, d int, now uint32) uint8 {
	flags := m.TCPFlags
	f.tcpf[d] |= flags
	g := flagGroup(flags)
	fromServer := d == 1
	st, class := transition(f.state, g, fromServer)
	f.state = st

	switch g {
	case gSyn:
		if !fromServer {
			if f.syn > 0 {
				f.retransSyn = sat16(f.retransSyn)
			}
			f.syn = sat16(f.syn)
			f.synT = now
			f.flags |= fHasSyn
		}
	case gSynAck:
		if fromServer {
			if f.synAck > 0 {
				f.retransSynAck = sat16(f.retransSynAck)
			}
			f.synAck = sat16(f.synAck)
			f.synAckT = now
			f.flags |= fHasSynAck
		}
	case gAck:
		if !fromServer && f.flags&(fHasSynAck|fHasAck) == fHasSynAck {
			f.ackT = now
			f.flags |= fHasAck
		}
	}
	if flags&decode.TCPFin != 0 {
		f.fin = sat16(f.fin)
	}
	p := &f.peers[d]
	if m.Window == 0 && flags&(decode.TCPSyn|decode.TCPFin|decode.TCPRst) == 0 {
		p.zeroWin++
	}
	if m.Window == 0 && flags&decode.TCPRst == 0 {
		f.pflag[d] |= pfWinZero
	} else if flags&decode.TCPRst == 0 {
		f.pflag[d] &^= pfWinZero
	}

	// Sequence analysis: retransmissions and out-of-order segments.
	seglen := uint32(m.PayloadLen)
	if flags&decode.TCPSyn != 0 {
		seglen++
	}
	if flags&decode.TCPFin != 0 {
		seglen++
	}
	if seglen > 0 && flags&decode.TCPRst == 0 {
		t.seq(f, d, m.Seq, seglen, flags, now)
	}

	// SRT: client data, then the server's bare ACK covering it. ART:
	// client data, then the server's first data.
	if m.PayloadLen > 0 {
		if fromServer {
			if f.flags&fArtPend != 0 {
				f.sampleART(now - f.artLastT)
			}
			f.flags &^= fSrtPend
		} else {
			f.srtPendEnd = m.Seq + uint32(m.PayloadLen)
			f.srtPendT = now
			f.artLastT = now
			f.flags |= fSrtPend | fArtPend
		}
	} else if fromServer && flags&decode.TCPAck != 0 && f.flags&fSrtPend != 0 &&
		!seqLT(m.Ack, f.srtPendEnd) {
		f.sampleSRT(now - f.srtPendT)
	}
	return class
}

// seq classifies one segment of peer d occupying [seq, seq+seglen).
func (t *Table) seq(f *Flow, d int, seq, seglen uint32, flags uint8, now uint32) {
	p := &f.peers[d]
	end := seq + seglen
	if f.pflag[d]&pfInit == 0 {
		f.pflag[d] |= pfInit
		p.maxEnd, p.advT = end, now
		return
	}
	// Zero-window probe: one byte at the next sequence while the other
	// side advertises a zero window. It neither advances the sequence nor
	// counts as a retransmission when it is sent again.
	if seglen == 1 && seq == p.maxEnd && f.pflag[1-d]&pfWinZero != 0 && flags&(decode.TCPSyn|decode.TCPFin) == 0 {
		return
	}
	if seqLT(seq, p.maxEnd) {
		// Keep-alive: one byte (or none) just below the next sequence.
		if seglen <= 1 && seq+1 == p.maxEnd && flags&(decode.TCPSyn|decode.TCPFin) == 0 {
			return
		}
		inHole := f.pflag[d]&pfHole != 0 && seqLT(seq, p.holeHi) && seqLT(p.holeLo, end)
		if inHole {
			thr := uint32(oooThreshold)
			if f.flags&(fHasSyn|fHasSynAck|fHasAck) == fHasSyn|fHasSynAck|fHasAck {
				thr = f.ackT - f.synT
			}
			// A segment that starts the missing range while at least two
			// segments' worth of data sits above it answers the receiver's
			// duplicate ACKs: a fast retransmission, not reordering.
			fast := seq == p.holeLo && p.maxEnd-p.holeHi >= 2*seglen
			if !fast && now-p.advT < thr && end != p.maxEnd {
				p.ooo++
			} else {
				p.retrans++
			}
			// Shrink the hole by what this segment filled.
			switch {
			case !seqLT(p.holeLo, seq) && !seqLT(end, p.holeHi):
				f.pflag[d] &^= pfHole
			case !seqLT(p.holeLo, seq):
				p.holeLo = end
			case !seqLT(end, p.holeHi):
				p.holeHi = seq
			default:
				p.holeHi = seq // keep the lower part
			}
		} else {
			p.retrans++
		}
	} else if seq != p.maxEnd {
		// A gap: the bytes between were lost before the capture point or
		// are still on their way. One range per direction tracks where
		// bytes may be missing: a second gap widens it to span both (the
		// bytes seen in between are then judged like missing ones).
		if f.pflag[d]&pfHole == 0 {
			p.holeLo = p.maxEnd
		}
		p.holeHi = seq
		f.pflag[d] |= pfHole
	}
	if seqLT(p.maxEnd, end) {
		p.maxEnd, p.advT = end, now
	}
}

// advance moves packet time to now, closing idle flows and emitting
// snapshots that fall due.
func (t *Table) advance(now int64) {
	t.now = now
	if t.stats.ActiveFlows > 0 {
		t.expire(now)
	}
	if iv := int64(t.cfg.SnapshotInterval); iv > 0 {
		if t.nextSnap == 0 {
			t.nextSnap = now - now%iv + iv
		} else if now >= t.nextSnap {
			t.snapshot()
			t.nextSnap = now - now%iv + iv
		}
	}
}

// expire closes flows whose last packet is older than their timeout.
func (t *Table) expire(now int64) {
	for c := uint8(0); c < numClasses; c++ {
		to := t.timeouts[c]
		for {
			h := t.lists[c].head
			if h == nilSlot {
				break
			}
			f := t.ref(h)
			if now-f.end < to {
				break
			}
			t.close(f, t.indexFind(f), f.closeType())
		}
	}
}

// close ends f: the Handler's Close, the record, and the slot freed. pos is
// f's position in the index.
func (t *Table) close(f *Flow, pos uint64, ct CloseType) {
	r := &t.rec
	t.fill(r, f, ct)
	if h := t.cfg.Handler; h != nil {
		h.Close(f, r)
	}
	t.stats.Records++
	if t.cfg.OnRecord != nil {
		t.cfg.OnRecord(r)
	}
	t.listRemove(f)
	t.indexDelete(pos)
	gen, slot := f.gen, f.slot
	*f = Flow{gen: gen, slot: slot}
	f.next = t.free
	t.free = slot + 1
	t.stats.ActiveFlows--
}

// fill writes f's record.
func (t *Table) fill(r *Record, f *Flow, ct CloseType) {
	tags := r.Tags
	*r = Record{Tags: tags}
	r.Tags.Reset()
	r.FlowID = f.ID()
	r.StartTime = f.start
	r.EndTime = f.end
	r.Duration = (f.end - f.start) / 1000
	c, s := f.Client(), f.Server()
	r.IP0, r.ClientPort = c.Addr(), c.Port()
	r.IP1, r.ServerPort = s.Addr(), s.Port()
	r.Protocol = f.key.proto
	r.VLAN = f.key.vlan
	r.TunnelType = f.key.tun
	r.CloseType = ct
	tx, rx := &f.peers[0], &f.peers[1]
	r.PacketTx, r.PacketRx = uint64(tx.pkts), uint64(rx.pkts)
	r.ByteTx, r.ByteRx = tx.bytes, rx.bytes
	r.L4ByteTx, r.L4ByteRx = tx.l4bytes, rx.l4bytes
	if f.flags&(fHasSyn|fHasSynAck) == fHasSyn|fHasSynAck && int32(f.synAckT-f.synT) >= 0 {
		r.RTTServer, r.HasRTTServer = f.synAckT-f.synT, true
	}
	if f.flags&(fHasSynAck|fHasAck) == fHasSynAck|fHasAck && int32(f.ackT-f.synAckT) >= 0 {
		r.RTTClient, r.HasRTTClient = f.ackT-f.synAckT, true
	}
	if r.HasRTTServer && r.HasRTTClient {
		r.RTT, r.HasRTT = r.RTTServer+r.RTTClient, true
	}
	r.SRTMax, r.SRTSum, r.SRTCount = f.srtMax, f.srtSum, f.srtCount
	r.ARTMax, r.ARTSum, r.ARTCount = f.artMax, f.artSum, f.artCount
	r.RetransTx, r.RetransRx = tx.retrans, rx.retrans
	r.ZeroWinTx, r.ZeroWinRx = tx.zeroWin, rx.zeroWin
	r.OOOTx, r.OOORx = tx.ooo, rx.ooo
	r.SynCount, r.SynAckCount = uint32(f.syn), uint32(f.synAck)
	r.RetransSyn, r.RetransSynAck = uint32(f.retransSyn), uint32(f.retransSynAck)
	r.FinCount = uint32(f.fin)
}

// Snapshotter is implemented by a Handler that fills the L7 fields of
// snapshot records too (optional).
type Snapshotter interface {
	// Snapshot fills r's L7 fields for the period since f's previous
	// record. f stays open.
	Snapshot(f *Flow, r *Record)
}

// snapshot reports every live flow and restarts its period counters.
func (t *Table) snapshot() {
	for s := uint32(0); s < t.nslots; s++ {
		f := t.flow(s)
		if f.flags&fLive == 0 {
			continue
		}
		r := &t.rec
		t.fill(r, f, CloseForcedReport)
		r.Snapshot = true
		if sn, ok := t.cfg.Handler.(Snapshotter); ok {
			sn.Snapshot(f, r)
		}
		t.stats.Snapshots++
		if t.cfg.OnRecord != nil {
			t.cfg.OnRecord(r)
		}
		// The next record covers the next period only.
		for d := range f.peers {
			p := &f.peers[d]
			p.pkts, p.bytes, p.l4bytes = 0, 0, 0
			p.retrans, p.ooo, p.zeroWin = 0, 0, 0
		}
		f.syn, f.synAck, f.retransSyn, f.retransSynAck, f.fin = 0, 0, 0, 0, 0
		f.srtMax, f.srtSum, f.srtCount = 0, 0, 0
		f.artMax, f.artSum, f.artCount = 0, 0, 0
	}
}

// Flush ends the input: every live flow is closed with the close type its
// state gives (as if it timed out), in slot order.
func (t *Table) Flush() {
	for s := uint32(0); s < t.nslots; s++ {
		f := t.flow(s)
		if f.flags&fLive == 0 {
			continue
		}
		t.close(f, t.indexFind(f), f.closeType())
	}
	for i := range t.frags {
		e := &t.frags[i]
		if e.used {
			t.stats.FragUnmatched += uint64(e.pendPkts)
		}
		*e = fragEntry{}
	}
}
