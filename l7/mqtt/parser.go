package mqtt

import (
	"sync"

	"github.com/metaflow-go/metaflow/internal/trace"
	"github.com/metaflow-go/metaflow/l7"
)

const (
	// resSize bounds the topic filters of a SUBSCRIBE or UNSUBSCRIBE
	// joined into request_resource (l7.Config's default MaxResourceLen).
	resSize = 1024
	// maxAliases and aliasLen bound the MQTT 5 topic aliases remembered
	// per direction: aliases 1 to maxAliases of topics up to aliasLen bytes.
	maxAliases = 16
	aliasLen   = 128
	// bigPublish is the size from which a PUBLISH is returned at the end of
	// its properties and its payload skipped as it arrives; a smaller one
	// is returned once whole.
	bigPublish = 4096
)

// Exchange classes, in the high bits of Message.ID, so that an
// acknowledgement pairs only with the packet it acknowledges even when a
// packet id is reused across exchanges.
const (
	classPublish     = 1 // PUBLISH → PUBACK (QoS 1) or PUBREC (QoS 2)
	classPubrel      = 2 // PUBREL → PUBCOMP
	classSubscribe   = 3 // SUBSCRIBE → SUBACK
	classUnsubscribe = 4 // UNSUBSCRIBE → UNSUBACK
)

// Parser decodes the packets of one MQTT connection in both directions. It
// belongs to one flow and one goroutine. Slices in the messages it returns
// alias the input or the Parser and are valid until its next call.
type Parser struct {
	pos     [2]int64 // stream offset of the next byte (gaps of unknown size aside)
	aliases [2]*aliasTable
	// sc holds the values of the packet being decoded, taken from
	// scratchPool when a packet needs it and given back by Idle.
	sc      *scratch
	skip    [2]int32 // payload bytes of a big PUBLISH still to skip
	max     int32    // Config.MaxPacket
	version byte     // protocol level (3, 4, 5); 0 before CONNECT
	resync  [2]bool  // the next packet must pass checkPacket (after a gap)
	// 56 bytes: a Parser is one 64-byte object, one cache line, which the
	// engine's first look at it (Trailing) brings in whole.
}

// scratch holds the values of one packet that the parser builds rather
// than aliases from its input.
type scratch struct {
	res [resSize]byte // joined topic filters
	tb  trace.Buf     // decoded sw8 ids
}

// scratchPool holds the scratch of idle parsers, shared by every parser.
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// scratch returns the parser's scratch, taking one from the pool.
func (p *Parser) scratch() *scratch {
	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	return p.sc
}

// Idle implements l7.Idler: no message the parser filled is in use any
// more, so it gives its scratch back to the pool. An idle connection's
// parser holds its framing, the protocol version and its topic aliases.
func (p *Parser) Idle() {
	if p.sc != nil {
		scratchPool.Put(p.sc)
		p.sc = nil
	}
}

// aliasTable remembers the topics MQTT 5 topic aliases stand for in one
// direction: topic[a] is alias a's topic, empty when a is not defined.
// Each keeps its memory when redefined, so that a client that redefines
// its aliases does not make the parser allocate at every PUBLISH, and
// holds only the length of its topic (up to aliasLen bytes).
type aliasTable struct {
	topic [maxAliases + 1][]byte
}

// Version returns the protocol version of the connection as records carry
// it ("3.1", "3.1.1", "5"), or nil before a CONNECT (or an MQTT 5 only
// packet) told it.
func (p *Parser) Version() []byte { return versionBytes[p.version] }

// Trailing reports whether the next bytes of dir belong to no new message:
// the payload of a big PUBLISH already returned, or bytes after a gap
// before a packet the parser recognises.
func (p *Parser) Trailing(dir l7.Direction) bool {
	d := dir & 1
	return p.skip[d] > 0 || p.resync[d]
}

// Gap drops the partial state of dir. A gap inside the payload of a big
// PUBLISH keeps the framing (the rest of the payload is skipped); any
// other gap makes the parser look for a packet it recognises
// (checkPacket) at the start of the next bytes, skipping them until one
// comes.
func (p *Parser) Gap(dir l7.Direction, n int) {
	d := dir & 1
	if n >= 0 {
		p.pos[d] += int64(n)
		if p.skip[d] > 0 && n <= int(p.skip[d]) {
			p.skip[d] -= int32(n) // the next packet starts where it would have
			return
		}
	}
	p.skip[d] = 0
	p.resync[d] = true
}

