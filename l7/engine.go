package l7

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"time"
	"unsafe"
)

// TCP flag bits understood by Conn.Segment (the same values as in
// capture/decode).
const (
	flagSyn = 0x02
	flagAck = 0x10
)

// Conn states.
const (
	stateInfer   uint8 = iota // looking for the protocol
	stateParse                // a decoder's parser owns the bytes
	stateOff                  // inference gave up; bytes are ignored
	stateStopped              // the parser returned ErrStop
	stateClosed               // returned to the engine
)

// Engine turns ordered byte chunks of connections into l7_flow_log records:
// reassembly, inference, parsing, pairing and timeouts. It is not safe for
// concurrent use. Time comes only from the timestamps of its input.
type Engine struct {
	cfg      Config
	decs     []Decoder
	names    []string
	timeouts []int64 // per decoder, ns
	hints    map[uint16]int32
	onRecord func(*Record)

	pool  bufPool
	env   reasmEnv
	cache *endpointCache

	conns  map[uint64]*Conn // conns opened by Open
	nconns int              // open conns, Open's and the flow.Handler's
	bySlot []*Conn          // the flow.Handler's conns by flow slot
	// offSlot holds, by flow slot, the state of a flow whose L7 holds no
	// Conn although it carried payload (Engine.retire): off, or a UDP
	// flow's inference tries so far.
	offSlot   []uint64
	freeConns []*Conn
	// parked and rested hold the states of parked TCP flows (park.go)
	// and of rested ones (rest.go), named by their offSlot entries; restQ
	// the Conns idleOld found idle, to rest at the end of Packet.
	parked chunked[parkedConn]
	rested chunked[restedConn]
	// restPend holds the rested flows whose requests wait for their
	// responses (rest.go).
	restPend chunked[restedPending]
	// restRep holds, by index of Engine.rested, the counts of a rested
	// flow's previous snapshot (restedConn's restReported); a chunk is
	// allocated with its first entry.
	restRep []*[1 << chunkBits]connCounts
	// restProtos holds the Message.Protocol values of rested flows,
	// named by restedConn.proto.
	restProtos []string
	restQ      []restKey
	// swapper is the flow of swapConn during a flow.Handler call: the
	// Conn swaps it with itself.
	swapConn *Conn
	swapper  interface{ Swap() bool }
	// idleBuckets hold, by idle tick (mod idleBuckets), the Conns that
	// had input in that tick (Conn.idle); idleNext is the next tick whose
	// bucket is to be told idle (0: none yet).
	idleBuckets [idleBuckets][]*Conn
	idleNext    int64

	now        int64 // latest input time
	nextExpire int64 // earliest session deadline (math.MaxInt64: none)

	lists        []sessList             // pending sessions per decoder, oldest first
	maxPending   []int                  // per decoder: requests one flow may hold
	freeSessions [arenaClasses]*session // by arena capacity (arenaClass)
	npending     int

	// parsers holds parsers of ended flows for reuse (Resetter), by
	// decoder index * 2 + transport.
	parsers [][]Parser

	// joinBuf holds held bytes joined with new ones for inference when
	// the held buffer has no room for them (Conn.infer).
	joinBuf []byte

	msg  Message
	cmsg Message // the message a cut makes while msg is in use (Conn.answeredCut)
	// cutting: the message being handled is one a Flusher made of bytes
	// cut short.
	cutting bool
	rec     Record
	stats   Stats
	proto   []ProtocolStats
}

// NewEngine returns an engine for cfg. It fails with ErrNoRegistry when
// cfg.Registry is nil, and with an error naming the unknown decoder of a
// port hint.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Registry == nil {
		return nil, ErrNoRegistry
	}
	c := cfg.withDefaults()
	e := &Engine{
		cfg:      c,
		decs:     c.Registry.Decoders(),
		onRecord: c.OnRecord,
		conns:    make(map[uint64]*Conn),
	}
	e.pool = bufPool{limit: c.MaxBufferTotal, maxFree: min(c.MaxBufferTotal, 8<<20)}
	e.env = reasmEnv{pool: &e.pool, maxDir: c.MaxBufferPerDirection, timeout: int64(c.ReassemblyTimeout), stats: &e.stats}
	e.cache = newEndpointCache(c.InferCacheSize)
	e.lists = make([]sessList, len(e.decs))
	e.proto = make([]ProtocolStats, len(e.decs))
	e.names = make([]string, len(e.decs))
	e.timeouts = make([]int64, len(e.decs))
	e.maxPending = make([]int, len(e.decs))
	e.nextExpire = math.MaxInt64
	for i, d := range e.decs {
		e.names[i] = d.Name()
		e.proto[i].Name = d.Name()
		t := c.SessionTimeout
		if st, ok := d.(SessionTimeouter); ok && st.SessionTimeout() > 0 {
			t = st.SessionTimeout()
		} else if d.Name() == "DNS" && cfg.SessionTimeout <= 0 {
			t = DefaultDNSSessionTimeout
		}
		e.timeouts[i] = int64(t)
		e.maxPending[i] = DefaultMaxPendingPerFlow
		if pl, ok := d.(PendingLimiter); ok && pl.MaxPending() > 0 {
			e.maxPending[i] = pl.MaxPending()
		}
		if cfg.MaxPendingPerFlow > 0 {
			e.maxPending[i] = cfg.MaxPendingPerFlow
		}
	}
	for i, d := range e.decs {
		if ph, ok := d.(PortHinter); ok {
			for _, port := range ph.PortHints() {
				if _, taken := e.hints[port]; taken {
					continue
				}
				if e.hints == nil {
					e.hints = make(map[uint16]int32)
				}
				e.hints[port] = int32(i)
			}
		}
	}
	if len(c.PortHints) > 0 {
		if e.hints == nil {
			e.hints = make(map[uint16]int32, len(c.PortHints))
		}
		for port, name := range c.PortHints {
			i := c.Registry.index(name)
			if i < 0 {
				return nil, errors.New("l7: port hint names unknown decoder " + name)
			}
			e.hints[port] = int32(i)
		}
	}
	return e, nil
}

