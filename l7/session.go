package l7

import (
	"math"
	"slices"
)

// span locates a byte field in a session's arena.
type span struct{ off, n uint32 }

// session is a request waiting for its response. Its byte fields are
// copied into arena, whose capacity is kept when the session is reused, so
// steady state allocates nothing.
type session struct {
	c            *Conn
	fprev, fnext *session // the conn's pending list
	gprev, gnext *session // the engine's per-decoder list (timeouts)

	dec      int32
	rest     int32 // index in Engine.restPend while c is nil (its flow rests)
	ts       int64
	seq      uint32
	captured uint32
	length   int
	id       uint64
	hasID    bool
	reverse  bool
	ack      uint32 // the client's acknowledgement when it sent the request (TCP)
	hasAck   bool
	reqID    uint32
	hasReqID bool
	call     CallMeta // the call of the request's first byte
	proto    string   // Message.Protocol
	cost     int      // bytes held: sessionCost + the arena

	arena                                            []byte
	version, rtype, domain, resource, endpoint       span
	traceID, spanID, parentSpanID, xRequestID, agent span
}

// sessionCost is the fixed memory of one waiting request (the session
// struct, rounded up).
const sessionCost = 256

func (s *session) put(b []byte, limit int, st *Stats) span {
	if len(b) > limit {
		b = b[:limit]
		st.Truncations++
	}
	sp := span{off: uint32(len(s.arena)), n: uint32(len(b))}
	s.arena = append(s.arena, b...)
	return sp
}

func (s *session) get(sp span) []byte {
	if sp.n == 0 {
		return nil
	}
	return s.arena[sp.off : sp.off+sp.n : sp.off+sp.n]
}

// sessList is a doubly linked list through gprev/gnext, oldest first.
type sessList struct{ head, tail *session }

// message handles a decoded message of side s.
func (c *Conn) message(s *side, dir Direction, m *Message) {
	e := c.e
	if m.TLS {
		c.tls = true
	}
	switch m.Kind {
	case KindRequest:
		if m.Protocol != "" {
			c.msgProto = m.Protocol
		}
		c.requests++
		e.stats.Requests++
		e.proto[c.dec].Requests++
		if m.NoResponse {
			e.beginRecord(c)
			e.requestFromMessage(m, s)
			e.emit()
			return
		}
		c.enqueue(m, s)
	case KindResponse:
		c.responses++
		e.stats.Responses++
		e.proto[c.dec].Responses++
		switch m.Status {
		case StatusClientError:
			c.clientErrors++
		case StatusServerError:
			c.serverErrors++
		}
		if !m.Streaming && !m.HasID && c.owed > 0 {
			// The answer to a request emitted early by overflow:
			// pairing it with the next request would shift every
			// later pair.
			c.owed--
			e.stats.OwedResponses++
		} else if !m.Streaming {
			if c.respGap && !m.HasID {
				c.lostReplies()
			}
			if c.phead == nil && !m.HasID {
				c.answeredCut(s)
			}
			ss := c.match(m)
			if ss != nil && !m.HasID && s.msgHasAck && ss.hasAck && int32(s.msgAck-ss.seq) < 0 {
				// The server had not received the bytes before the
				// oldest request when it sent this response (its
				// acknowledgement says so): a request lost in a hole
				// gets this answer, not the request behind it.
				ss = nil
			}
			if ss != nil && e.cutting && ss.ts > s.msgTs {
				// A response cut short, made at a hole or at the end
				// of the flow, whose start came before the oldest
				// request waiting: it answers none of them.
				ss = nil
			}
			if ss != nil {
				e.beginRecord(c)
				e.requestFromSession(ss)
				e.responseFromMessage(m, s)
				e.emit()
				e.release(ss)
				return
			}
		}
		e.stats.LoneResponses++
		e.beginRecord(c)
		e.responseFromMessage(m, s)
		e.emit()
	}
}

