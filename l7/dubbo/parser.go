package dubbo

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/metaflow-go/metaflow/internal/trace"
	"github.com/metaflow-go/metaflow/l7"
)

// Stats counts what the parsers of one Decoder saw. Counters only grow.
type Stats struct {
	Frames     uint64 // frame headers read
	Events     uint64 // heartbeats and other events
	Truncated  uint64 // frames whose body was longer than Config.MaxBody
	BodyErrors uint64 // hessian2 bodies that did not decode to the end of what was read
	Resyncs    uint64 // frame boundaries searched for after a gap or an error
}

// counters are a Decoder's Stats, added to by its parsers (the shards of
// an agent share a Decoder). The padding keeps them on cache lines of
// their own, apart from the Config every frame reads and from whatever
// lies next to the Decoder, wherever it is placed.
type counters struct {
	_                                              [64]byte
	frames, events, truncated, bodyErrors, resyncs atomic.Uint64
	_                                              [64]byte
}

// Parser follows the Dubbo frames of one connection in both directions.
// It is not safe for concurrent use.
//
// An idle connection's Parser is a 32-byte object: its framing state and
// its Decoder (settings and counters). What Idle reads comes first, so
// that the engine's Idle call on an idle connection misses the cache once.
type Parser struct {
	sc   *scratch // while a message it filled may be in use; nil when idle
	ncls uint8    // class definitions sc.classes holds, cleared by Idle (kept here so that Idle reads no scratch line)
	rank int8     // priority of the trace header that set the ids so far
	// Of each direction: whether framing is lost (search for the
	// magic), and the bytes of the current frame's body still to skip
	// (at most maxBodyLen).
	lost [2]bool
	skip [2]int32
	d    *Decoder
}

// scratch holds what the Parser builds while it decodes one frame, the
// values of the Message that are joined rather than aliased, taken from
// scratchPool by the frames that need it (a hessian2 request, an
// exception, sw8 ids, a chunked string, more than inlineClasses class
// definitions) and given back by Idle, so an idle connection's Parser
// holds 32 bytes.
//
// The fields every hessian2 request writes come first: a scratch taken
// from the pool may be cold, and the nil check of a pointer to it reads
// its first line.
type scratch struct {
	resource [256]byte // "service.method"
	endpoint [256]byte // "service/method"
	tb       trace.Buf
	exc      [256]byte         // "class: detailMessage"
	arena    [1024]byte        // joined chunked strings
	classes  [maxClasses]class // hreader's definitions from inlineClasses on (Parser.ncls of them)
}

// scratchPool holds the scratch of idle parsers, shared by every Parser
// (the engines of several shards included).
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// scratch returns the Parser's scratch, taking one from the pool.
func (p *Parser) scratch() *scratch {
	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	return p.sc
}

// Idle implements l7.Idler: no Message the Parser filled is in use, so it
// gives its scratch back to the pool; the next frame takes one again.
func (p *Parser) Idle() {
	if sc := p.sc; sc != nil {
		if p.ncls > 0 { // names aliasing engine buffers
			clear(sc.classes[:p.ncls])
			p.ncls = 0
		}
		scratchPool.Put(sc)
		p.sc = nil
	}
}

// Reset implements l7.Resetter: the Parser becomes as new.
func (p *Parser) Reset(l7.Transport) {
	p.Idle()
	*p = Parser{d: p.d}
}

// Trailing implements l7.Trailer: a message comes from a frame read (up to
// Config.MaxBody) in one call, so the bytes before it never start it: the
// rest of a long body, events not reported.
func (p *Parser) Trailing(l7.Direction) bool { return true }

// Gap drops partial state of direction dir: a hole inside a body being
// skipped keeps the framing; any other makes the Parser look for the next
// frame header.
func (p *Parser) Gap(dir l7.Direction, n int) {
	d := dir & 1
	if n > 0 && int(p.skip[d]) >= n && !p.lost[d] {
		p.skip[d] -= int32(n)
		return
	}
	p.skip[d] = 0
	p.lost[d] = true
}