// ConnInfo describes a connection given to Engine.Open.
type ConnInfo struct {
	// ID is the record's flow_id; it identifies the connection among the
	// open ones (Open with an ID already open returns that Conn).
	ID uint64
	// Client and Server are the current belief of the orientation.
	Client, Server netip.AddrPort
	// Transport is TCP (a byte stream per direction) or UDP (datagrams).
	Transport Transport
	// Oriented says the orientation is certain (a handshake was seen), so
	// inference never reverses it.
	Oriented bool
	// TLS says the bytes are TLS plaintext (taken from a TLS library by a
	// socket tracer): every record of the connection carries is_tls.
	TLS bool
}

// CallMeta identifies the call (a system call, or a TLS library call) that
// carried bytes handed to a Conn, for input that knows it: socket events.
// The zero value means unknown (packet capture).
type CallMeta struct {
	TID       uint32 // thread id: syscall_thread_0 / syscall_thread_1
	TraceID   uint64 // syscall trace id: syscall_trace_id_request / _response
	Goroutine uint64 // Go goroutine id: syscall_coroutine_0 / _1 (0: none)
}

// ConnSummary is what a connection amounted to, returned by Conn.Close: the
// l4_flow_log's l7 fields.
type ConnSummary struct {
	L7Protocol   string // decoder name; "" when none recognised the bytes
	Requests     uint32 // l7_request
	Responses    uint32 // l7_response
	ClientErrors uint32 // l7_client_error
	ServerErrors uint32 // l7_server_error
	Timeouts     uint32 // l7_server_timeout
}

// side is one direction of a Conn, in the Conn's physical numbering (the
// direction given by the input at Open). It receives the reassembler's
// output.
type side struct {
	r reassembler

	buf   []byte // bytes of an incomplete message (pooled), or nil
	bufTs int64  // time of the chunk holding buf[0]

	msgLen int   // bytes consumed for the message being decoded
	msgTs  int64 // time of its first byte

	// calls holds the calls of the socket input (Conn.SetCall), nil until
	// the first: packets never set one.
	calls *sideCalls

	bufSeq uint32 // sequence number of buf[0]
	msgSeq uint32 // sequence number of the message being decoded's first byte
	errs   int32  // parse errors since this direction's last message

	// Bytes below skipEnd (when skip) belong to a message already made of
	// its start (Conn.answeredCut): they are dropped on arrival.
	skipEnd uint32

	// TCP acknowledgements this direction sent: the latest, and the one
	// current when the message being decoded started (valid when has*).
	ack, msgAck uint32

	phys              uint8
	decoded           bool // a message of this direction was decoded
	skip              bool
	hasAck, msgHasAck bool // ack is meaningful: it has moved
	ackSeen           bool
}

// sideCalls are the calls of the next bytes (Conn.SetCall), of the chunk
// holding buf[0], and of the message being decoded's first byte: kept like
// bufTs and msgTs.
type sideCalls struct {
	call, bufCall, msgCall CallMeta
}

// msgCall returns the call of the message being decoded.
func (s *side) msgCall() CallMeta {
	if s.calls == nil {
		return CallMeta{}
	}
	return s.calls.msgCall
}

// callToBuf dates the held bytes with the current call.
func (s *side) callToBuf() {
	if s.calls != nil {
		s.calls.bufCall = s.calls.call
	}
}

// callToMsg dates the message being decoded with the current call, or
// with the held bytes' call when fromBuf.
func (s *side) callToMsg(fromBuf bool) {
	if s.calls != nil {
		if fromBuf {
			s.calls.msgCall = s.calls.bufCall
		} else {
			s.calls.msgCall = s.calls.call
		}
	}
}

func (s *side) data(ts int64, seq uint32, b []byte) { s.conn().deliver(s, ts, seq, b) }
func (s *side) gap(ts int64, seq uint32, n int)     { s.conn().lost(s, seq, n) }

// conn returns the Conn whose sides[s.phys] is s. A side keeps no pointer
// to its Conn (8 bytes each): it finds it from its own address, as it
// lives only inside a Conn.
func (s *side) conn() *Conn {
	off := unsafe.Offsetof(Conn{}.sides) + uintptr(s.phys)*unsafe.Sizeof(side{})
	return (*Conn)(unsafe.Add(unsafe.Pointer(s), -int(off)))
}

// Conn is the L7 state of one connection. Input directions are relative to
// the ConnInfo given to Open (for the flow.Handler adapter, to the flow's
// orientation). A Conn is owned by its Engine and must not be used after
// Close.
type Conn struct {
	// The first two cache lines (a Conn is 512-aligned in its size
	// class) hold what every packet reads; then each side takes two
	// lines of its own (side is 128 bytes), and the last two lines hold
	// what messages and pending requests use. TestConn_Layout keeps it so.
	e              *Engine
	id             uint64
	client, server netip.AddrPort
	parser         Parser
	// trailer is parser as a Trailer (nil when it is not one), asserted
	// once when the parser is set (Conn.setParser) rather than at every
	// Parse call.
	trailer   Trailer
	dec       int32
	idleTick  uint32 // low bits of the idle tick of the latest input (Conn.idle); 0: none
	transport Transport
	oriented  bool
	flip      uint8 // engine direction = physical direction ^ flip
	state     uint8
	tls       bool // a message marked the flow TLS (Message.TLS)
	respGap   bool // a hole in responses not yet weighed by lostReplies

	sides [2]side

	msgProto     string   // the latest request's Message.Protocol, naming the flow when set
	phead, ptail *session // pending requests, oldest first
	avoid        uint64   // decoders abandoned on this flow (bit i: index i < 64)
	pendBytes    int      // memory the pending requests hold (sessionCost each)
	slot         int32    // index in Engine.bySlot, -1 when opened directly
	tries        int32
	npending     int32
	abandoned    int32  // the decoder last abandoned, -1 none
	respGapEnd   uint32 // server sequence number just past the last hole in responses
	// cacheAt is the index of the endpoint cache's entry for the server
	// endpoint when inference last wrote it (-1: none), tried before the
	// cache's map (endpointCache.getAt).
	cacheAt int32
	// owed counts requests paired by order that overflow emitted early:
	// the next responses by order answer them, not the requests behind.
	owed uint32

	requests, responses, clientErrors, serverErrors, timeouts uint32
	reported                                                  connCounts // counts in the flow's previous snapshot

	// bufMid is, by side, the offset in the side's buf from which its
	// bytes came after buf[0]'s chunk, when parseBuf kept bytes of both
	// (0: one chunk, or the boundary is the next append's). A message
	// starting there takes the time (and call) of the latest chunk: later
	// than its own when chunks came between, never a time before it.
	bufMid [2]int32
}