// answeredCut handles a response that arrives while no request waits but
// the client's side holds the start of one: the server answered it, so
// its end was sent; when the capture lost that end (a hole the client's
// next bytes will reveal), waiting for it would pair this response with
// nothing and the cut request with the next request's response. The
// parser, if it can (Flusher), makes the request of what is held; then the
// held bytes are dropped (counted in Stats.DiscardedBytes), and so is the rest
// of the request if it arrives after all (a capture that reordered the
// directions): the server's acknowledgement when it began the response (of
// side resp) says where the request ended.
func (c *Conn) answeredCut(resp *side) {
	rs := &c.sides[uint8(ToServer)^c.flip]
	end := rs.bufSeq + uint32(len(rs.buf))
	if !c.cut(rs, ToServer) || c.state != stateParse {
		return // no request made of it: the bytes wait for their end
	}
	if resp.msgHasAck && int32(resp.msgAck-end) > 0 {
		rs.skipEnd, rs.skip = resp.msgAck, true
	}
	c.e.stats.DiscardedBytes += uint64(len(rs.buf))
	c.dropBuf(rs)
	rs.msgLen = 0
}

// enqueue stores request m until its response, within the caps.
func (c *Conn) enqueue(m *Message, s *side) {
	e := c.e
	for c.phead != nil && (int(c.npending) >= e.maxPending[c.dec] || c.pendBytes >= e.cfg.MaxPendingBytesPerFlow) {
		e.overflow(c.phead)
	}
	if e.npending >= e.cfg.MaxSessions {
		e.overflow(e.oldest())
	}
	lim, res, st := e.cfg.MaxFieldLen, e.cfg.MaxResourceLen, &e.stats
	need := min(len(m.Version), lim) + min(len(m.RequestType), lim) + min(len(m.RequestDomain), lim) +
		min(len(m.RequestResource), res) + min(len(m.Endpoint), lim) + min(len(m.TraceID), lim) +
		min(len(m.SpanID), lim) + min(len(m.ParentSpanID), lim) + min(len(m.XRequestID), lim) + min(len(m.UserAgent), lim)
	ss := e.freeSession(need)
	ss.c = c
	ss.dec = c.dec
	ss.ts = s.msgTs
	ss.seq = s.msgSeq
	ss.call = s.msgCall()
	ss.ack, ss.hasAck = s.msgAck, s.msgHasAck
	ss.captured = uint32(s.msgLen)
	ss.length = m.Length
	ss.id, ss.hasID, ss.reverse = m.ID, m.HasID, m.Reverse
	ss.reqID, ss.hasReqID = m.RequestID, m.HasRequestID
	ss.proto = m.Protocol
	// One allocation for the arena, not one per field that overflows it.
	if cap(ss.arena) < need {
		ss.arena = slices.Grow([]byte(nil), need) // its own size, not twice the old
	}
	ss.version = ss.put(m.Version, lim, st)
	ss.rtype = ss.put(m.RequestType, lim, st)
	ss.domain = ss.put(m.RequestDomain, lim, st)
	ss.resource = ss.put(m.RequestResource, res, st)
	ss.endpoint = ss.put(m.Endpoint, lim, st)
	ss.traceID = ss.put(m.TraceID, lim, st)
	ss.spanID = ss.put(m.SpanID, lim, st)
	ss.parentSpanID = ss.put(m.ParentSpanID, lim, st)
	ss.xRequestID = ss.put(m.XRequestID, lim, st)
	ss.agent = ss.put(m.UserAgent, lim, st)
	ss.cost = sessionCost + cap(ss.arena)
	c.pendBytes += ss.cost

	ss.fnext, ss.fprev = nil, c.ptail
	if c.ptail != nil {
		c.ptail.fnext = ss
	} else {
		c.phead = ss
	}
	c.ptail = ss
	c.npending++

	l := &e.lists[c.dec]
	ss.gnext, ss.gprev = nil, l.tail
	if l.tail != nil {
		l.tail.gnext = ss
	} else {
		l.head = ss
	}
	l.tail = ss
	e.npending++
	e.nextExpire = min(e.nextExpire, ss.ts+e.timeouts[ss.dec])
}

