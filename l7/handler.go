package l7

import (
	"unsafe"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/prefetch"
)

// The Engine is the flow table's L7 handler.
var (
	_ flow.Handler        = (*Engine)(nil)
	_ flow.Snapshotter    = (*Engine)(nil)
	_ flow.SlotPrefetcher = (*Engine)(nil)
)

// Packet implements flow.Handler: it feeds the TCP segments of f through
// the reassembler and hands UDP datagrams to the parser, one per Parse call.
// Packets of other protocols are ignored.
func (e *Engine) Packet(f *flow.Flow, m *decode.Meta, dir flow.Dir) {
	var t Transport
	switch m.Proto {
	case decode.ProtoTCP:
		t = TCP
	case decode.ProtoUDP:
		t = UDP
	default:
		return
	}
	if !m.L4Decoded || m.PayloadLen == 0 && !f.CarriedPayload() {
		// No payload yet on this flow: it has no L7 state (a SYN's
		// sequence number stays in the flow, Flow.NextSeq, for the Conn
		// the first payload opens).
		return
	}
	slot := int(f.Slot())
	var c *Conn
	if slot < len(e.bySlot) {
		c = e.bySlot[slot]
	}
	if c != nil && c.id != f.ID() {
		// The slot's previous flow was never closed through Close.
		e.closeSlot(slot)
		c = nil
	}
	if c == nil && slot < len(e.offSlot) && e.restingWithPending(e.offSlot[slot], f.ID()) {
		// The flow rests with requests waiting: the clock moves first,
		// as for its Conn, and may time one out, which wakes the flow.
		e.advance(m.Timestamp)
		c = e.bySlot[slot]
	}
	parked, parkedAt, restedAt := int32(-1), -1, -1
	if c == nil && slot < len(e.offSlot) {
		if o := e.offSlot[slot]; o != 0 && o>>32 != f.ID()>>32 {
			// The slot's previous flow was never closed through Close.
			e.clearSlot(slot)
		} else if o != 0 {
			low := o & 0xffffffff
			if low >= slotRested && t == TCP && m.PayloadLen == 0 {
				// An acknowledgement (or FIN) moves only the parked
				// or rested state: the flow stays without a Conn.
				e.advance(m.Timestamp)
				if low >= slotParkedTCP {
					e.parkedSegment(int(low-slotParkedTCP), f, dir, m)
				} else {
					e.restedSegment(int(low-slotRested), f, dir, m)
				}
				if len(e.restQ) > 0 {
					e.restQueued()
				}
				return
			}
			switch {
			case low >= slotParkedTCP:
				parkedAt = int(low - slotParkedTCP)
				e.offSlot[slot] = 0
			case low >= slotRested:
				restedAt = int(low - slotRested)
				e.offSlot[slot] = 0
			case low == slotOff:
				// Inference gave up on this flow: count its bytes
				// as a Conn in stateOff would.
				e.advance(m.Timestamp)
				if n := uint64(len(m.Payload)); n > 0 {
					e.stats.Segments++
					e.stats.Bytes += n
					e.stats.UninferredBytes += n
				}
				return
			default:
				parked = int32(low) - slotParked
				e.offSlot[slot] = 0
			}
		}
	}
	if c == nil {
		if m.PayloadLen == 0 && parkedAt < 0 && restedAt < 0 {
			// Nothing to parse yet; a SYN's sequence number stays in
			// the flow (Flow.NextSeq) for the Conn the first payload
			// opens.
			return
		}
		c = e.open(ConnInfo{ID: f.ID(), Client: f.Client(), Server: f.Server(), Transport: t, Oriented: f.Oriented()}, m.Timestamp)
		if parked >= 0 {
			c.tries = parked
		}
		for slot >= len(e.bySlot) {
			e.bySlot = append(e.bySlot, nil)
		}
		e.bySlot[slot] = c
		c.slot = int32(slot)
		if parkedAt >= 0 {
			e.unpark(c, parkedAt)
		} else if restedAt >= 0 {
			e.unrest(c, restedAt)
		} else if t == TCP {
			for d := flow.DirTx; d <= flow.DirRx; d++ {
				// A SYN with payload (TCP Fast Open) opens the Conn
				// itself; Segment takes its sequence number.
				if f.SawSYN(d) && !(d == dir&1 && m.TCPFlags&decode.TCPSyn != 0) {
					if isn, ok := streamISN(f, d, dir, m.Seq); ok {
						c.sides[uint8(d)^c.flip].r.syn(isn)
					}
				}
			}
		}
	} else {
		e.advance(m.Timestamp)
		if c.state == stateClosed {
			return
		}
		c.oriented = f.Oriented()
		if cl := f.Client(); cl != c.client && cl == c.server {
			// The flow table re-oriented the flow itself (a SYN-ACK
			// told it the server): follow it.
			c.flip ^= 1
			c.client, c.server = c.server, c.client
		}
	}
	e.swapConn, e.swapper = c, f
	phys := uint8(dir&1) ^ c.flip
	if t == TCP {
		missing := 0
		if m.Truncated && m.PayloadLen > len(m.Payload) {
			missing = m.PayloadLen - len(m.Payload)
		}
		c.segment(phys, m.Timestamp, m.Seq, m.Ack, m.TCPFlags, m.Payload, missing)
	} else if len(m.Payload) > 0 {
		e.stats.Segments++
		e.stats.Bytes += uint64(len(m.Payload))
		c.deliver(&c.sides[phys], m.Timestamp, 0, m.Payload)
	}
	e.swapConn, e.swapper = nil, nil
	switch {
	case c.dec >= 0 || c.abandoned >= 0 || c.requests != 0 || c.responses != 0 || c.phead != nil:
		if c.state != stateClosed {
			c.idle()
		}
	case c.state == stateOff:
		e.retire(c, slot, slotOff)
	case c.state == stateInfer && t == UDP:
		// No decoder yet, and a datagram holds nothing for the next:
		// the flow keeps its tries, not a Conn.
		e.retire(c, slot, slotParked+uint64(c.tries))
	case c.parkable():
		e.park(c, slot)
	case c.state != stateClosed:
		c.idle()
	}
	if len(e.restQ) > 0 {
		e.restQueued()
	}
}