// connCounts are the counters of a ConnSummary.
type connCounts struct {
	requests, responses, clientErrors, serverErrors, timeouts uint32
}

func countsOf(s ConnSummary) connCounts {
	return connCounts{s.Requests, s.Responses, s.ClientErrors, s.ServerErrors, s.Timeouts}
}

// Open returns the Conn for info.ID, creating it at time ts (unix ns).
func (e *Engine) Open(info ConnInfo, ts int64) *Conn {
	if c := e.Conn(info.ID); c != nil {
		return c
	}
	c := e.open(info, ts)
	e.conns[info.ID] = c
	return c
}

// open makes a Conn. Conns of the flow.Handler are found by flow slot
// (Engine.bySlot), others by id (Engine.conns), which is the caller's to
// record.
func (e *Engine) open(info ConnInfo, ts int64) *Conn {
	e.advance(ts)
	return e.openConn(info)
}

// openConn makes a Conn as open does, without moving the clock (Engine.wake
// runs within advance).
func (e *Engine) openConn(info ConnInfo) *Conn {
	e.nconns++
	var c *Conn
	if n := len(e.freeConns); n > 0 {
		c = e.freeConns[n-1]
		e.freeConns[n-1] = nil
		e.freeConns = e.freeConns[:n-1]
	} else {
		c = &Conn{e: e}
		c.sides[1].phys = 1
	}
	c.id = info.ID
	c.client, c.server = info.Client, info.Server
	c.transport = info.Transport
	c.oriented = info.Oriented
	c.slot = -1
	c.cacheAt = -1
	c.flip = 0
	c.state = stateInfer
	c.dec = -1
	c.setParser(nil)
	c.tries = 0
	c.idleTick = 0
	c.respGap = false
	c.bufMid = [2]int32{}
	c.msgProto = ""
	for i := range c.sides {
		sd := &c.sides[i]
		sd.ack, sd.msgAck, sd.hasAck, sd.msgHasAck, sd.ackSeen = 0, 0, false, false, false
	}
	c.tls = info.TLS
	for i := range c.sides {
		sd := &c.sides[i]
		if sd.calls != nil {
			*sd.calls = sideCalls{}
		}
	}
	c.avoid = 0
	c.abandoned = -1
	c.sides[0].errs, c.sides[1].errs = 0, 0
	c.sides[0].decoded, c.sides[1].decoded = false, false
	c.sides[0].skip, c.sides[1].skip = false, false
	c.requests, c.responses, c.clientErrors, c.serverErrors, c.timeouts = 0, 0, 0, 0, 0
	c.reported = connCounts{}
	return c
}

// Conn returns the open connection with flow id id, or nil. A flow of the
// flow.Handler that rests (idle past IdleDelay with nothing in flight:
// Stats.RestingConns) has none until its next packet.
func (e *Engine) Conn(id uint64) *Conn {
	if c := e.slotConn(id); c != nil {
		return c
	}
	return e.conns[id]
}

// slotConn returns the flow.Handler's open Conn of the flow with id id, or
// nil. A flow's id holds its slot + 1 in its low 32 bits (flow.Flow.ID).
func (e *Engine) slotConn(id uint64) *Conn {
	if slot := int(uint32(id)) - 1; slot >= 0 && slot < len(e.bySlot) {
		if c := e.bySlot[slot]; c != nil && c.id == id {
			return c
		}
	}
	return nil
}

// Client returns the client side as currently believed.
func (c *Conn) Client() netip.AddrPort { return c.client }

// Server returns the server side as currently believed.
func (c *Conn) Server() netip.AddrPort { return c.server }

// Protocol returns the recognised decoder's name, or "".
func (c *Conn) Protocol() string {
	if c.dec < 0 {
		return ""
	}
	if c.msgProto != "" {
		return c.msgProto
	}
	return c.e.names[c.dec]
}

// Data hands ordered bytes of direction dir, received at ts (unix ns). seq
// is the TCP sequence number (or stream offset) of b[0], used for
// req_tcp_seq and resp_tcp_seq. For UDP, b is one datagram. b is not
// retained.
func (c *Conn) Data(dir Direction, ts int64, seq uint32, b []byte) {
	if c.state == stateClosed || len(b) == 0 {
		return
	}
	e := c.e
	e.advance(ts)
	e.stats.Segments++
	e.stats.Bytes += uint64(len(b))
	c.deliver(&c.sides[dir&1], ts, seq, b)
	c.idle()
}

// idle is called once the engine is done with what an input call gave c's
// parser. A Conn keeps its parser's scratch while it has input (a busy
// connection does not give it back and take it again at every packet):
// its parser is told that no message it filled is in use (Idler) once the
// engine's clock has passed the end of the idle tick after the one of its
// latest input, so that an idle connection holds no scratch. A Conn is
// noted once per tick in which it has input.
func (c *Conn) idle() {
	e := c.e
	t := e.now / idleTick
	if c.idleTick == uint32(t) && c.idleTick != 0 {
		return
	}
	c.idleTick = uint32(t)
	b := &e.idleBuckets[t%idleBuckets]
	*b = append(*b, c)
}

// IdleDelay is the longest a connection's parser keeps its scratch after
// the connection's latest input, in the engine's clock (packet time):
// from the engine's first input call at or past it, the parser has been
// told it is idle (Idler).
const IdleDelay = 2 * time.Duration(idleTick)

// idleTick is the granularity of idling, in ns of the engine's clock: a
// connection's parser is told idle between one and two ticks after its
// latest input.
const idleTick = int64(50 * time.Millisecond)

// idleBuckets is the number of ticks of Conns kept (a power of two, at
// least 3: the current tick, the previous one, one to tell idle).
const idleBuckets = 4