// arenaClasses is the number of free lists of sessions, by their arena's
// capacity (arenaClass): a request takes a free session whose arena holds
// its fields, so that the arena a large request grew (an HTTP request with
// a long URL and user agent: 1 KB) does not go to a small one (a Dubbo
// request: 200 bytes) while another small session is free, and the next
// large request finds it.
const arenaClasses = 4

// arenaClass returns the free list of a session whose arena holds n
// bytes: up to 128, 256, 512, more.
func arenaClass(n int) int {
	switch {
	case n <= 128:
		return 0
	case n <= 256:
		return 1
	case n <= 512:
		return 2
	}
	return 3
}

// freeSession returns a free session for a request whose fields take need
// bytes (its arena emptied): one of the class of need or the next larger
// non-empty one, else the largest of the smaller ones, else a new one.
func (e *Engine) freeSession(need int) *session {
	k := arenaClass(need)
	for j := k; j < arenaClasses; j++ {
		if ss := e.freeSessions[j]; ss != nil {
			e.freeSessions[j] = ss.fnext
			ss.arena = ss.arena[:0]
			return ss
		}
	}
	for j := k - 1; j >= 0; j-- {
		if ss := e.freeSessions[j]; ss != nil {
			e.freeSessions[j] = ss.fnext
			ss.arena = ss.arena[:0]
			return ss
		}
	}
	return &session{}
}

// match returns the pending request that response m answers, among those
// of the same Reverse value: the one with the same ID when m has one, else
// the oldest without an ID (requests paired by ID and by order may share a
// flow, as MQTT's PUBLISH and PINGREQ do).
func (c *Conn) match(m *Message) *session {
	for ss := c.phead; ss != nil; ss = ss.fnext {
		if ss.reverse != m.Reverse || ss.hasID != m.HasID {
			continue
		}
		if !m.HasID || ss.id == m.ID {
			return ss
		}
	}
	return nil
}

// release unlinks ss from its lists and recycles it.
func (e *Engine) release(ss *session) {
	c := ss.c
	if ss.fprev != nil {
		ss.fprev.fnext = ss.fnext
	} else {
		c.phead = ss.fnext
	}
	if ss.fnext != nil {
		ss.fnext.fprev = ss.fprev
	} else {
		c.ptail = ss.fprev
	}
	c.npending--
	c.pendBytes -= ss.cost
	l := &e.lists[ss.dec]
	if ss.gprev != nil {
		ss.gprev.gnext = ss.gnext
	} else {
		l.head = ss.gnext
	}
	if ss.gnext != nil {
		ss.gnext.gprev = ss.gprev
	} else {
		l.tail = ss.gprev
	}
	e.npending--
	ss.c, ss.fprev, ss.gprev, ss.gnext = nil, nil, nil, nil
	k := arenaClass(cap(ss.arena))
	ss.fnext = e.freeSessions[k]
	e.freeSessions[k] = ss
	if c.idleTick == 0 && c.slot >= 0 && c.state == stateParse {
		// A request of a Conn already told idle went (an overflow or
		// a timeout, not its response): the Conn may rest now, or rest
		// again after a wake.
		e.restQ = append(e.restQ, restKey{c, c.id})
	}
}

// oldest returns the oldest pending request of the engine.
func (e *Engine) oldest() *session {
	var o *session
	for i := range e.lists {
		if h := e.lists[i].head; h != nil && (o == nil || h.ts < o.ts) {
			o = h
		}
	}
	return o
}

// overflow emits ss early with status Unknown.
func (e *Engine) overflow(ss *session) {
	if ss == nil {
		return
	}
	e.stats.SessionsOverflowed++
	c := e.owner(ss)
	if !ss.hasID {
		c.owed++
	}
	e.emitAlone(ss, StatusUnknown)
}

