package l7

import (
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
)

// Resting: a flow whose decoder is known and whose parser has been told
// idle (IdleDelay without input), with nothing in flight — no request
// waiting for its response, no bytes buffered, no message begun — keeps
// what it needs to go on in a restedConn (136 bytes) instead of its Conn
// (512), and takes a Conn again at its next packet. Most flows of a busy
// link end by timeout, long after their last request: they wait as
// restedConns. The parser stays the flow's (idle, holding no scratch).
// Closing or snapshotting a rested flow reads the restedConn: its Conn
// would report nothing but the counts it keeps.

// restedConn is what a rested flow keeps of its Conn.
type restedConn struct {
	parser   Parser
	msgProto string
	avoid    uint64
	counts   connCounts // requests, responses, errors, timeouts so far
	reported connCounts
	tries    int32
	dec      int32
	// abandoned and respGapEnd as in Conn.
	abandoned  int32
	respGapEnd uint32
	sides      [2]restedSide // physical numbering, as Conn.sides
	flip       uint8
	transport  Transport
	tls        bool
	// clientFirst: the client sorted before the server when the flow
	// rested; the flow table re-oriented the flow meanwhile if that no
	// longer holds at its next packet.
	clientFirst bool
}

// restedSide is what a rested flow keeps of a side: its reassembly
// position, acknowledgement and decoding history. No message is being
// decoded, and no bytes are held, so the side's buf* and msg* fields are
// set afresh before they are read again.
type restedSide struct {
	next, ack                         uint32
	errs                              int32
	started, hasAck, ackSeen, decoded bool
}

// slotRested marks an offSlot entry whose low 30 bits index
// Engine.rested (below slotParkedTCP).
const slotRested = 1 << 30

// restKey names a Conn queued to rest: the Conn may have closed, or been
// reused by another flow (id), by the time the queue is read.
type restKey struct {
	c  *Conn
	id uint64
}

func (e *Engine) restedAt(i int) *restedConn { return e.rested.at(i) }

// restable reports whether c, a Conn told idle, holds nothing a
// restedConn does not keep.
func (c *Conn) restable() bool {
	if c.state != stateParse || c.slot < 0 || c.phead != nil || c.npending != 0 || c.pendBytes != 0 ||
		c.owed != 0 || c.respGap || c.bufMid != [2]int32{} || c.idleTick != 0 {
		return false
	}
	for i := range c.sides {
		s := &c.sides[i]
		if s.buf != nil || s.msgLen != 0 || len(s.r.ooo) != 0 || s.r.held != 0 || s.calls != nil || s.skip {
			return false
		}
	}
	return true
}

// restQueued rests the Conns queued by idleOld that are still idle and
// restable. It runs at the end of Packet, when no Conn is in use up the
// stack (idleOld runs from the engine's clock, in the middle of input).
func (e *Engine) restQueued() {
	for i, k := range e.restQ {
		e.restQ[i] = restKey{}
		c := k.c
		if c.id != k.id || int(c.slot) >= len(e.bySlot) || c.slot < 0 || e.bySlot[c.slot] != c || !c.restable() {
			continue
		}
		e.rest(c)
	}
	e.restQ = e.restQ[:0]
}

// rest keeps c's state in a restedConn named by its flow slot's offSlot
// entry and frees c. The flow stays open (Engine.nconns).
func (e *Engine) rest(c *Conn) {
	i := e.rested.alloc()
	r := e.restedAt(i)
	*r = restedConn{
		parser: c.parser, msgProto: c.msgProto, avoid: c.avoid,
		counts:   connCounts{c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts},
		reported: c.reported, tries: c.tries, dec: c.dec, abandoned: c.abandoned, respGapEnd: c.respGapEnd,
		flip: c.flip, transport: c.transport, tls: c.tls, clientFirst: c.clientFirst(),
	}
	for d := range c.sides {
		s := &c.sides[d]
		r.sides[d] = restedSide{next: s.r.next, ack: s.ack, errs: s.errs,
			started: s.r.started, hasAck: s.hasAck, ackSeen: s.ackSeen, decoded: s.decoded}
		s.r.reset(&e.env)
	}
	slot := int(c.slot)
	for slot >= len(e.offSlot) {
		e.offSlot = append(e.offSlot, 0)
	}
	e.offSlot[slot] = c.id>>32<<32 | slotRested + uint64(i)
	e.bySlot[slot] = nil
	c.setParser(nil)
	c.msgProto = ""
	c.state = stateClosed
	e.freeConns = append(e.freeConns, c)
}