// idleOld tells idle the parsers of the Conns whose latest input came in
// a tick that ended before the previous one (now is in tick t). An entry
// may name a Conn closed since, or reused by a later flow (its idleTick
// tells), or with later input (noted again in a later bucket). After a
// jump of the clock, a bucket holds Conns of an older tick than the one
// it is read for: they are idle as well.
func (e *Engine) idleOld(t int64) {
	if e.idleNext == 0 {
		e.idleNext = t - 1
		return
	}
	if t-e.idleNext > idleBuckets {
		e.idleNext = t - idleBuckets - 1
	}
	for ; e.idleNext < t-1; e.idleNext++ {
		u := e.idleNext
		b := e.idleBuckets[u%idleBuckets]
		for i, c := range b {
			b[i] = nil
			// The entry's tick is u, or a multiple of idleBuckets
			// before it when the clock jumped past the bucket (those
			// Conns are idle too); a Conn with input since has a later
			// tick, and idle ones 0.
			if c.idleTick == 0 || int32(uint32(u)-c.idleTick) < 0 || c.state == stateClosed {
				continue
			}
			c.idleTick = 0
			if p, ok := c.parser.(Idler); ok {
				p.Idle()
			}
			if c.state == stateParse && c.slot >= 0 {
				e.restQ = append(e.restQ, restKey{c, c.id})
			}
		}
		e.idleBuckets[u%idleBuckets] = b[:0]
	}
}

// SetCall says which call carries the next bytes of direction dir (as
// given to Data), until the next SetCall: the records take the call of
// their request's first byte and of their response's first byte. Input
// without calls (packets) never sets it.
func (c *Conn) SetCall(dir Direction, m CallMeta) {
	s := &c.sides[dir&1]
	if s.calls == nil {
		s.calls = new(sideCalls)
	}
	s.calls.call = m
}

// Gap reports that n bytes of direction dir were lost (n < 0: unknown). The
// parser drops its partial state and resynchronises.
func (c *Conn) Gap(dir Direction, ts int64, n int) {
	if c.state == stateClosed {
		return
	}
	e := c.e
	e.advance(ts)
	e.stats.Gaps++
	if n > 0 {
		e.stats.GapBytes += uint64(n)
	}
	c.lost(&c.sides[dir&1], 0, n) // no sequence numbers: lostReplies has no acknowledgements to weigh
	c.idle()
}

// Segment hands one TCP segment of direction dir through the reassembler:
// flags are the TCP flags (SYN sets the initial sequence number; with ACK,
// ack acknowledges the other direction, whose holes below it are then
// reported at once as lost by the capture), b the payload, and missing the
// payload bytes the capture cut off after b (snaplen), reported as a gap.
// b is not retained.
func (c *Conn) Segment(dir Direction, ts int64, seq, ack uint32, flags uint8, b []byte, missing int) {
	if c.state == stateClosed {
		return
	}
	c.e.advance(ts)
	c.segment(uint8(dir&1), ts, seq, ack, flags, b, missing)
	c.idle()
}

func (c *Conn) segment(phys uint8, ts int64, seq, ack uint32, flags uint8, b []byte, missing int) {
	e := c.e
	if flags&flagAck != 0 && c.state == stateParse {
		if o := &c.sides[phys^1]; len(o.r.ooo) > 0 {
			o.r.acked(&e.env, o, ts, ack)
		}
	}
	s := &c.sides[phys]
	if flags&flagAck != 0 {
		s.hasAck = s.hasAck || ackMoved(s.ackSeen, s.ack, ack)
		s.ack, s.ackSeen = ack, true
	}
	if flags&flagSyn != 0 {
		s.r.syn(seq)
		seq++
	}
	if len(b) == 0 {
		return
	}
	e.stats.Segments++
	e.stats.Bytes += uint64(len(b))
	if c.state >= stateOff {
		// Keep the sequence tracking cheap but do not buffer anything.
		if c.state == stateOff {
			e.stats.UninferredBytes += uint64(len(b))
		}
		return
	}
	s.r.segment(&e.env, s, ts, seq, b)
	if missing > 0 && s.r.next == seq+uint32(len(b)) {
		s.r.reportGap(&e.env, s, ts, missing)
		s.r.next += uint32(missing)
		s.r.drain(&e.env, s)
	}
}

// ackMoved reports whether an acknowledgement ack, after prev (when seen),
// makes a direction's acknowledgements meaningful: they tell something
// only once they move (crafted and synthetic streams may repeat one value
// throughout).
func ackMoved(seen bool, prev, ack uint32) bool { return seen && ack != prev }

// Close ends the connection at time ts: buffered out-of-order data is
// delivered (holes reported as gaps), a message cut short by the end is
// handed to a Flusher, requests still waiting are emitted (Timeout when
// their session timeout has passed, else Unknown), and the summary is
// returned. c must not be used
// afterwards.
func (c *Conn) Close(ts int64) ConnSummary {
	if c.state == stateClosed {
		return ConnSummary{}
	}
	e := c.e
	e.advance(ts)
	if c.state == stateParse {
		for i := range c.sides {
			c.sides[i].r.flush(&e.env, &c.sides[i], ts)
		}
		// A message whose head the flow's end cut short (end of input,
		// timeout, loss at the end) still gives what was parsed:
		// requests first, so that a cut response pairs with them.
		for d := Direction(0); d < 2 && c.state == stateParse; d++ {
			c.cut(&c.sides[uint8(d)^c.flip], d)
		}
	}
	for i := range c.sides {
		s := &c.sides[i]
		s.r.reset(&e.env)
		if c.state == stateInfer {
			c.dropHeld(s)
		} else if s.buf != nil {
			e.stats.DiscardedBytes += uint64(len(s.buf))
			c.dropBuf(s)
		}
		s.msgLen = 0
	}
	// Requests still waiting: Timeout only when their session timeout
	// has passed; a flow that closed (or input that ended) earlier leaves
	// them Unknown (RECORDS.md).
	for c.phead != nil {
		if ss := c.phead; e.now-ss.ts >= e.timeouts[ss.dec] {
			e.timeout(ss)
		} else {
			e.unanswered(ss)
		}
	}
	sum := c.summary()
	c.state = stateClosed
	if c.slot >= 0 {
		if int(c.slot) < len(e.bySlot) && e.bySlot[c.slot] == c {
			e.bySlot[c.slot] = nil
		}
	} else {
		delete(e.conns, c.id)
	}
	e.nconns--
	if c.dec >= 0 {
		e.putParser(c.dec, c.transport, c.parser)
	}
	c.setParser(nil)
	e.freeConns = append(e.freeConns, c)
	return sum
}