// parkedSegment takes a TCP segment without payload of direction dir of
// f, parked at index i, as a Conn unparked for it would (Conn.segment): it
// moves the direction's acknowledgement, and a SYN its reassembly start.
func (e *Engine) parkedSegment(i int, f *flow.Flow, dir flow.Dir, m *decode.Meta) {
	p := e.parkedAt(i)
	d := uint8(dir & 1)
	if wasFirst := p.flags&parkClientFirst != 0; wasFirst != flowClientFirst(f) {
		d ^= 1 // the flow was re-oriented while parked (as unpark finds)
	}
	sh := 3 * d
	if m.TCPFlags&flagAck != 0 {
		if ackMoved(p.flags>>sh&parkSeen != 0, p.ack[d], m.Ack) {
			p.flags |= parkHasAck << sh
		}
		p.ack[d] = m.Ack
		p.flags |= parkSeen << sh
	}
	if m.TCPFlags&flagSyn != 0 && p.flags>>sh&parkStarted == 0 {
		p.flags |= parkStarted << sh
		p.next[d] = m.Seq + 1
	}
}

// The low 32 bits of an offSlot entry (the high ones are those of the
// flow's id): slotOff for a flow whose inference gave up, slotParked+n for
// a UDP flow whose n datagrams no decoder recognised yet, slotParkedTCP+i
// for a parked TCP flow (park.go).
const (
	slotOff    = 1
	slotParked = 2
)

// retire closes c, a Conn of the flow in slot that has nothing to report
// (no decoder took it, no message), and marks the slot with state
// (slotOff, slotParked+tries), so that the flow's later packets are
// counted, or its inference resumed, without a Conn: a flow of an unknown
// protocol then holds 8 bytes of L7 state instead of a Conn.
func (e *Engine) retire(c *Conn, slot int, state uint64) {
	id := c.id
	c.Close(e.now)
	for slot >= len(e.offSlot) {
		e.offSlot = append(e.offSlot, 0)
	}
	e.offSlot[slot] = id>>32<<32 | state
}