// unrest gives c, just opened for the rested flow whose state is at index
// i of Engine.rested, that state back, and frees the index.
func (e *Engine) unrest(c *Conn, i int) {
	r := e.restedAt(i)
	e.nconns-- // open counted the flow again
	c.setParser(r.parser)
	c.dec, c.state = r.dec, stateParse
	c.msgProto, c.avoid, c.tries, c.abandoned, c.respGapEnd = r.msgProto, r.avoid, r.tries, r.abandoned, r.respGapEnd
	k := r.counts
	c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts = k.requests, k.responses, k.clientErrors, k.serverErrors, k.timeouts
	c.reported, c.tls = r.reported, r.tls
	c.flip = r.flip
	if c.clientFirst() != r.clientFirst {
		c.flip ^= 1 // the flow table re-oriented the flow while it rested
	}
	for d := range c.sides {
		rs, s := &r.sides[d], &c.sides[d]
		s.r.next, s.r.started = rs.next, rs.started
		s.ack, s.hasAck, s.ackSeen = rs.ack, rs.hasAck, rs.ackSeen
		s.errs, s.decoded = rs.errs, rs.decoded
	}
	e.rested.release(i)
}

// restedSegment takes a TCP segment without payload of direction dir of
// f, rested at index i, as Conn.segment would: it moves the direction's
// acknowledgement (and a SYN its reassembly start), following a
// re-orientation of the flow as Packet does for a Conn.
func (e *Engine) restedSegment(i int, f *flow.Flow, dir flow.Dir, m *decode.Meta) {
	r := e.restedAt(i)
	if flowClientFirst(f) != r.clientFirst {
		r.flip ^= 1
		r.clientFirst = !r.clientFirst
	}
	s := &r.sides[uint8(dir&1)^r.flip]
	if m.TCPFlags&flagAck != 0 {
		s.hasAck = s.hasAck || ackMoved(s.ackSeen, s.ack, m.Ack)
		s.ack, s.ackSeen = m.Ack, true
	}
	if m.TCPFlags&flagSyn != 0 && !s.started {
		s.started, s.next = true, m.Seq+1
	}
}

// restedSummary is what a Conn would return on closing the rested flow
// at index i (it has nothing to emit): its summary.
func (e *Engine) restedSummary(i int) (ConnSummary, *restedConn) {
	r := e.restedAt(i)
	k := r.counts
	sum := ConnSummary{Requests: k.requests, Responses: k.responses, ClientErrors: k.clientErrors,
		ServerErrors: k.serverErrors, Timeouts: k.timeouts, L7Protocol: e.names[r.dec]}
	if r.msgProto != "" {
		sum.L7Protocol = r.msgProto
	}
	return sum, r
}

// unrestDrop ends the rested flow at index i (the flow ended) as its
// Conn's Close would: the parser goes back to the pool.
func (e *Engine) unrestDrop(i int) {
	r := e.restedAt(i)
	e.nconns--
	e.putParser(r.dec, r.transport, r.parser)
	e.rested.release(i)
}

// restedIndex returns the rested index of slot's offSlot entry when it
// names a rested flow of id, else -1.
func (e *Engine) restedIndex(slot int, id uint64) int {
	if slot >= len(e.offSlot) {
		return -1
	}
	o := e.offSlot[slot]
	if o>>32 != id>>32 {
		return -1
	}
	if low := o & 0xffffffff; low >= slotRested && low < slotParkedTCP {
		return int(low - slotRested)
	}
	return -1
}

// clearSlot clears the offSlot entry of slot, ending the rested or parked
// state it names.
func (e *Engine) clearSlot(slot int) {
	if slot < len(e.offSlot) {
		if low := e.offSlot[slot] & 0xffffffff; low >= slotRested && low < slotParkedTCP {
			e.unrestDrop(int(low - slotRested))
			e.offSlot[slot] = 0
			return
		}
	}
	e.dropSlot(slot)
}