// setParser makes p (nil: none) c's parser.
func (c *Conn) setParser(p Parser) {
	c.parser = p
	c.trailer, _ = p.(Trailer)
}

// maxPooledParsers bounds the parsers kept for reuse per decoder and
// transport.
const maxPooledParsers = 256

// putParser keeps p, a parser of decoder dec for transport t whose flow
// ended, for reuse when it implements Resetter.
func (e *Engine) putParser(dec int32, t Transport, p Parser) {
	if _, ok := p.(Resetter); !ok {
		return
	}
	if i, ok := p.(Idler); ok {
		i.Idle()
	}
	i := int(dec)*2 + int(t&1)
	for i >= len(e.parsers) {
		e.parsers = append(e.parsers, nil)
	}
	if len(e.parsers[i]) < maxPooledParsers {
		e.parsers[i] = append(e.parsers[i], p)
	}
}

// newParser returns a parser of decoder dec for transport t: a pooled one
// reset, or a new one.
func (e *Engine) newParser(dec int32, t Transport) Parser {
	if i := int(dec)*2 + int(t&1); i < len(e.parsers) {
		if n := len(e.parsers[i]); n > 0 {
			p := e.parsers[i][n-1]
			e.parsers[i][n-1] = nil
			e.parsers[i] = e.parsers[i][:n-1]
			p.(Resetter).Reset(t)
			return p
		}
	}
	return e.decs[dec].NewParser(t)
}

func (c *Conn) summary() ConnSummary {
	sum := ConnSummary{
		Requests:     c.requests,
		Responses:    c.responses,
		ClientErrors: c.clientErrors,
		ServerErrors: c.serverErrors,
		Timeouts:     c.timeouts,
	}
	if c.dec >= 0 {
		sum.L7Protocol = c.e.names[c.dec]
		if c.msgProto != "" {
			sum.L7Protocol = c.msgProto // gRPC over the HTTP/2 decoder
		}
	} else if c.abandoned >= 0 {
		// Its records are the flow's: name it until another decoder
		// takes the flow.
		sum.L7Protocol = c.e.names[c.abandoned]
	}
	return sum
}

// Advance moves the engine's clock to ts (unix ns) without input, emitting
// the requests whose session timeout has passed.
func (e *Engine) Advance(ts int64) {
	e.advance(ts)
}