// Parse decodes the frame at the start of data (direction dir).
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := dir & 1
	if p.skip[d] > 0 {
		if len(data) == 0 {
			return 0, false, l7.ErrNeedMore
		}
		k := min(int(p.skip[d]), len(data))
		p.skip[d] -= int32(k)
		return k, false, nil
	}
	if p.lost[d] {
		i := resync(data)
		if i < 0 {
			if len(data) == 0 {
				return 0, false, l7.ErrNeedMore
			}
			// Keep a last byte that may start the magic.
			k := len(data)
			if data[k-1] == magicHi {
				k--
			}
			if k == 0 {
				return 0, false, l7.ErrNeedMore
			}
			return k, false, nil
		}
		if i > 0 {
			return i, false, nil
		}
		if len(data) < headerLen {
			return 0, false, l7.ErrNeedMore
		}
		p.lost[d] = false
		p.d.st.resyncs.Add(1)
	}
	if len(data) < headerLen {
		return 0, false, l7.ErrNeedMore
	}
	if !validHeader(data) {
		if data[0] == magicHi && data[1] == magicLo && bodyLen(data) > maxBodyLen {
			return 0, false, &l7.ParseError{Protocol: Name, Err: ErrBadLength}
		}
		return 0, false, &l7.ParseError{Protocol: Name, Err: ErrBadHeader}
	}
	total := headerLen + bodyLen(data)
	need := min(total, headerLen+p.d.cfg.MaxBody)
	if len(data) < need {
		return 0, false, l7.ErrNeedMore
	}
	p.d.st.frames.Add(1)
	if need < total {
		p.d.st.truncated.Add(1)
	}
	// The bytes decoded are consumed now and the rest of a long body
	// afterwards, so that what a message counts does not depend on how
	// the bytes arrived.
	p.skip[d] = int32(total - need) // at most maxBodyLen
	ok := p.frame(data[:headerLen], data[headerLen:need], total, m)
	return need, ok, nil
}

// resync returns the offset of the first byte in data that may start a
// frame header (all of it, or the part data holds), or -1.
func resync(data []byte) int {
	for i := 0; i < len(data); i++ {
		if data[i] != magicHi {
			continue
		}
		rest := data[i:]
		switch {
		case len(rest) == 1:
			return -1 // the caller keeps it
		case rest[1] != magicLo:
			continue
		case len(rest) < headerLen || validHeader(rest):
			return i
		}
	}
	return -1
}

// frame fills m from a frame header h and the first bytes of its body.
func (p *Parser) frame(h, body []byte, total int, m *l7.Message) bool {
	flag, status := h[2], h[3]
	var id uint64
	for _, b := range h[4:12] {
		id = id<<8 | uint64(b)
	}
	event := flag&flagEvent != 0
	if event {
		p.d.st.events.Add(1)
		if !p.d.cfg.Events {
			return false
		}
	}
	m.ID, m.HasID = id, true
	m.RequestID, m.HasRequestID = uint32(id), true
	m.Length = total
	hessian := flag&serialMask == serialHessian2
	r := &hreader{b: body, p: p}
	p.rank = 0
	if flag&flagRequest != 0 {
		m.Kind = l7.KindRequest
		m.NoResponse = flag&flagTwoWay == 0
		switch {
		case event:
			m.RequestType = eventName(body, hessian)
		case hessian:
			p.request(r, m, len(body) < total-headerLen)
		}
		return true
	}
	m.Kind = l7.KindResponse
	m.Code, m.HasCode = int32(status), true
	m.Status = statusClass(status)
	if event || !hessian {
		return true
	}
	if status != statusOK {
		if msg, ok := r.str(); ok {
			m.Exception = msg
		} else {
			p.d.st.bodyErrors.Add(1)
		}
		return true
	}
	kind, ok := r.int()
	if !ok {
		p.d.st.bodyErrors.Add(1)
		return true
	}
	switch kind {
	case 0, 3: // RESPONSE_WITH_EXCEPTION[_WITH_ATTACHMENTS]
		name, detail := r.exception()
		m.Status = l7.StatusServerError
		e := appendCap(p.scratch().exc[:0], name)
		if len(detail) > 0 {
			if len(e) > 0 {
				e = appendCap(e, []byte(": "))
			}
			e = appendCap(e, detail)
		}
		m.Exception = e
	case 1, 4: // RESPONSE_VALUE[_WITH_ATTACHMENTS]
		r.skip()
	case 2, 5: // RESPONSE_NULL_VALUE[_WITH_ATTACHMENTS]
	default:
		r.fail()
	}
	if kind >= 3 && !r.bad {
		r.mapStrings(func(k, v []byte) { p.attachment(k, v, m) })
	}
	if r.bad && len(body) == total-headerLen {
		p.d.st.bodyErrors.Add(1)
	}
	return true
}