// lostReplies weighs a hole in the responses against the requests waiting
// in order: when a request was sent after the client had received every
// byte of the hole (its acknowledgement covers the hole's end), the
// requests before it were answered in the hole, so they are emitted now
// with status Unknown instead of taking later responses.
func (c *Conn) lostReplies() {
	c.respGap = false
	var last *session
	for ss := c.phead; ss != nil; ss = ss.fnext {
		if !ss.hasID && !ss.reverse && ss.hasAck && int32(ss.ack-c.respGapEnd) >= 0 {
			last = ss
		}
	}
	if last == nil {
		return
	}
	e := c.e
	for ss := c.phead; ss != nil && ss != last; {
		next := ss.fnext
		if !ss.hasID && !ss.reverse {
			e.stats.LostReplies++
			e.emitAlone(ss, StatusUnknown)
		}
		ss = next
	}
}

// unanswered emits ss, still waiting when its flow closed or the input
// ended before its session timeout, with status Unknown.
func (e *Engine) unanswered(ss *session) {
	if e.owner(ss).repliesFailed() {
		e.stats.AbandonedRequests++
	} else {
		e.stats.Unanswered++
	}
	e.emitAlone(ss, StatusUnknown)
}

// timeout emits ss with status Timeout, or Unknown when the flow's latest
// replies failed to parse: its answer was likely there, and a Timeout
// would be a false error.
func (e *Engine) timeout(ss *session) {
	if e.owner(ss).repliesFailed() {
		e.stats.AbandonedRequests++
		e.emitAlone(ss, StatusUnknown)
		return
	}
	e.stats.Timeouts++
	ss.c.timeouts++
	e.emitAlone(ss, StatusTimeout)
}

// repliesFailed reports whether the latest replies of c failed to parse.
func (c *Conn) repliesFailed() bool {
	return c.state == stateParse && c.sides[1^c.flip].errs > 0
}

// emitAlone emits waiting request ss without a response, with status st,
// and releases it.
func (e *Engine) emitAlone(ss *session, st Status) {
	e.beginRecord(e.owner(ss))
	e.requestFromSession(ss)
	e.rec.Status, e.rec.HasStatus = st, true
	e.emit()
	e.release(ss)
}

// expire emits the requests older than their decoder's session timeout and
// sets the next deadline.
func (e *Engine) expire(now int64) {
	next := int64(math.MaxInt64)
	for i := range e.lists {
		l := &e.lists[i]
		for l.head != nil && now-l.head.ts >= e.timeouts[i] {
			e.timeout(l.head)
		}
		if l.head != nil {
			next = min(next, l.head.ts+e.timeouts[i])
		}
	}
	e.nextExpire = next
}

func (e *Engine) beginRecord(c *Conn) {
	r := &e.rec
	tags := r.Tags
	*r = Record{Tags: tags}
	r.Tags.Reset()
	r.FlowID = c.id
	r.Client, r.Server = c.client, c.server
	r.Transport = c.transport
	r.L7Protocol = e.names[c.dec]
	r.IsTLS = c.tls
}

func (e *Engine) requestFromSession(ss *session) {
	r := &e.rec
	r.HasRequest = true
	if ss.proto != "" {
		r.L7Protocol = ss.proto
	}
	r.StartTime, r.EndTime = ss.ts, ss.ts
	r.ReqTCPSeq = ss.seq
	r.SyscallThread0, r.SyscallTraceIDRequest, r.SyscallCoroutine0 = ss.call.TID, ss.call.TraceID, ss.call.Goroutine
	r.RequestLength = ss.length
	r.CapturedRequestByte = ss.captured
	r.Version = ss.get(ss.version)
	r.RequestType = ss.get(ss.rtype)
	r.RequestDomain = ss.get(ss.domain)
	r.RequestResource = ss.get(ss.resource)
	r.Endpoint = ss.get(ss.endpoint)
	r.RequestID, r.HasRequestID = ss.reqID, ss.hasReqID
	r.TraceID = ss.get(ss.traceID)
	r.SpanID = ss.get(ss.spanID)
	r.ParentSpanID = ss.get(ss.parentSpanID)
	r.XRequestID0 = ss.get(ss.xRequestID)
	r.UserAgent = ss.get(ss.agent)
}

