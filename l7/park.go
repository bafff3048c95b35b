package l7

import "net/netip"

// Parking: a TCP flow whose bytes no decoder recognised yet, with nothing
// in flight but the bytes held for inference, keeps what its inference
// and reassembly need in a parkedConn (136 bytes) instead of its
// Conn (512), and takes a Conn again at its next packet. The held bytes
// stay in their pooled buffers.

// parkedConn is what a parked flow keeps of its Conn.
type parkedConn struct {
	client netip.AddrPort // the Conn's client when parked
	tries  int32
	sides  [2]parkedSide // by direction from client
}

// parkedSide is what a parked flow keeps of a side: no message is being
// decoded (msgLen 0), so the side's msg* fields are set afresh before the
// next one.
type parkedSide struct {
	buf                   []byte
	bufTs                 int64
	bufSeq, next, ack     uint32
	started, hasAck, seen bool
}

// Parked states live in chunks of 1<<parkChunkBits, so that many of them
// cost no copying as they grow.
const parkChunkBits = 10

// parkedAt returns the parked state at index i.
func (e *Engine) parkedAt(i int) *parkedConn {
	return &e.parked[i>>parkChunkBits][i&(1<<parkChunkBits-1)]
}

// slotParkedTCP marks an offSlot entry whose low 31 bits index
// Engine.parked.
const slotParkedTCP = 1 << 31

// parkable reports whether c, a TCP Conn of a flow in inference with no
// message, holds nothing a parkedConn does not keep.
func (c *Conn) parkable() bool {
	if c.state != stateInfer || c.transport != TCP || c.respGap || c.owed != 0 || c.avoid != 0 ||
		c.tls || c.msgProto != "" || c.bufMid != [2]int32{} {
		return false
	}
	for i := range c.sides {
		s := &c.sides[i]
		if len(s.r.ooo) != 0 || s.calls != nil || s.skip || s.msgLen != 0 || s.errs != 0 || s.decoded {
			return false
		}
	}
	return true
}

// park closes c, a parkable Conn of the flow in slot, and keeps its state
// for the flow's next packet.
func (e *Engine) park(c *Conn, slot int) {
	var i int
	if n := len(e.freeParked); n > 0 {
		i = int(e.freeParked[n-1])
		e.freeParked = e.freeParked[:n-1]
	} else {
		i = e.nparked
		if i>>parkChunkBits == len(e.parked) {
			e.parked = append(e.parked, new([1 << parkChunkBits]parkedConn))
		}
		e.nparked++
	}
	p := e.parkedAt(i)
	p.client, p.tries = c.client, c.tries
	for d := range p.sides {
		s, ps := &c.sides[uint8(d)^c.flip], &p.sides[d]
		*ps = parkedSide{buf: s.buf, bufTs: s.bufTs, bufSeq: s.bufSeq, next: s.r.next, ack: s.ack,
			started: s.r.started, hasAck: s.hasAck, seen: s.ackSeen}
		s.buf = nil // kept, not dropped by Close
	}
	e.retire(c, slot, slotParkedTCP+uint64(i))
}

// unpark gives c, just opened for the parked flow whose state is at index
// i of Engine.parked, that state back, and frees the index.
func (e *Engine) unpark(c *Conn, i int) {
	p := e.parkedAt(i)
	c.tries = p.tries
	for d := range p.sides {
		ps := &p.sides[d]
		k := uint8(d)
		if p.client != c.client {
			k ^= 1 // the flow was re-oriented while parked
		}
		s := &c.sides[k^c.flip]
		s.buf, s.bufTs, s.bufSeq = ps.buf, ps.bufTs, ps.bufSeq
		s.r.next, s.r.started = ps.next, ps.started
		s.ack, s.hasAck, s.ackSeen = ps.ack, ps.hasAck, ps.seen
	}
	*p = parkedConn{}
	e.freeParked = append(e.freeParked, int32(i))
}

// unparkDrop ends the parked state at index i without a Conn (the flow
// ended): its held bytes were never inferred.
func (e *Engine) unparkDrop(i int) {
	p := e.parkedAt(i)
	for d := range p.sides {
		if b := p.sides[d].buf; b != nil {
			e.stats.UninferredBytes += uint64(len(b))
			e.pool.put(b)
		}
	}
	*p = parkedConn{}
	e.freeParked = append(e.freeParked, int32(i))
}

// dropSlot clears the offSlot entry of slot, ending a parked state it
// names.
func (e *Engine) dropSlot(slot int) {
	if slot >= len(e.offSlot) {
		return
	}
	if o := e.offSlot[slot] & 0xffffffff; o >= slotParkedTCP {
		e.unparkDrop(int(o - slotParkedTCP))
	}
	e.offSlot[slot] = 0
}
