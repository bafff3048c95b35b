package flow

import (
	"encoding/binary"
	"github.com/metaflow-go/metaflow/internal/slabmem"
	"hash/maphash"
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
	// SlabBytes is the memory the table's slabs and index hold outside
	// the Go heap (a gauge): once a table passes 16K flows, its slabs grow
	// in regions mapped apart, with huge pages on Linux, which
	// runtime.MemStats does not count.
	SlabBytes uint64
}

const (
	defaultMaxFlows = 1_000_000
	limitMaxFlows   = 1 << 28
	nilSlot         = 0 // no flow, in slot+1 references
)

// Table is the flow table. It is not safe for concurrent use.
type Table struct {
	cfg      Config
	timeouts [numClasses]int64 // ns by class
	maxFlows uint32

	chunks []*flowChunk
	links  [][]link // per slot, in chunks parallel to chunks
	nslots uint32   // slots handed out so far
	free   uint32   // free slot list head (slot+1), linked through link.next

	tcps    [][]tcpState // the tcp slab: the TCP part of TCP flows (Flow.tcp)
	ntcp    uint32       // tcp states handed out so far
	tcpFree uint32       // free tcp state list head (index+1)

	mem   *slabmem.Arena // the slabs' later chunks and a large index (newChunk)
	index []uint64       // open addressing, linear probing: hash<<32 | slot+1, 0 empty
	mask  uint64
	seed  maphash.Seed
	hseed uint64

	lists [numClasses]struct{ head, tail uint32 } // LRU by last packet, slot+1

	now      int64 // packet time: the highest timestamp seen
	lastExp  int64
	nextSnap int64

	frags []fragEntry

	rec   Record
	stats Stats

	pf SlotPrefetcher // cfg.Handler's, if it is one
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
	t.pf, _ = cfg.Handler.(SlotPrefetcher)
	t.seed = maphash.MakeSeed()
	var b [8]byte
	h := maphash.Bytes(t.seed, b[:])
	t.hseed = h | 1
	t.index = make([]uint64, minIndex)
	t.mask = minIndex - 1
	return t
}

// Stats returns the counters. Like every method of Table, it must be called
// from the goroutine that drives the Table; a pipeline publishes copies for
// other goroutines.
func (t *Table) Stats() Stats {
	st := t.stats
	if t.mem != nil {
		st.SlabBytes = t.mem.Bytes()
	}
	return st
}

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

// Packet accounts one decoded packet. Time advances to m.Timestamp (if
// later): flows idle past their timeout are closed first.
func (t *Table) Packet(m *decode.Meta) { t.packet(m, nil) }

// keyed is a packet's flow key and its hash, computed ahead by Packets
// (which has also asked for the flow's links).
type keyed struct {
	k     key
	h     uint32
	fromB bool // the packet's source is the key's side b
}