// Flush closes every open connection (end of input), in flow id order.
func (e *Engine) Flush() {
	// Rested flows with requests waiting close as Conns, in id order
	// with the others.
	for _, o := range e.offSlot {
		if low := o & 0xffffffff; low >= slotRested && low < slotParkedTCP {
			if i := int(low - slotRested); i&restPendBit != 0 {
				e.wake(i &^ restPendBit)
			}
		}
	}
	ids := make([]uint64, 0, e.nconns)
	for id := range e.conns {
		ids = append(ids, id)
	}
	for _, c := range e.bySlot {
		if c != nil {
			ids = append(ids, c.id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if c := e.Conn(id); c != nil {
			c.Close(e.now)
		}
	}
	for slot := range e.offSlot {
		e.clearSlot(slot)
	}
	clear(e.restQ)
	e.restQ = e.restQ[:0]
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.OpenConns = e.nconns
	s.RestingConns = e.resting()
	s.PendingSessions = e.npending
	s.BufferedBytes = e.pool.inUse
	s.Protocols = append([]ProtocolStats(nil), e.proto...)
	return s
}

func (e *Engine) advance(ts int64) {
	if ts > e.now {
		e.now = ts
		if t := ts / idleTick; t-1 > e.idleNext {
			e.idleOld(t)
		}
	}
	if e.now >= e.nextExpire {
		e.expire(e.now)
	}
}

// deliver takes ordered bytes of side s.
func (c *Conn) deliver(s *side, ts int64, seq uint32, b []byte) {
	e := c.e
	switch c.state {
	case stateParse:
	case stateInfer:
		found, joined := c.infer(s, ts, b)
		if !found {
			c.hold(s, ts, seq, b)
			return
		}
		// Bytes held before inference: this direction's precede a
		// message start the decoder recognised and are dropped (unless
		// they start it: joined); the other direction's are parsed now,
		// so that a request Check did not recognise still pairs with its
		// response.
		if !joined {
			c.dropHeld(s)
		}
		if o := &c.sides[s.phys^1]; o.buf != nil {
			// Dated, like their time, from their first chunk.
			var cur CallMeta
			if o.calls != nil {
				cur = o.calls.call
				o.calls.call = o.calls.bufCall
			}
			c.parseBuf(o, 0, o.bufTs)
			if o.calls != nil {
				o.calls.call = cur
			}
		}
		if joined {
			// s.buf holds the held bytes and b after them.
			if c.state == stateParse && s.buf != nil {
				c.parseBuf(s, len(s.buf)-len(b), ts)
			}
			return
		}
	case stateOff:
		e.stats.UninferredBytes += uint64(len(b))
		return
	default:
		return
	}
	if c.transport == UDP {
		c.datagram(s, ts, b)
		return
	}
	if s.skip {
		if d := s.skipEnd - seq; int32(d) > 0 {
			n := min(int(d), len(b))
			e.stats.DiscardedBytes += uint64(n)
			b, seq = b[n:], seq+uint32(n)
		}
		if int32(s.skipEnd-seq) <= 0 {
			s.skip = false
		}
		if len(b) == 0 {
			return
		}
	}
	if s.buf == nil {
		off := c.parse(s, b, seq, ts, 0, ts)
		if off < len(b) {
			c.keep(s, ts, seq+uint32(off), b[off:])
		}
		return
	}
	need := len(s.buf) + len(b)
	if need > cap(s.buf) {
		var nb []byte
		if need <= e.cfg.MaxBufferPerDirection {
			nb = e.pool.get(need)
		}
		if nb == nil {
			// The parser wants more than the budget allows: give up on
			// the incomplete message and start afresh with b.
			e.stats.BudgetDroppedBytes += uint64(len(s.buf))
			c.dropBuf(s)
			s.msgLen = 0
			c.parser.Gap(Direction(s.phys^c.flip), -1)
			c.deliver(s, ts, seq, b)
			return
		}
		nb = append(nb, s.buf...)
		e.pool.put(s.buf)
		s.buf = nb
	}
	boundary := len(s.buf)
	s.buf = append(s.buf, b...)
	if m := int(c.bufMid[s.phys]); m > 0 && m < boundary {
		boundary = m
	}
	c.parseBuf(s, boundary, ts)
}

// parseBuf parses the bytes buffered in s, of which those from boundary on
// arrived at ts, and keeps what is left.
func (c *Conn) parseBuf(s *side, boundary int, ts int64) {
	off := c.parse(s, s.buf, s.bufSeq, s.bufTs, boundary, ts)
	if s.buf == nil {
		return // dropped by a parse error or a stop
	}
	if off >= len(s.buf) {
		c.dropBuf(s)
		return
	}
	if off > 0 {
		n := copy(s.buf, s.buf[off:])
		s.buf = s.buf[:n]
		s.bufSeq += uint32(off)
		if off >= boundary {
			s.bufTs = ts
			s.callToBuf()
		}
	}
	// The kept bytes before boundary-off are of bufTs's chunk, the rest
	// of later ones: the next append must not date them by bufTs.
	if old := boundary - off; old > 0 && old < len(s.buf) {
		c.bufMid[s.phys] = int32(old)
	} else {
		c.bufMid[s.phys] = 0
	}
}

// maxHeld bounds the bytes per direction kept while inference has not
// recognised the protocol yet.
const maxHeld = 4096

// hold keeps bytes that inference did not recognise, in case the other
// direction reveals the protocol (a request Check rejects, answered by a
// response it accepts).
func (c *Conn) hold(s *side, ts int64, seq uint32, b []byte) {
	e := c.e
	if c.state != stateInfer || c.transport != TCP || len(s.buf)+len(b) > maxHeld {
		e.stats.UninferredBytes += uint64(len(b))
		c.dropHeld(s)
		if c.state != stateInfer {
			c.dropHeld(&c.sides[s.phys^1])
		}
		return
	}
	if s.buf == nil {
		if s.buf = e.pool.get(len(b)); s.buf == nil {
			e.stats.UninferredBytes += uint64(len(b))
			return
		}
		s.bufSeq, s.bufTs = seq, ts
		s.callToBuf()
	} else if !c.growHeld(s, len(s.buf)+len(b)) {
		e.stats.UninferredBytes += uint64(len(b))
		return
	}
	s.buf = append(s.buf, b...)
}

// growHeld makes room for n bytes in s.buf, held bytes of an inference in
// progress: a buffer of the pool's class for n (held bytes cost their size,
// not maxHeld), or false when the budget is spent.
func (c *Conn) growHeld(s *side, n int) bool {
	if n <= cap(s.buf) {
		return true
	}
	nb := c.e.pool.get(n)
	if nb == nil {
		return false
	}
	nb = append(nb, s.buf...)
	c.e.pool.put(s.buf)
	s.buf = nb
	return true
}

// dropHeld discards bytes held before inference.
func (c *Conn) dropHeld(s *side) {
	if s.buf != nil {
		c.e.stats.UninferredBytes += uint64(len(s.buf))
		c.dropBuf(s)
	}
}

// keep stores the unconsumed tail of a chunk until more bytes arrive.
func (c *Conn) keep(s *side, ts int64, seq uint32, rest []byte) {
	if c.state != stateParse {
		return
	}
	e := c.e
	var b []byte
	if len(rest) <= e.cfg.MaxBufferPerDirection {
		b = e.pool.get(len(rest))
	}
	if b == nil {
		e.stats.BudgetDroppedBytes += uint64(len(rest))
		s.msgLen = 0
		c.parser.Gap(Direction(s.phys^c.flip), len(rest))
		return
	}
	s.buf = append(b, rest...)
	s.bufSeq = seq
	s.bufTs = ts
	c.bufMid[s.phys] = 0
	s.callToBuf()
}

func (c *Conn) dropBuf(s *side) {
	if s.buf != nil {
		c.e.pool.put(s.buf)
		s.buf = nil
	}
	c.bufMid[s.phys] = 0
}

// lost handles a hole of n bytes in side s, starting at sequence number
// seq.
func (c *Conn) lost(s *side, seq uint32, n int) {
	if c.state == stateInfer {
		c.dropHeld(s)
		return
	}
	if c.state != stateParse || c.transport != TCP {
		return
	}
	dir := Direction(s.phys ^ c.flip)
	if s.buf != nil {
		// The bytes of a message cut short by the hole: a parser that
		// can may still make a message of them. It answers a request
		// sent before the hole (its start was), so it is paired before
		// the hole is weighed.
		c.cut(s, dir)
		if c.state != stateParse {
			return // the message stopped the flow; its buffers are gone
		}
		c.e.stats.DiscardedBytes += uint64(len(s.buf))
		c.dropBuf(s)
	}
	if dir == ToClient && n > 0 {
		// Responses may be lost in the hole: requests sent after the
		// client received its end show which (see Conn.lostReplies).
		c.respGapEnd, c.respGap = seq+uint32(n), true
	}
	s.msgLen = 0
	c.parser.Gap(dir, n)
}

// cut passes the bytes of a message cut short (by a hole, or by the end
// of the flow) to a parser that implements Flusher, and handles the message
// it makes of them. It reports whether the parser made one.
func (c *Conn) cut(s *side, dir Direction) bool {
	fl, ok := c.parser.(Flusher)
	if !ok || len(s.buf) == 0 && s.msgLen == 0 {
		return false
	}
	m := &c.e.cmsg
	m.Reset()
	if !fl.Flush(s.buf, dir, m) {
		return false
	}
	s.msgLen += len(s.buf)
	c.e.stats.CutMessages++
	c.e.cutting = true
	c.message(s, dir, m)
	c.e.cutting = false
	return true
}

// maxZeroRuns bounds the messages a parser may return in a row without
// consuming bytes, so that a faulty parser cannot loop forever.
const maxZeroRuns = 64

// parse runs the parser over data, whose first byte has sequence number
// seq. Bytes before boundary arrived at tsOld, the rest at ts. It returns the
// offset of the first byte left for later (len(data) when everything was
// consumed or dropped).
func (c *Conn) parse(s *side, data []byte, seq uint32, tsOld int64, boundary int, ts int64) int {
	e := c.e
	dir := Direction(s.phys ^ c.flip)
	m := &e.msg
	off := 0
	zeroRuns := 0
	more := false // the last call returned a message: another may be ready
	for off < len(data) || more && zeroRuns < maxZeroRuns {
		if c.state != stateParse {
			return len(data)
		}
		// Bytes outside any message (a body skipped after its headers,
		// a handshake) must not start the next message: they are not
		// counted into it, so its start moves on with them.
		trailing := false
		if s.msgLen == 0 && c.trailer != nil {
			trailing = c.trailer.Trailing(dir)
		}
		if s.msgLen == 0 {
			s.msgSeq = seq + uint32(off)
			s.msgAck, s.msgHasAck = s.ack, s.hasAck
			if off < boundary {
				s.msgTs = tsOld
				s.callToMsg(true)
			} else {
				s.msgTs = ts
				s.callToMsg(false)
			}
		}
		m.Reset()
		n, ok, err := c.parser.Parse(data[off:], dir, m)
		if n < 0 || n > len(data)-off {
			n, ok = 0, false
			if err == nil {
				err = ErrMalformed
			}
		}
		if err != nil {
			if err == ErrNeedMore || errors.Is(err, ErrNeedMore) {
				return off + n
			}
			c.parseError(s, dir, err)
			e.stats.DiscardedBytes += uint64(len(data) - off)
			return len(data)
		}
		off += n
		more = ok
		if !trailing || ok {
			s.msgLen += n
		}
		if ok {
			s.errs = 0
			if !s.decoded {
				c.decodedFirst(s, dir)
			}
			c.message(s, dir, m)
			s.msgLen = 0
		}
		if n == 0 {
			// A parser may return several messages from bytes it
			// consumed earlier (one compressed frame holding two
			// MySQL packets); otherwise no progress means waiting for
			// more bytes.
			if ok && zeroRuns < maxZeroRuns {
				zeroRuns++
				continue
			}
			return off
		}
		zeroRuns = 0
	}
	return off
}

// datagram parses one UDP datagram.
func (c *Conn) datagram(s *side, ts int64, b []byte) {
	dir := Direction(s.phys ^ c.flip)
	m := &c.e.msg
	m.Reset()
	s.msgSeq, s.msgTs, s.msgLen = 0, ts, len(b)
	s.callToMsg(false)
	_, ok, err := c.parser.Parse(b, dir, m)
	if err != nil {
		c.parseError(s, dir, err)
		return
	}
	if ok {
		s.errs = 0
		if !s.decoded {
			c.decodedFirst(s, dir)
		}
		c.message(s, dir, m)
	}
	s.msgLen = 0
}

// parseError counts err and makes the parser resynchronise, or stops the
// flow on ErrStop.
func (c *Conn) parseError(s *side, dir Direction, err error) {
	e := c.e
	if errors.Is(err, ErrStop) {
		e.stats.Stopped++
		c.state = stateStopped
		for i := range c.sides {
			if c.sides[i].buf != nil {
				e.stats.DiscardedBytes += uint64(len(c.sides[i].buf))
				c.dropBuf(&c.sides[i])
			}
		}
		return
	}
	e.stats.ParseErrors++
	e.proto[c.dec].ParseErrors++
	if s.buf != nil {
		c.dropBuf(s)
	}
	s.msgLen = 0
	if s.errs < math.MaxInt32 {
		s.errs++
	}
	if n := e.cfg.ReinferAfterErrors; n > 0 {
		again := int(s.errs) >= n
		if dir == ToClient && !s.decoded {
			// Flows whose replies all failed count together on their
			// server endpoint, so that short connections (one command
			// each) are judged as well. Requests do not: a scanner's
			// garbage must not ban the server's real protocol.
			ent, _ := e.cache.putAt(c.endpoint(), c.cacheAt)
			if ent.errDec != c.dec {
				ent.errDec, ent.errs = c.dec, [2]uint16{}
			}
			if ent.errs[dir&1] < math.MaxUint16 {
				ent.errs[dir&1]++
			}
			again = again || int(ent.errs[dir&1]) >= n
		}
		if again {
			c.reinfer()
			return
		}
	}
	if c.transport == TCP {
		c.parser.Gap(dir, -1)
	}
}

// decodedFirst notes the first message of side s (direction dir): the
// server endpoint's count of flows failing in that direction starts over.
func (c *Conn) decodedFirst(s *side, dir Direction) {
	s.decoded = true
	if ent, _ := c.e.cache.getAt(c.endpoint(), c.cacheAt); ent != nil && ent.errDec == c.dec {
		ent.errs[dir&1] = 0
	}
}

func (c *Conn) endpoint() endpointKey {
	return endpointOf(c.server, c.transport)
}

// abandon emits the requests waiting on c's decoder at once with status
// Unknown.
func (c *Conn) abandon() {
	e := c.e
	for c.phead != nil {
		ss := c.phead
		e.stats.AbandonedRequests++
		e.beginRecord(c)
		e.requestFromSession(ss)
		e.rec.Status, e.rec.HasStatus = StatusUnknown, true
		e.emit()
		e.release(ss)
	}
	c.owed = 0
}

// reinfer abandons c's decoder after parse errors: the requests waiting on
// it are emitted at once with status Unknown (their responses will never
// be decoded; a Timeout would be a false error), the decoder is avoided on
// this flow and, for InferBackoff, on its server endpoint, and the flow's
// next bytes go through inference again.
func (c *Conn) reinfer() {
	e := c.e
	e.stats.Reinferred++
	e.proto[c.dec].Reinferred++
	c.abandon()
	c.abandoned = c.dec
	var bit uint64
	if c.dec < 64 {
		bit = 1 << uint(c.dec)
	}
	c.avoid |= bit
	ent, _ := e.cache.putAt(c.endpoint(), c.cacheAt)
	if ent.dec == c.dec {
		ent.dec = -1
	}
	ent.errDec, ent.errs = -1, [2]uint16{}
	if ent.avoidUntil <= e.now {
		ent.avoid = 0
	}
	ent.avoid |= bit
	ent.avoidUntil = e.now + int64(e.cfg.InferBackoff)
	for i := range c.sides {
		s := &c.sides[i]
		if s.buf != nil {
			e.stats.DiscardedBytes += uint64(len(s.buf))
			c.dropBuf(s)
		}
		s.msgLen, s.errs, s.decoded = 0, 0, false
	}
	c.setParser(nil)
	c.dec = -1
	c.tries = 0
	c.state = stateInfer
}

// infer looks for the decoder of c on the bytes s holds from earlier
// failed rounds followed by b (a message start that came in pieces: a
// 4-byte length alone, a few bytes of a line), then on b alone. It reports whether one was found; then c has a parser and may
// have been swapped. joined reports that the held bytes start the message:
// b is then appended to s.buf.
func (c *Conn) infer(s *side, ts int64, b []byte) (found, joined bool) {
	e := c.e
	if len(e.decs) == 0 {
		c.state = stateOff
		return false, false
	}
	key := c.endpoint()
	first := int32(-1)
	avoid := c.avoid
	ent, at := e.cache.getAt(key, c.cacheAt)
	if ent != nil {
		if ent.offUntil > ts {
			e.stats.InferSkipped++
			c.state = stateOff
			return false, false
		}
		first = ent.dec
		if ent.avoidUntil > ts {
			avoid |= ent.avoid
		}
	}
	e.stats.InferAttempts++
	dir := Direction(s.phys ^ c.flip)
	cand := [3]int32{first, -1, -1}
	if e.hints != nil {
		if i, ok := e.hints[c.server.Port()]; ok {
			cand[1] = i
		}
		if i, ok := e.hints[c.client.Port()]; ok {
			cand[2] = i
		}
	}
	dec, v := int32(-1), No
	if s.buf != nil && c.transport == TCP && len(s.buf)+len(b) <= maxHeld {
		// The held bytes with b after them first, in s.buf's spare
		// capacity or the engine's scratch (committed only when a
		// decoder recognises them): a piece of a message start alone may
		// look like another message.
		var j []byte
		if len(s.buf)+len(b) <= cap(s.buf) {
			j = append(s.buf, b...)
		} else {
			if e.joinBuf == nil {
				e.joinBuf = make([]byte, 0, maxHeld)
			}
			j = append(append(e.joinBuf[:0], s.buf...), b...)
		}
		if dec, v = c.pick(j, dir, cand, avoid, false); dec >= 0 {
			if len(j) <= cap(s.buf) {
				s.buf, joined = j, true
			} else if c.growHeld(s, len(j)) {
				s.buf, joined = append(s.buf, b...), true
			} else {
				dec, v = -1, No // no room for the message start
			}
		}
	}
	if dec < 0 {
		dec, v = c.pick(b, dir, cand, avoid, true)
	}
	if dec < 0 {
		e.stats.InferFailures++
		ent, c.cacheAt = e.cache.putAt(key, at)
		if ent.dec < 0 {
			ent.failures++
			if ent.failures >= uint32(e.cfg.MaxInferFailures) {
				ent.failures = 0
				ent.offUntil = ts + int64(e.cfg.InferBackoff)
			}
		}
		c.tries++
		if int(c.tries) >= e.cfg.MaxFlowInferAttempts {
			c.state = stateOff
		}
		return false, false
	}
	if dec == first {
		e.stats.InferCacheHits++
	}
	if (v == Response && dir == ToServer) || (v == Request && dir == ToClient) {
		c.swap()
	}
	c.dec = dec
	c.setParser(e.newParser(dec, c.transport))
	c.state = stateParse
	ent, c.cacheAt = e.cache.putAt(c.endpoint(), at)
	ent.dec = dec
	ent.failures = 0
	e.proto[dec].Flows++
	return true, joined
}

// pick returns the first decoder of the candidates (cand: the endpoint
// cache's and the port hints', then the registry's order, less those in
// avoid) whose Check recognises b, and its verdict; -1 when none does.
// count says whether WeakRequest verdicts not taken are counted (once a
// round: its pass over the new bytes alone).
func (c *Conn) pick(b []byte, dir Direction, cand [3]int32, avoid uint64, count bool) (int32, Verdict) {
	e := c.e
	found, v := int32(-1), No
	for k := 0; k < len(cand)+len(e.decs) && found < 0; k++ {
		var i int32
		if k < len(cand) {
			i = cand[k]
			if i < 0 || (k > 0 && i == cand[0]) || (k > 1 && i == cand[1]) {
				continue
			}
		} else {
			i = int32(k - len(cand))
			if i == cand[0] || i == cand[1] || i == cand[2] {
				continue
			}
		}
		if i < 64 && avoid&(1<<uint(i)) != 0 {
			continue
		}
		switch v = e.decs[i].Check(b, dir, c.transport); v {
		case Request, Response:
			found = i
		case WeakRequest:
			// Taken only where the flow is known to be this
			// protocol: the endpoint cache or a port hint names it.
			if i == cand[0] || i == cand[1] || i == cand[2] {
				found, v = i, Request
			} else {
				if count {
					e.stats.WeakRejected++
				}
			}
		}
	}
	return found, v
}

// swap reverses c's orientation unless it is certain.
func (c *Conn) swap() bool {
	if c.oriented {
		return false
	}
	if e := c.e; e.swapConn == c && !e.swapper.Swap() {
		return false
	}
	c.flip ^= 1
	c.client, c.server = c.server, c.client
	return true
}