var (
	heartbeat = []byte("heartbeat")
	event     = []byte("event")
)

// eventName tells a heartbeat (a null body) from another event.
func eventName(body []byte, hessian bool) []byte {
	if len(body) == 0 || hessian && len(body) == 1 && body[0] == 'N' {
		return heartbeat
	}
	return event
}

// request decodes the body of a hessian2 invocation: dubbo version,
// service path, service version, method name, parameter descriptor, the
// arguments (skipped) and the attachments. A body cut at Config.MaxBody
// (truncated) is expected to end early.
func (p *Parser) request(r *hreader, m *l7.Message, truncated bool) {
	ver, _ := r.str()
	path, _ := r.str()
	r.str() // service version
	method, _ := r.str()
	desc, ok := r.str()
	m.Version = ver
	m.RequestType = method
	m.RequestDomain = path
	if len(path) > 0 && len(method) > 0 {
		sc := p.scratch()
		m.RequestResource = join(sc.resource[:0], path, '.', method)
		m.Endpoint = join(sc.endpoint[:0], path, '/', method)
	}
	if !ok {
		if !truncated {
			p.d.st.bodyErrors.Add(1)
		}
		return
	}
	for n := paramCount(desc); n > 0 && !r.bad; n-- {
		r.skip()
	}
	r.mapStrings(func(k, v []byte) { p.attachment(k, v, m) })
	if r.bad && !truncated {
		p.d.st.bodyErrors.Add(1)
	}
}

func join(buf, a []byte, sep byte, b []byte) []byte {
	buf = appendCap(buf, a)
	buf = appendCap(buf, []byte{sep})
	return appendCap(buf, b)
}

// paramCount counts the types of a JVM method descriptor's parameter list
// ("Ljava/lang/String;I[J" has 3).
func paramCount(desc []byte) int {
	n := 0
	for i := 0; i < len(desc); i++ {
		switch c := desc[i]; c {
		case '[':
			continue
		case 'L':
			if j := bytes.IndexByte(desc[i:], ';'); j >= 0 {
				i += j
			} else {
				i = len(desc)
			}
		}
		n++
	}
	return n
}

// attachment takes the tracing fields of one attachment. Where several
// headers carry ids, traceparent wins over sw8, and sw8 over B3.
func (p *Parser) attachment(k, v []byte, m *l7.Message) {
	kind := trace.KindOf(k)
	var ids trace.IDs
	ok := false
	var rank int8
	switch kind {
	case trace.None:
		return
	case trace.XRequestID:
		m.XRequestID = v
		return
	case trace.Traceparent:
		ids, ok = trace.ParseTraceparent(v)
		rank = 4
	case trace.SW8:
		ids, ok = trace.ParseSW8(v, &p.scratch().tb)
		rank = 3
	case trace.B3:
		ids, ok = trace.ParseB3(v)
		rank = 2
	case trace.B3TraceID, trace.B3SpanID, trace.B3ParentSpanID:
		if p.rank > 1 || !trace.IsB3ID(v) {
			return
		}
		p.rank = 1
		switch kind {
		case trace.B3TraceID:
			m.TraceID = v
		case trace.B3SpanID:
			m.SpanID = v
		default:
			m.ParentSpanID = v
		}
		return
	}
	if !ok || rank <= p.rank {
		return
	}
	p.rank = rank
	m.TraceID, m.SpanID, m.ParentSpanID = ids.TraceID, ids.SpanID, ids.ParentSpanID
}