func (e *Engine) limit(b []byte, n int) []byte {
	if len(b) > n {
		e.stats.Truncations++
		return b[:n:n]
	}
	return b
}

func (e *Engine) requestFromMessage(m *Message, s *side) {
	r := &e.rec
	lim := e.cfg.MaxFieldLen
	r.HasRequest = true
	if m.Protocol != "" {
		r.L7Protocol = m.Protocol
	}
	r.StartTime, r.EndTime = s.msgTs, s.msgTs
	r.ReqTCPSeq = s.msgSeq
	call := s.msgCall()
	r.SyscallThread0, r.SyscallTraceIDRequest, r.SyscallCoroutine0 = call.TID, call.TraceID, call.Goroutine
	r.RequestLength = m.Length
	r.CapturedRequestByte = uint32(s.msgLen)
	r.Version = e.limit(m.Version, lim)
	r.RequestType = e.limit(m.RequestType, lim)
	r.RequestDomain = e.limit(m.RequestDomain, lim)
	r.RequestResource = e.limit(m.RequestResource, e.cfg.MaxResourceLen)
	r.Endpoint = e.limit(m.Endpoint, lim)
	r.RequestID, r.HasRequestID = m.RequestID, m.HasRequestID
	r.TraceID = e.limit(m.TraceID, lim)
	r.SpanID = e.limit(m.SpanID, lim)
	r.ParentSpanID = e.limit(m.ParentSpanID, lim)
	r.XRequestID0 = e.limit(m.XRequestID, lim)
	r.UserAgent = e.limit(m.UserAgent, lim)
}

func (e *Engine) responseFromMessage(m *Message, s *side) {
	r := &e.rec
	lim := e.cfg.MaxFieldLen
	r.HasResponse = true
	if m.Protocol != "" {
		r.L7Protocol = m.Protocol
	}
	if !r.HasRequest {
		r.StartTime = s.msgTs
	}
	// Some ids are known only from the response (the statement id of
	// COM_STMT_PREPARE).
	if !r.HasRequestID {
		r.RequestID, r.HasRequestID = m.RequestID, m.HasRequestID
	}
	r.EndTime = s.msgTs
	r.RespTCPSeq = s.msgSeq
	call := s.msgCall()
	r.SyscallThread1, r.SyscallTraceIDResponse, r.SyscallCoroutine1 = call.TID, call.TraceID, call.Goroutine
	r.ResponseLength = m.Length
	r.CapturedResponseByte = uint32(s.msgLen)
	if len(r.Version) == 0 {
		r.Version = e.limit(m.Version, lim)
	}
	r.Status, r.HasStatus = m.Status, true
	r.ResponseCode, r.HasResponseCode = m.Code, m.HasCode
	r.ResponseException = e.limit(m.Exception, lim)
	r.ResponseResult = e.limit(m.Result, e.cfg.MaxResourceLen)
	if len(r.TraceID) == 0 {
		r.TraceID = e.limit(m.TraceID, lim)
	}
	if len(r.SpanID) == 0 {
		r.SpanID = e.limit(m.SpanID, lim)
	}
	if len(r.ParentSpanID) == 0 {
		r.ParentSpanID = e.limit(m.ParentSpanID, lim)
	}
	r.XRequestID1 = e.limit(m.XRequestID, lim)
}

func (e *Engine) emit() {
	e.stats.Records++
	if e.onRecord != nil {
		e.onRecord(&e.rec)
	}
}