// Parse decodes one MQTT control packet from the start of data (see
// l7.Parser and the package documentation).
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := dir & 1
	n, ok, err := p.parse(data, d, m)
	p.pos[d] += int64(n)
	return n, ok, err
}

func (p *Parser) parse(data []byte, d l7.Direction, m *l7.Message) (int, bool, error) {
	if len(data) == 0 {
		return 0, false, l7.ErrNeedMore
	}
	if s := int(p.skip[d]); s > 0 {
		n := min(s, len(data))
		p.skip[d] -= int32(n)
		return n, false, nil
	}
	// The first byte alone may show the bytes are no packet.
	if t, f := data[0]>>4, data[0]&0x0f; t == 0 || t != tPublish && !flagsOK(t, f) || p.resync[d] && !flagsOK(t, f) {
		return p.fail(d, data, 0, ErrBadHeader)
	}
	typ, flags, rem, hl := header(data)
	if hl == 0 {
		return 0, false, l7.ErrNeedMore
	}
	if hl < 0 {
		return p.fail(d, data, 0, ErrBadHeader)
	}
	if p.resync[d] {
		if _, _, ok := checkPacket(data, int(p.max)); !ok {
			return len(data), false, nil
		}
	}
	size := hl + rem
	if typ == tPublish {
		return p.publish(data, d, flags, hl, size, m)
	}
	if size > int(p.max) {
		return p.fail(d, data, 0, ErrTooLarge)
	}
	if len(data) < size {
		return 0, false, l7.ErrNeedMore
	}
	if err := p.packet(typ, data[hl:size], d, m); err != nil {
		return p.fail(d, data, hl, err)
	}
	m.Length = size
	m.Version = versionBytes[p.version]
	p.resync[d] = false
	return size, true, nil
}

// fail returns err at offset off of data, or skips data quietly while the
// parser looks for a packet boundary.
func (p *Parser) fail(d l7.Direction, data []byte, off int, err error) (int, bool, error) {
	if p.resync[d] {
		return len(data), false, nil
	}
	return 0, false, &l7.ParseError{Protocol: Name, Offset: p.pos[d] + int64(off), Err: err}
}

// request fills the fields every request has. A request travelling to the
// client (a broker's PUBLISH) is Reverse.
func request(m *l7.Message, typ byte, d l7.Direction) {
	m.Kind = l7.KindRequest
	m.RequestType = typeBytes[typ]
	m.Reverse = d == l7.ToClient
}

// response fills the fields every response has: response_result is the
// packet type name. A response travelling to the server answers a Reverse
// request.
func response(m *l7.Message, typ byte, d l7.Direction) {
	m.Kind = l7.KindResponse
	m.Result = typeBytes[typ]
	m.Status = l7.StatusOk
	m.Reverse = d == l7.ToServer
}

// withID sets the packet id and the pairing id of exchange class c.
func withID(m *l7.Message, c int, id uint16) {
	m.ID, m.HasID = uint64(c)<<16|uint64(id), true
	m.RequestID, m.HasRequestID = uint32(id), true
}

// setCode sets a response's code and the status it implies.
func setCode(m *l7.Message, code byte, v3connack bool) {
	m.Code, m.HasCode = int32(code), true
	m.Status = codeStatus(code, v3connack)
}

// codeStatus maps a return or reason code to a status: 0-2 (success,
// granted QoS) Ok; codes a client's request causes ClientError; codes that
// say the server cannot serve (MQTT 5 0x80 unspecified error, 0x83
// implementation specific error, 0x88 server unavailable, 0x89 server busy,
// 0x8B server shutting down, 0x97 quota exceeded, 0x9C use another server,
// 0x9D server moved, 0x9F connection rate exceeded; MQTT 3 CONNACK 3
// server unavailable) ServerError.
func codeStatus(code byte, v3connack bool) l7.Status {
	if v3connack {
		switch {
		case code == 0:
			return l7.StatusOk
		case code == 3:
			return l7.StatusServerError
		}
		return l7.StatusClientError
	}
	switch {
	case code < 0x80:
		return l7.StatusOk
	case code == 0x80, code == 0x83, code == 0x88, code == 0x89, code == 0x8b,
		code == 0x97, code == 0x9c, code == 0x9d, code == 0x9f:
		return l7.StatusServerError
	}
	return l7.StatusClientError
}