// packet is Packet, with the key computed ahead by Packets (kd) or nil.
func (t *Table) packet(m *decode.Meta, kd *keyed) {
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
	var own keyed
	if kd == nil {
		own.setKey(m, t.hseed)
		kd = &own
	}
	k, h, fromB := &kd.k, kd.h, kd.fromB
	prefetched := kd != &own
	pos, r, alt := t.lookup(k, h)
	var f *Flow
	if r == nilSlot && alt {
		// Maybe the other direction of a conversation whose two
		// directions carry different VLAN tags (a trunk seen from one
		// side, tags stripped on the way back).
		f = t.otherVLAN(k, h, fromB)
	}
	if f == nil && r != nilSlot {
		if !prefetched {
			// Start loading the links touch will rewrite: their cache
			// misses then overlap the flow's update.
			t.prefetchLinks(r - 1)
		}
		f = t.ref(r)
		if !prefetched {
			t.prefetchTCP(f)
		}
		// A pure SYN from the client of a finished connection opens a new
		// one on the same 5-tuple.
		if m.Proto == decode.ProtoTCP && m.TCPFlags&(decode.TCPSyn|decode.TCPAck|decode.TCPRst|decode.TCPFin) == decode.TCPSyn &&
			reopens(f.state) {
			t.stats.Reopened++
			t.close(f, pos, f.closeType())
			pos, _, _ = t.lookup(k, h)
			f = nil
		}
	}
	if f == nil {
		f = t.newFlow(k, pos, h, m, fromB)
		if f == nil {
			t.stats.DroppedFlows++
			return
		}
	}
	t.stats.Counted++
	t.update(f, m, fromB)
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

func (t *Table) newFlow(k *key, pos uint64, h uint32, m *decode.Meta, fromB bool) *Flow {
	f := t.alloc()
	if f == nil {
		return nil
	}
	slot, gen := f.slot, (f.gen+1)&genMask|uint32(t.cfg.Shard)<<24
	*f = Flow{key: *k, slot: slot, gen: gen, start: m.Timestamp, end: m.Timestamp}
	f.flags = fLive
	if k.proto == decode.ProtoTCP {
		t.allocTCP(f)
	}
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
		pos, _, _ = t.lookup(k, h)
	}
	t.index[pos] = entry(h, slot+1)
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
	f.pkts[d]++
	p.bytes += uint64(m.WireLen)
	// Only L4-decoded packets get here: with reassembly the datagram's
	// payload is counted once, on the packet that completed it; without,
	// on its first fragment.
	p.l4bytes += uint64(m.PayloadLen)
	if m.PayloadLen > 0 {
		f.flags |= fPayload
	}
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

// close ends f: the Handler's Close, the record, and the slot freed. pos is
// f's position in the index.
func (t *Table) close(f *Flow, pos uint64, ct CloseType) {
	t.emit(f, ct)
	t.listRemove(f)
	t.indexDelete(pos)
	t.release(f)
}

// emit fills f's final record, lets the Handler complete it and hands it to
// OnRecord.
func (t *Table) emit(f *Flow, ct CloseType) {
	r := &t.rec
	t.fill(r, f, ct)
	if h := t.cfg.Handler; h != nil {
		h.Close(f, r)
	}
	t.stats.Records++
	if t.cfg.OnRecord != nil {
		t.cfg.OnRecord(r)
	}
}

// release frees f's slot, once f is out of the index and the lists.
func (t *Table) release(f *Flow) {
	t.releaseTCP(f)
	gen, slot := f.gen, f.slot
	*f = Flow{gen: gen, slot: slot}
	t.link(slot).next = t.free
	t.free = slot + 1
	t.stats.ActiveFlows--
}

// Close ends the input as Flush does, then returns the Table's memory at
// once rather than once the Table is unreachable: a table of a million
// flows holds a few hundred megabytes, most of it outside the Go heap
// (Stats.SlabBytes), where it does not prompt a collection. Only Stats
// may be called after Close.
func (t *Table) Close() {
	t.Flush()
	if t.mem != nil {
		t.mem.Free()
	}
	t.chunks, t.links, t.tcps, t.index, t.mask = nil, nil, nil, nil, 0
	t.nslots, t.free, t.ntcp, t.tcpFree = 0, nilSlot, 0, nilSlot
}

// Flush ends the input: every live flow is closed with the close type its
// state gives (as if it timed out), in slot order.
func (t *Table) Flush() {
	for s := uint32(0); s < t.nslots; s++ {
		f := t.flow(s)
		if f.flags&fLive == 0 {
			continue
		}
		t.emit(f, f.closeType())
		t.release(f)
	}
	// Every flow is gone: empty the index and the lists at once rather than
	// entry by entry (a cache miss or more each).
	clear(t.index)
	for c := range t.lists {
		t.lists[c].head, t.lists[c].tail = nilSlot, nilSlot
	}
	for i := range t.frags {
		e := &t.frags[i]
		if e.used {
			t.stats.FragUnmatched += uint64(e.pendPkts)
		}
		*e = fragEntry{}
	}
}
