package l7

import (
	"math"
	"unsafe"

	"github.com/metaflow-go/metaflow/flow"
)

// Parking: a TCP flow whose bytes no decoder recognised yet, with nothing
// in flight but the bytes held for inference, keeps what its inference
// and reassembly need in a parkedConn (64 bytes) instead of its
// Conn (512), and takes a Conn again at its next packet. The held bytes
// stay in their pooled buffers.

// parkedConn is what a parked flow keeps of its Conn: per side, by
// direction from the Conn's client (index 0: client to server), what
// reassembly and inference need. No message is being decoded (msgLen 0),
// so the sides' msg* fields are set afresh before the next one. Its
// fields are laid out by kind, not by side, so that it fills one 64-byte
// cache line with no padding but its last byte (TestParkedConn_Size).
type parkedConn struct {
	// buf is the held bytes' pooled buffer (nil: none): n[d] bytes, in a
	// buffer of the pool's class for n[d] (Conn.parkable).
	buf               [2]*byte
	bufTs             [2]int64
	bufSeq, next, ack [2]uint32
	n                 [2]uint16
	tries             uint16
	flags             uint8 // parkStarted<<(3*d) | ..., parkClientFirst
}

// parkedConn flags: a side's reassembler started, its ack has moved, it
// saw an ACK (shifted by 3*d for the side of direction d); and the order
// of the Conn's client and server endpoints when it was parked.
const (
	parkStarted = 1 << iota
	parkHasAck
	parkSeen
	parkClientFirst = 1 << 6
)

// clientFirst reports whether c's client sorts before its server: the
// flow's endpoints do not change, so a flow re-oriented while parked (its
// client and server swapped) is one whose answer changed.
func (c *Conn) clientFirst() bool { return c.client.Compare(c.server) < 0 }

// flowClientFirst is clientFirst for the orientation flow f has now.
func flowClientFirst(f *flow.Flow) bool { return f.Client().Compare(f.Server()) < 0 }

// parkedAt returns the parked state at index i.
func (e *Engine) parkedAt(i int) *parkedConn { return e.parked.at(i) }

// slotParkedTCP marks an offSlot entry whose low 31 bits index
// Engine.parked.
const slotParkedTCP = 1 << 31

// parkable reports whether c, a TCP Conn of a flow in inference with no
// message, holds nothing a parkedConn does not keep. Held bytes are in a
// buffer of the pool's class for their length (hold and growHeld take
// them so) and at most maxHeld; tries is below MaxFlowInferAttempts: a
// Conn outside what parkedConn's fields hold (a larger configured
// MaxFlowInferAttempts) stays open.
func (c *Conn) parkable() bool {
	if c.state != stateInfer || c.transport != TCP || c.respGap || c.owed != 0 || c.avoid != 0 ||
		c.tls || c.msgProto != "" || c.bufMid != [2]int32{} || c.tries < 0 || c.tries > math.MaxUint16 {
		return false
	}
	for i := range c.sides {
		s := &c.sides[i]
		if len(s.r.ooo) != 0 || s.calls != nil || s.skip || s.msgLen != 0 || s.errs != 0 || s.decoded {
			return false
		}
		if s.buf != nil && (len(s.buf) > math.MaxUint16 || cap(s.buf) != classSize(len(s.buf))) {
			return false
		}
	}
	return true
}

// park closes c, a parkable Conn of the flow in slot, and keeps its state
// for the flow's next packet.
func (e *Engine) park(c *Conn, slot int) {
	i := e.parked.alloc()
	p := e.parkedAt(i)
	p.tries = uint16(c.tries)
	var flags uint8
	if c.clientFirst() {
		flags = parkClientFirst
	}
	for d := range 2 {
		s := &c.sides[uint8(d)^c.flip]
		p.buf[d], p.n[d] = unsafe.SliceData(s.buf), uint16(len(s.buf))
		p.bufTs[d], p.bufSeq[d], p.next[d], p.ack[d] = s.bufTs, s.bufSeq, s.r.next, s.ack
		var f uint8
		if s.r.started {
			f |= parkStarted
		}
		if s.hasAck {
			f |= parkHasAck
		}
		if s.ackSeen {
			f |= parkSeen
		}
		flags |= f << (3 * d)
		s.buf = nil // kept, not dropped by Close
	}
	p.flags = flags
	e.retire(c, slot, slotParkedTCP+uint64(i))
}

// held returns the held bytes of direction d.
func (p *parkedConn) held(d int) []byte {
	if p.buf[d] == nil {
		return nil
	}
	return unsafe.Slice(p.buf[d], classSize(int(p.n[d])))[:p.n[d]]
}

// unpark gives c, just opened for the parked flow whose state is at index
// i of Engine.parked, that state back, and frees the index.
func (e *Engine) unpark(c *Conn, i int) {
	p := e.parkedAt(i)
	c.tries = int32(p.tries)
	var k uint8
	if wasFirst := p.flags&parkClientFirst != 0; wasFirst != c.clientFirst() {
		k = 1 // the flow was re-oriented while parked
	}
	for d := range 2 {
		s := &c.sides[uint8(d)^k^c.flip]
		f := p.flags >> (3 * d)
		s.buf, s.bufTs, s.bufSeq = p.held(d), p.bufTs[d], p.bufSeq[d]
		s.r.next, s.r.started = p.next[d], f&parkStarted != 0
		s.ack, s.hasAck, s.ackSeen = p.ack[d], f&parkHasAck != 0, f&parkSeen != 0
	}
	e.parked.release(i)
}

// unparkDrop ends the parked state at index i without a Conn (the flow
// ended): its held bytes were never inferred.
func (e *Engine) unparkDrop(i int) {
	p := e.parkedAt(i)
	for d := range 2 {
		if b := p.held(d); b != nil {
			e.stats.UninferredBytes += uint64(len(b))
			e.pool.put(b)
		}
	}
	e.parked.release(i)
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