// v5 reports whether the connection speaks MQTT 5.
func (p *Parser) v5() bool { return p.version == level5 }

// packet decodes a whole packet other than PUBLISH, whose body (after the
// fixed header) is body.
func (p *Parser) packet(typ byte, body []byte, d l7.Direction, m *l7.Message) error {
	r := reader{b: body}
	switch typ {
	case tConnect:
		return p.connect(&r, m)
	case tConnack:
		response(m, typ, d)
		r.u8() // session present
		code := r.u8()
		if r.bad {
			return ErrBadPacket
		}
		if len(body) > 2 && p.version == 0 {
			p.version = level5 // only MQTT 5 has CONNACK properties
		}
		setCode(m, code, !p.v5())
		if p.v5() {
			p.props(&r, m, nil)
		}
	case tPuback, tPubrec, tPubcomp:
		response(m, typ, d)
		c := classPublish
		if typ == tPubcomp {
			c = classPubrel
		}
		withID(m, c, r.u16())
		if r.bad {
			return ErrBadPacket
		}
		if r.left() > 0 {
			if p.version == 0 {
				p.version = level5 // only MQTT 5 has reason codes here
			}
			setCode(m, r.u8(), false)
		}
	case tPubrel:
		request(m, typ, d)
		withID(m, classPubrel, r.u16())
		if r.bad {
			return ErrBadPacket
		}
	case tSubscribe, tUnsubscribe:
		request(m, typ, d)
		c := classSubscribe
		if typ == tUnsubscribe {
			c = classUnsubscribe
		}
		withID(m, c, r.u16())
		if p.v5() {
			p.props(&r, m, nil)
		}
		if r.bad {
			return ErrBadPacket
		}
		return p.filters(&r, typ == tSubscribe, m)
	case tSuback, tUnsuback:
		response(m, typ, d)
		c := classSubscribe
		if typ == tUnsuback {
			c = classUnsubscribe
		}
		withID(m, c, r.u16())
		if p.v5() {
			p.props(&r, m, nil)
		}
		if r.bad {
			return ErrBadPacket
		}
		// One return or reason code per filter: the code is the first
		// failure's, else the first.
		for i, code := range body[r.off:] {
			if i == 0 || code >= 0x80 {
				setCode(m, code, false)
			}
			if code >= 0x80 {
				break
			}
		}
	case tPingreq:
		request(m, typ, d)
	case tPingresp:
		response(m, typ, d)
	case tDisconnect, tAuth:
		// Either side may send them (MQTT 5); nothing answers them.
		if typ == tAuth && p.version == 0 {
			p.version = level5
		}
		request(m, typ, d)
		m.NoResponse = true
	}
	return nil
}

// connect decodes a CONNECT body: request_domain is the client id.
func (p *Parser) connect(r *reader, m *l7.Message) error {
	name := r.str()
	level := r.u8() & 0x7f // bridges set the top bit
	r.u8()                 // connect flags
	r.u16()                // keep alive
	if r.bad || string(name) != "MQTT" && string(name) != "MQIsdp" {
		return ErrBadPacket
	}
	p.version = 0 // an unknown level: decoded as 3.1.1, no version
	if level >= level31 && level <= level5 {
		p.version = level
	}
	m.Kind = l7.KindRequest
	m.RequestType = typeBytes[tConnect]
	if level == level5 {
		p.props(r, m, nil)
	}
	id := r.str()
	if r.bad {
		return ErrBadPacket
	}
	m.RequestDomain = id
	return nil
}

// filters joins the topic filters of a SUBSCRIBE (with an options byte
// after each) or UNSUBSCRIBE into request_resource and endpoint, separated
// by ',' (as tshark lists them), cut at resSize bytes.
func (p *Parser) filters(r *reader, opts bool, m *l7.Message) error {
	res := &p.scratch().res
	n := 0
	for r.left() > 0 {
		f := r.str()
		if opts {
			r.u8()
		}
		if r.bad {
			return ErrBadPacket
		}
		if n > 0 && n < len(res) {
			res[n] = ','
			n++
		}
		n += copy(res[n:], f)
	}
	m.RequestResource = res[:n:n]
	m.Endpoint = m.RequestResource
	return nil
}

