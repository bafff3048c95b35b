package l7

import (
	"math"
	"net/netip"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
)

// Resting: a flow whose decoder is known and whose parser has been told
// idle (IdleDelay without input), with nothing in flight but requests
// waiting for their responses — no bytes buffered, no message begun —
// keeps what it needs to go on in a restedConn (64 bytes) instead of its
// Conn (512), and takes a Conn again at its next packet. Most flows of a
// busy link end by timeout, long after their last request: they wait as
// restedConns. The parser stays the flow's (idle, holding no scratch).
// Closing or snapshotting a rested flow without requests waiting reads the
// restedConn: its Conn would report nothing but the counts it keeps. A
// flow with requests waiting (a request whose response never comes: 65K
// flows at the MaxSessions cap on the mixed benchmark file) keeps its
// identity and pending list beside them (restedPending, 184 bytes), and
// its requests' sessions stay where they are: what needs its Conn (a
// timeout, an overflow, its close) wakes it first (Engine.wake).

// restedConn is what a rested flow keeps of its Conn. Fields a Conn in
// that state does not read again are not kept: tries and abandoned (read
// only while no decoder has the flow), respGapEnd (read only with
// respGap, which a resting Conn does not have). A Conn whose state does
// not fit the narrower fields (avoid set, a decoder index or a side's
// parse errors past 255, more than 255 distinct Message.Protocol values)
// does not rest (Conn.restable).
type restedConn struct {
	parser Parser
	counts connCounts // requests, responses, errors, timeouts so far
	// next and ack are the sides' reassembly position and latest
	// acknowledgement, in physical numbering as Conn.sides.
	next, ack [2]uint32
	errs      [2]uint8 // Conn.sides[i].errs
	dec       uint8
	proto     uint8 // msgProto: index in Engine.restProtos (0: "")
	transport Transport
	flags     uint8    // restFlip | restTLS | restClientFirst | restReported
	sflags    [2]uint8 // per side: restStarted | restHasAck | restAckSeen | restDecoded
}

