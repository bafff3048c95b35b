package l7

import (
	"math"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
)

// Resting: a flow whose decoder is known and whose parser has been told
// idle (IdleDelay without input), with nothing in flight — no request
// waiting for its response, no bytes buffered, no message begun — keeps
// what it needs to go on in a restedConn (80 bytes) instead of its Conn
// (512), and takes a Conn again at its next packet. Most flows of a busy
// link end by timeout, long after their last request: they wait as
// restedConns. The parser stays the flow's (idle, holding no scratch).
// Closing or snapshotting a rested flow reads the restedConn: its Conn
// would report nothing but the counts it keeps.

// restedConn is what a rested flow keeps of its Conn. Fields a Conn in
// that state does not read again are not kept: tries and abandoned (read
// only while no decoder has the flow), respGapEnd (read only with
// respGap, which a resting Conn does not have). A Conn whose state does
// not fit the narrower fields (avoid set, a decoder index or a side's
// parse errors past 255, more than 255 distinct Message.Protocol values)
// does not rest (Conn.restable).
type restedConn struct {
	parser   Parser
	counts   connCounts // requests, responses, errors, timeouts so far
	reported connCounts
	// next and ack are the sides' reassembly position and latest
	// acknowledgement, in physical numbering as Conn.sides.
	next, ack [2]uint32
	errs      [2]uint8 // Conn.sides[i].errs
	dec       uint8
	proto     uint8 // msgProto: index in Engine.restProtos (0: "")
	transport Transport
	flags     uint8    // restFlip | restTLS | restClientFirst
	sflags    [2]uint8 // per side: restStarted | restHasAck | restAckSeen | restDecoded
}

// restedConn flags. restClientFirst: the client sorted before the server
// when the flow rested; the flow table re-oriented the flow meanwhile if
// that no longer holds at its next packet.
const (
	restFlip = 1 << iota
	restTLS
	restClientFirst
)

// restedConn side flags: the side's reassembler started, its ack has
// moved, it saw an ACK, one of its messages was decoded.
const (
	restStarted = 1 << iota
	restHasAck
	restAckSeen
	restDecoded
)

func (r *restedConn) flip() uint8 { return r.flags & restFlip }

func (r *restedConn) clientFirst() bool { return r.flags&restClientFirst != 0 }

// restProto returns the index of p in e.restProtos, adding it when it is
// new, or -1 when the table is full. "" is index 0.
func (e *Engine) restProto(p string) int {
	if p == "" {
		return 0
	}
	for i, q := range e.restProtos {
		if q == p {
			return i + 1
		}
	}
	if len(e.restProtos) >= math.MaxUint8 {
		return -1
	}
	e.restProtos = append(e.restProtos, p)
	return len(e.restProtos)
}

// restedProto returns the msgProto of index i.
func (e *Engine) restedProto(i uint8) string {
	if i == 0 {
		return ""
	}
	return e.restProtos[i-1]
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
		c.owed != 0 || c.respGap || c.bufMid != [2]int32{} || c.idleTick != 0 || c.avoid != 0 ||
		c.dec > math.MaxUint8 {
		return false
	}
	for i := range c.sides {
		s := &c.sides[i]
		if s.buf != nil || s.msgLen != 0 || len(s.r.ooo) != 0 || s.r.held != 0 || s.calls != nil || s.skip ||
			s.errs < 0 || s.errs > math.MaxUint8 {
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
// entry and frees c. The flow stays open (Engine.nconns). c is restable;
// rest fails (c stays) only when c's Message.Protocol finds no room in
// Engine.restProtos.
func (e *Engine) rest(c *Conn) {
	proto := e.restProto(c.msgProto)
	if proto < 0 {
		return
	}
	i := e.rested.alloc()
	r := e.restedAt(i)
	flags := c.flip
	if c.tls {
		flags |= restTLS
	}
	if c.clientFirst() {
		flags |= restClientFirst
	}
	*r = restedConn{
		parser:   c.parser,
		counts:   connCounts{c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts},
		reported: c.reported, dec: uint8(c.dec), proto: uint8(proto), transport: c.transport, flags: flags,
	}
	for d := range c.sides {
		s := &c.sides[d]
		r.next[d], r.ack[d], r.errs[d] = s.r.next, s.ack, uint8(s.errs)
		var f uint8
		if s.r.started {
			f |= restStarted
		}
		if s.hasAck {
			f |= restHasAck
		}
		if s.ackSeen {
			f |= restAckSeen
		}
		if s.decoded {
			f |= restDecoded
		}
		r.sflags[d] = f
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
	c.dec, c.state = int32(r.dec), stateParse
	c.msgProto = e.restedProto(r.proto)
	k := r.counts
	c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts = k.requests, k.responses, k.clientErrors, k.serverErrors, k.timeouts
	c.reported, c.tls = r.reported, r.flags&restTLS != 0
	c.flip = r.flip()
	if c.clientFirst() != r.clientFirst() {
		c.flip ^= 1 // the flow table re-oriented the flow while it rested
	}
	for d := range c.sides {
		s, f := &c.sides[d], r.sflags[d]
		s.r.next, s.r.started = r.next[d], f&restStarted != 0
		s.ack, s.hasAck, s.ackSeen = r.ack[d], f&restHasAck != 0, f&restAckSeen != 0
		s.errs, s.decoded = int32(r.errs[d]), f&restDecoded != 0
	}
	e.rested.release(i)
}

// restedSegment takes a TCP segment without payload of direction dir of
// f, rested at index i, as Conn.segment would: it moves the direction's
// acknowledgement (and a SYN its reassembly start), following a
// re-orientation of the flow as Packet does for a Conn.
func (e *Engine) restedSegment(i int, f *flow.Flow, dir flow.Dir, m *decode.Meta) {
	r := e.restedAt(i)
	if flowClientFirst(f) != r.clientFirst() {
		r.flags ^= restFlip | restClientFirst
	}
	d := uint8(dir&1) ^ r.flip()
	sf := &r.sflags[d]
	if m.TCPFlags&flagAck != 0 {
		if ackMoved(*sf&restAckSeen != 0, r.ack[d], m.Ack) {
			*sf |= restHasAck
		}
		r.ack[d] = m.Ack
		*sf |= restAckSeen
	}
	if m.TCPFlags&flagSyn != 0 && *sf&restStarted == 0 {
		*sf |= restStarted
		r.next[d] = m.Seq + 1
	}
}

// restedSummary is what a Conn would return on closing the rested flow
// at index i (it has nothing to emit): its summary.
func (e *Engine) restedSummary(i int) (ConnSummary, *restedConn) {
	r := e.restedAt(i)
	k := r.counts
	sum := ConnSummary{Requests: k.requests, Responses: k.responses, ClientErrors: k.clientErrors,
		ServerErrors: k.serverErrors, Timeouts: k.timeouts, L7Protocol: e.names[r.dec]}
	if r.proto != 0 {
		sum.L7Protocol = e.restedProto(r.proto)
	}
	return sum, r
}

// unrestDrop ends the rested flow at index i (the flow ended) as its
// Conn's Close would: the parser goes back to the pool.
func (e *Engine) unrestDrop(i int) {
	r := e.restedAt(i)
	e.nconns--
	e.putParser(int32(r.dec), r.transport, r.parser)
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