// publish decodes a PUBLISH of size bytes whose fixed header has hl bytes:
// request_resource and endpoint are the topic (resolved from its alias in
// MQTT 5), request_id the packet id (QoS 1 and 2, paired with PUBACK or
// PUBREC); at QoS 0 nothing answers.
func (p *Parser) publish(data []byte, d l7.Direction, flags byte, hl, size int, m *l7.Message) (int, bool, error) {
	r := reader{b: data[:min(len(data), size)], off: hl}
	topic := r.str()
	qos := flags >> 1 & 3
	var id uint16
	if qos > 0 {
		id = r.u16()
	}
	var po propOut
	propsOK := true
	if p.v5() && !r.bad {
		propsOK = props(&r, &po)
	}
	if r.bad {
		// The variable header runs past the bytes there are: wait for
		// them, unless it runs past the packet or the bound.
		if len(data) >= size {
			return p.fail(d, data, hl, ErrBadPacket)
		}
		if len(data) >= int(p.max) {
			return p.fail(d, data, 0, ErrTooLarge)
		}
		return 0, false, l7.ErrNeedMore
	}
	if len(data) < size && size <= bigPublish {
		return 0, false, l7.ErrNeedMore
	}
	request(m, tPublish, d)
	if qos > 0 {
		withID(m, classPublish, id)
	} else {
		m.NoResponse = true
	}
	if propsOK {
		p.useProps(&po, m)
		topic = p.alias(d, po.alias, topic)
	}
	m.RequestResource, m.Endpoint = topic, topic
	m.Length = size
	m.Version = versionBytes[p.version]
	p.resync[d] = false
	// A big PUBLISH ends at its properties, whatever part of its payload
	// is there: the payload is skipped (Trailing) as it comes.
	n := size
	if len(data) < size {
		n = r.off
	}
	p.skip[d] = int32(size - n) // size is at most maxRemaining+5
	return n, true, nil
}

// alias returns the topic of a PUBLISH with topic alias a (0: none): an
// empty topic is the alias's, a non-empty one (re)defines it.
func (p *Parser) alias(d l7.Direction, a int, topic []byte) []byte {
	if a <= 0 || a > maxAliases {
		return topic
	}
	t := p.aliases[d]
	if len(topic) == 0 {
		if t == nil || len(t.topic[a]) == 0 {
			return topic
		}
		n := len(t.topic[a])
		return t.topic[a][:n:n]
	}
	if len(topic) > aliasLen {
		if t != nil {
			t.topic[a] = t.topic[a][:0]
		}
		return topic
	}
	if t == nil {
		t = new(aliasTable)
		p.aliases[d] = t
	}
	t.topic[a] = append(t.topic[a][:0], topic...)
	return topic
}

// props reads an MQTT 5 property list and takes the tracing user
// properties into m. A malformed list is ignored, its packet kept.
func (p *Parser) props(r *reader, m *l7.Message, po *propOut) {
	var own propOut
	if po == nil {
		po = &own
	}
	if props(r, po) {
		p.useProps(po, m)
	}
}

func isTraceName(k []byte) bool { return trace.KindOf(k) != trace.None }

// useProps takes tracing ids from the user properties traceparent, sw8,
// b3 (and X-B3-*, X-Request-ID), the first one that parses.
func (p *Parser) useProps(po *propOut, m *l7.Message) {
	for i := 0; i < po.ntraces; i++ {
		k, v := po.traces[i][0], po.traces[i][1]
		var ids trace.IDs
		ok := false
		switch trace.KindOf(k) {
		case trace.Traceparent:
			ids, ok = trace.ParseTraceparent(v)
		case trace.SW8:
			ids, ok = trace.ParseSW8(v, &p.scratch().tb)
		case trace.B3:
			ids, ok = trace.ParseB3(v)
		case trace.B3TraceID:
			if len(m.TraceID) == 0 && trace.IsB3ID(v) {
				m.TraceID = v
			}
		case trace.B3SpanID:
			if len(m.SpanID) == 0 && trace.IsB3ID(v) {
				m.SpanID = v
			}
		case trace.B3ParentSpanID:
			if len(m.ParentSpanID) == 0 && trace.IsB3ID(v) {
				m.ParentSpanID = v
			}
		case trace.XRequestID:
			if len(m.XRequestID) == 0 {
				m.XRequestID = v
			}
		}
		if ok && len(m.TraceID) == 0 {
			m.TraceID, m.SpanID, m.ParentSpanID = ids.TraceID, ids.SpanID, ids.ParentSpanID
		}
	}
}