// restedConn flags. restClientFirst: the client sorted before the server
// when the flow rested; the flow table re-oriented the flow meanwhile if
// that no longer holds at its next packet. restReported: the counts of the
// flow's previous snapshot (Conn.reported) are not zero; they are kept
// apart (Engine.restedReported), as flows are snapshotted only when the
// flow table is configured so.
const (
	restFlip = 1 << iota
	restTLS
	restClientFirst
	restReported
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

// restedPending is the state of a rested flow whose requests wait for
// their responses: what the Conn's sessions read of it (its identity for
// their records, its pending list), beside the restedConn. Its sessions
// name it (session.c nil, session.rest its index); a session event that
// needs the Conn (a timeout, an overflow, the flow's close) wakes the flow
// first (Engine.wake): it takes a Conn again, as at its next packet.
type restedPending struct {
	rc             restedConn
	id             uint64
	client, server netip.AddrPort
	reported       connCounts // with restReported
	npending       int32
	slot           int32
	pendBytes      int32 // Conn.pendBytes (restable: at most math.MaxInt32)
	phead, ptail   *session
}

// restPendBit marks a rested index (an offSlot entry's low 30 bits less
// slotRested) that names Engine.restPend rather than Engine.rested.
const restPendBit = 1 << 29

// restedAt returns the restedConn of rested index i.
func (e *Engine) restedAt(i int) *restedConn {
	if i&restPendBit != 0 {
		return &e.restPend.at(i &^ restPendBit).rc
	}
	return e.rested.at(i)
}

// releaseRested frees rested index i.
func (e *Engine) releaseRested(i int) {
	if i&restPendBit != 0 {
		e.restPend.release(i &^ restPendBit)
		return
	}
	e.rested.release(i)
}

// restedReported returns the counts of the previous snapshot of the
// rested flow at index i.
func (e *Engine) restedReported(i int) connCounts {
	if e.restedAt(i).flags&restReported == 0 {
		return connCounts{}
	}
	if i&restPendBit != 0 {
		return e.restPend.at(i &^ restPendBit).reported
	}
	return e.restRep[i>>chunkBits][i&(1<<chunkBits-1)]
}

// setRestedReported sets the counts of the previous snapshot of the rested
// flow at index i. Those of flows rested without one take no room: a
// chunk of Engine.restRep is allocated with its first.
func (e *Engine) setRestedReported(i int, k connCounts) {
	r := e.restedAt(i)
	if k == (connCounts{}) && r.flags&restReported == 0 {
		return
	}
	r.flags |= restReported
	if i&restPendBit != 0 {
		e.restPend.at(i &^ restPendBit).reported = k
		return
	}
	for i>>chunkBits >= len(e.restRep) {
		e.restRep = append(e.restRep, nil)
	}
	ch := e.restRep[i>>chunkBits]
	if ch == nil {
		ch = new([1 << chunkBits]connCounts)
		e.restRep[i>>chunkBits] = ch
	}
	ch[i&(1<<chunkBits-1)] = k
}

// resting returns the number of rested flows.
func (e *Engine) resting() int { return e.rested.inUse() + e.restPend.inUse() }

// wake gives the rested flow with requests waiting at index i (less
// restPendBit) of Engine.restPend a Conn again, outside any packet of its
// own (a timeout, an overflow, a close): the engine's clock stays.
func (e *Engine) wake(i int) *Conn {
	p := e.restPend.at(i)
	c := e.openConn(ConnInfo{ID: p.id, Client: p.client, Server: p.server, Transport: p.rc.transport})
	slot := int(p.slot)
	e.offSlot[slot] = 0
	e.bySlot[slot] = c
	c.slot = p.slot
	e.unrest(c, i|restPendBit)
	return c
}

// owner returns the Conn of waiting request ss, waking its flow when it
// rests.
func (e *Engine) owner(ss *session) *Conn {
	if ss.c == nil {
		return e.wake(int(ss.rest))
	}
	return ss.c
}

// restable reports whether c, a Conn told idle, holds nothing a
// restedConn (and a restedPending, for its waiting requests) does not
// keep.
func (c *Conn) restable() bool {
	if c.state != stateParse || c.slot < 0 || c.owed != 0 || c.respGap || c.bufMid != [2]int32{} || c.idleTick != 0 || c.avoid != 0 ||
		c.dec > math.MaxUint8 || c.pendBytes > math.MaxInt32 {
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
	var i int
	if c.phead != nil {
		j := e.restPend.alloc()
		p := e.restPend.at(j)
		p.id, p.client, p.server, p.slot = c.id, c.client, c.server, c.slot
		p.phead, p.ptail, p.npending, p.pendBytes = c.phead, c.ptail, c.npending, int32(c.pendBytes)
		for ss := c.phead; ss != nil; ss = ss.fnext {
			ss.c, ss.rest = nil, int32(j)
		}
		c.phead, c.ptail, c.npending, c.pendBytes = nil, nil, 0, 0
		i = j | restPendBit
	} else {
		i = e.rested.alloc()
	}
	r := e.restedAt(i)
	flags := c.flip
	if c.tls {
		flags |= restTLS
	}
	if c.clientFirst() {
		flags |= restClientFirst
	}
	*r = restedConn{
		parser: c.parser,
		counts: connCounts{c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts},
		dec:    uint8(c.dec), proto: uint8(proto), transport: c.transport, flags: flags,
	}
	e.setRestedReported(i, c.reported)
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
	c.reported, c.tls = e.restedReported(i), r.flags&restTLS != 0
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
	if i&restPendBit != 0 {
		p := e.restPend.at(i &^ restPendBit)
		c.phead, c.ptail, c.npending, c.pendBytes = p.phead, p.ptail, p.npending, int(p.pendBytes)
		for ss := c.phead; ss != nil; ss = ss.fnext {
			ss.c = c
		}
	}
	e.releaseRested(i)
}

// restedSegment takes a TCP segment without payload of direction dir of
// f, rested at index i, as Conn.segment would: it moves the direction's
// acknowledgement (and a SYN its reassembly start), following a
// re-orientation of the flow as Packet does for a Conn.
func (e *Engine) restedSegment(i int, f *flow.Flow, dir flow.Dir, m *decode.Meta) {
	r := e.restedAt(i)
	if flowClientFirst(f) != r.clientFirst() {
		r.flags ^= restFlip | restClientFirst
		if i&restPendBit != 0 {
			p := e.restPend.at(i &^ restPendBit)
			p.client, p.server = p.server, p.client
		}
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
func (e *Engine) restedSummary(i int) ConnSummary {
	r := e.restedAt(i)
	k := r.counts
	sum := ConnSummary{Requests: k.requests, Responses: k.responses, ClientErrors: k.clientErrors,
		ServerErrors: k.serverErrors, Timeouts: k.timeouts, L7Protocol: e.names[r.dec]}
	if r.proto != 0 {
		sum.L7Protocol = e.restedProto(r.proto)
	}
	return sum
}

// unrestDrop ends the rested flow at index i (the flow ended) as its
// Conn's Close would: the parser goes back to the pool.
func (e *Engine) unrestDrop(i int) {
	r := e.restedAt(i)
	e.nconns--
	e.putParser(int32(r.dec), r.transport, r.parser)
	e.releaseRested(i)
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

// restingWithPending reports whether offSlot entry o names a rested flow
// of id whose requests wait (Engine.restPend).
func (e *Engine) restingWithPending(o, id uint64) bool {
	low := o & 0xffffffff
	return o>>32 == id>>32 && low >= slotRested+restPendBit && low < slotParkedTCP
}

// clearSlot clears the offSlot entry of slot, ending the rested or parked
// state it names.
func (e *Engine) clearSlot(slot int) {
	if slot < len(e.offSlot) {
		if low := e.offSlot[slot] & 0xffffffff; low >= slotRested && low < slotParkedTCP {
			if i := int(low - slotRested); i&restPendBit != 0 {
				// Its waiting requests are emitted as its Conn's
				// Close would.
				e.wake(i &^ restPendBit).Close(e.now)
			} else {
				e.unrestDrop(i)
			}
			e.offSlot[slot] = 0
			return
		}
	}
	e.dropSlot(slot)
}