// streamISN returns the initial sequence number of direction d of f, a
// flow that saw d's SYN and no payload before this packet (of direction
// dir, sequence number seq: the first payload, which opens the Conn). The
// flow has already counted the packet. For the other direction, the
// number after the SYN is the flow's next sequence number of d (no data
// has moved it). For the packet's own direction, it is seq when the
// segment comes in order, and the start of the gap the segment opened when
// it came ahead of earlier data (swapped first segments). Keeping the
// numbers in the flow, rather than 8 bytes a slot here, keeps flows that
// never carry payload (most of a busy link's) smaller.
func streamISN(f *flow.Flow, d, dir flow.Dir, seq uint32) (uint32, bool) {
	if d != dir&1 {
		next, ok := f.NextSeq(d)
		return next - 1, ok
	}
	if lo, hi, ok := f.SeqGap(d); ok && hi == seq {
		return lo - 1, true
	}
	return seq - 1, true
}

// Close implements flow.Handler: it ends f's connection (see Conn.Close)
// and fills r's l7_protocol and l7_* counters (since the previous
// snapshot, if any).
func (e *Engine) Close(f *flow.Flow, r *flow.Record) {
	c := e.slotConn(f.ID())
	if c == nil {
		slot := int(f.Slot())
		i := e.restedIndex(slot, f.ID())
		switch {
		case i >= 0 && i&restPendBit != 0:
			// Its waiting requests are emitted by its Conn's Close.
			c = e.wake(i &^ restPendBit)
		case i >= 0:
			e.advance(e.now) // as the Conn's Close would
			fillL4(r, e.restedSummary(i), e.restedReported(i))
			e.clearSlot(slot)
			return
		case slot < len(e.offSlot) && e.offSlot[slot]>>32 == f.ID()>>32:
			e.dropSlot(slot)
			return
		default:
			return
		}
	}
	base := c.reported
	fillL4(r, c.Close(e.now), base) // Close also frees the slot
}

// Snapshot implements flow.Snapshotter: it fills r's L7 fields with the
// counts since f's previous record.
func (e *Engine) Snapshot(f *flow.Flow, r *flow.Record) {
	c := e.slotConn(f.ID())
	if c == nil {
		if i := e.restedIndex(int(f.Slot()), f.ID()); i >= 0 {
			sum := e.restedSummary(i)
			fillL4(r, sum, e.restedReported(i))
			e.setRestedReported(i, countsOf(sum))
		}
		return
	}
	sum := c.summary()
	fillL4(r, sum, c.reported)
	c.reported = countsOf(sum)
}

func fillL4(r *flow.Record, sum ConnSummary, base connCounts) {
	r.L7Protocol = sum.L7Protocol
	r.L7Request = sum.Requests - base.requests
	r.L7Response = sum.Responses - base.responses
	r.L7ClientError = sum.ClientErrors - base.clientErrors
	r.L7ServerError = sum.ServerErrors - base.serverErrors
	r.L7ServerTimeout = sum.Timeouts - base.timeouts
}

func (e *Engine) closeSlot(slot int) {
	if c := e.bySlot[slot]; c != nil {
		c.Close(e.now)
		e.bySlot[slot] = nil
	}
}

// PrefetchSlot implements flow.SlotPrefetcher: it asks for the slot's
// entries in the engine's per-slot arrays, which Packet reads first.
func (e *Engine) PrefetchSlot(slot uint32) {
	if int(slot) < len(e.bySlot) {
		prefetch.Line(uintptr(unsafe.Pointer(&e.bySlot[slot])))
	}
	if int(slot) < len(e.offSlot) {
		prefetch.Line(uintptr(unsafe.Pointer(&e.offSlot[slot])))
	}
}
