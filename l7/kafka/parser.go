package kafka

import (
	"encoding/binary"
	"sync"

	"github.com/metaflow-go/metaflow/l7"
)

// pending is a request waiting for its response.
type pending struct {
	corr int32
	key  int16
	ver  int16
}

// Parser is the per-flow state of the Kafka decoder: the requests awaiting
// their responses (a response names only its correlation id) and, per
// direction, the rest of a message longer than Config.MaxPeek to skip. It
// is not safe for concurrent use; get one from Decoder.NewParser.
type Parser struct {
	// The fields of the first 64 bytes (a Parser is one 96-byte object)
	// are those Idle and Trailing read: on a connection
	// idle a while, the engine's call misses the cache once, not twice.
	d *Decoder

	// sc holds the values of the message being decoded, taken from the
	// Decoder's pool when a message needs it and given back by Idle.
	sc *scratch

	// pend holds the requests awaiting their responses beyond the two
	// that fit in inl: taken from pendPool when a third waits and given
	// back by Idle when none does. The oldest is at pendHd of inl while
	// pend is nil, of pend otherwise.
	pend *[maxPending]pending

	skip [2]int32 // bytes of the current message still to skip (message sizes are int32)

	lastCorr int32 // correlation id of the last request
	pendHd   uint8
	pendLen  uint8 // at most maxPending
	hasLast  bool
	cut      bool    // the message being decoded is longer than its view
	resync   [2]bool // after a gap or an error: look for the next header

	off  [2]int64 // stream offset of the next byte Parse sees
	inl  [2]pending
	meta *metaMap // a Metadata response longer than MaxPeek being mapped, from carryPool
}

// scratch holds the values of one message that the parser builds rather
// than aliases from its input: most of a parser's memory, needed only
// while a message is decoded and used.
type scratch struct {
	ver     [8]byte
	keyName [8]byte
	topic   [maxTopicLen]byte
	idText  [uuidTextLen]byte
	trace   [64]byte
	span    [96]byte
	inflate []byte // decompressed records of one batch; made at first use
}

// scratch returns the parser's scratch, taking one from the pool.
func (p *Parser) scratch() *scratch {
	if p.sc == nil {
		p.sc = p.d.scratch.Get().(*scratch)
	}
	return p.sc
}

// Idle implements l7.Idler: no message the parser filled is in use any
// more, so it gives its scratch back to the Decoder's pool, and its table
// of requests in flight when none is. An idle connection's parser holds
// its framing and the requests still awaiting their responses.
func (p *Parser) Idle() {
	if p.sc != nil {
		p.d.scratch.Put(p.sc)
		p.sc = nil
	}
	if p.pend != nil && p.pendLen == 0 {
		pendPool.Put(p.pend)
		p.pend, p.pendHd = nil, 0
	}
}

// versionText are the decimal texts of the API versions below 100, so
// that a message does not write its own.
var versionText = func() (t [100][]byte) {
	for v := range t {
		var b [8]byte
		t[v] = append([]byte(nil), decimal(&b, v)...)
	}
	return t
}()

// version returns the decimal text of API version v.
func (p *Parser) version(v int16) []byte {
	if v >= 0 && int(v) < len(versionText) {
		return versionText[v]
	}
	return decimal(&p.scratch().ver, int(v))
}

// pendPool holds the tables of requests in flight of parsers with none.
var pendPool = sync.Pool{New: func() any { return new([maxPending]pending) }}

// metaMap follows the topic entries of a Metadata response past MaxPeek,
// to map the ids of all its topics: taken from carryPool while mapping.
type metaMap struct {
	left  int // entries still to read
	ver   int16
	flex  bool
	carry []byte // the topic entry in progress, in buf
	buf   [metaCarry]byte
}

// Trailing reports whether the next bytes of dir are the rest of a
// message already returned (longer than Config.MaxPeek).
func (p *Parser) Trailing(dir l7.Direction) bool { return p.skip[dir&1] > 0 }

// Gap tells the parser that n bytes of dir were lost. A gap inside the
// skipped rest of a long message is absorbed; any other gap makes the
// direction look for the next plausible header: a request header (known
// API key and version, a client id that fits) toward the server, a
// response whose correlation id a pending request has toward the client.
func (p *Parser) Gap(dir l7.Direction, n int) {
	dir &= 1
	if dir == l7.ToClient {
		p.metaStop() // the topic entries after a hole cannot be followed
	}
	if n > 0 {
		p.off[dir] += int64(n)
		if int(p.skip[dir]) >= n {
			p.skip[dir] -= int32(n)
			return
		}
	}
	p.skip[dir] = 0
	p.resync[dir] = true
}

// Parse decodes one Kafka message from data: a request toward the server,
// a response toward the client. See the package documentation.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	dir &= 1
	if len(data) == 0 {
		return 0, false, l7.ErrNeedMore
	}
	if s := int(p.skip[dir]); s > 0 {
		k := min(s, len(data))
		if dir == l7.ToClient && p.mapping() {
			p.metaMore(data[:k])
		}
		p.skip[dir] -= int32(k)
		if p.skip[dir] == 0 && dir == l7.ToClient {
			p.metaStop()
		}
		p.off[dir] += int64(k)
		return k, false, nil
	}
	if p.resync[dir] {
		i, found := p.findHeader(data, dir)
		if i > 0 {
			p.off[dir] += int64(i)
			return i, false, nil
		}
		if !found {
			return 0, false, l7.ErrNeedMore
		}
		p.resync[dir] = false
	}
	if len(data) < 4 {
		return 0, false, l7.ErrNeedMore
	}
	size := int(int32(binary.BigEndian.Uint32(data)))
	hmin := requestHeaderMin
	if dir == l7.ToClient {
		hmin = responseHeaderMin
	}
	if size < hmin || size > p.d.cfg.MaxMessageSize {
		return p.fail(dir, ErrBadSize)
	}
	total := 4 + size
	avail := min(total, p.d.cfg.MaxPeek)
	if len(data) < avail {
		if dir == l7.ToServer && len(data) >= 4+requestHeaderMin && !p.plausibleRequest(data, total) {
			return p.fail(dir, ErrBadHeader)
		}
		return 0, false, l7.ErrNeedMore
	}
	if !p.decode(data[:avail], total, dir, m) {
		return p.fail(dir, ErrBadHeader)
	}
	p.skip[dir] = int32(total - avail)
	p.off[dir] += int64(avail)
	return avail, true, nil
}

// Flush decodes a message cut short by lost bytes or a snaplen from what
// is there, when at least its header is, and arranges to skip the rest
// (Gap absorbs the loss within it).
func (p *Parser) Flush(data []byte, dir l7.Direction, m *l7.Message) bool {
	dir &= 1
	if p.skip[dir] > 0 || p.resync[dir] || len(data) < 8 {
		return false
	}
	size := int(int32(binary.BigEndian.Uint32(data)))
	if size < responseHeaderMin || size > p.d.cfg.MaxMessageSize || len(data) >= 4+size {
		return false
	}
	if dir == l7.ToServer && (len(data) < 4+requestHeaderMin || !p.plausibleRequest(data, 4+size)) {
		return false
	}
	view := data[:min(len(data), p.d.cfg.MaxPeek)]
	if !p.decode(view, 4+size, dir, m) {
		return false
	}
	p.skip[dir] = int32(4 + size - len(view))
	p.off[dir] += int64(len(view))
	return true
}

// fail returns a parse error at the current offset of dir, consuming one
// byte: the search for the next header (after the Gap that follows) then
// starts past this one.
func (p *Parser) fail(dir l7.Direction, err error) (int, bool, error) {
	e := &l7.ParseError{Protocol: Name, Offset: p.off[dir], Err: err}
	p.off[dir]++
	return 1, false, e
}

// plausibleRequest checks a request header (at least 14 bytes of data)
// of a message total bytes long.
func (p *Parser) plausibleRequest(data []byte, total int) bool {
	key := int16(binary.BigEndian.Uint16(data[4:]))
	ver := int16(binary.BigEndian.Uint16(data[6:]))
	if key < 0 || int(key) >= len(apis)+32 || ver < 0 {
		return false
	}
	if int(key) < len(apis) && ver > apis[key].max+maxVersionParseSlack {
		return false
	}
	cl := int(int16(binary.BigEndian.Uint16(data[12:])))
	return cl >= -1 && 14+cl <= total
}

// findHeader returns the offset of the first plausible message start in
// data, or how many bytes may be dropped (found false) when there is
// none.
func (p *Parser) findHeader(data []byte, dir l7.Direction) (int, bool) {
	need := 4 + requestHeaderMin
	if dir == l7.ToClient {
		need = 4 + responseHeaderMin
	}
	for i := 0; i+need <= len(data); i++ {
		b := data[i:]
		size := int(int32(binary.BigEndian.Uint32(b)))
		if size < need-4 || size > p.d.cfg.MaxMessageSize {
			continue
		}
		if dir == l7.ToServer {
			// An empty client id is allowed by Check but not here:
			// runs of zeros inside a body would look like headers.
			corr := int32(binary.BigEndian.Uint32(b[8:]))
			if p.plausibleRequest(b, 4+size) && binary.BigEndian.Uint16(b[12:]) != 0 && p.nextCorr(corr) &&
				(isRequest(b) || p.closeCorr(b, corr)) {
				return i, true
			}
			continue
		}
		corr := int32(binary.BigEndian.Uint32(b[4:]))
		if p.pendIndex(corr) >= 0 {
			return i, true
		}
	}
	if len(data) < need {
		return 0, false
	}
	return len(data) - need + 1, false
}

// closeCorr reports whether a request header b that Check refuses for
// its client id (not printable ASCII) is still taken after a gap: one of a
// known API key and version whose correlation id follows the last
// request's closely (at most maxCloseCorr requests lost), as a client's
// next request does.
func (p *Parser) closeCorr(b []byte, corr int32) bool {
	key := int16(binary.BigEndian.Uint16(b[4:]))
	ver := int16(binary.BigEndian.Uint16(b[6:]))
	return p.hasLast && corr-p.lastCorr <= maxCloseCorr && known(key, ver)
}

// maxCloseCorr bounds the requests lost in a gap for closeCorr.
const maxCloseCorr = 64

// nextCorr reports whether corr can follow the last request's
// correlation id after lost requests: clients number a connection's
// requests upward one by one, so it is above it by at most 4096.
func (p *Parser) nextCorr(corr int32) bool {
	return !p.hasLast || (corr-p.lastCorr > 0 && corr-p.lastCorr <= 4096)
}

// isRequest reports whether b starts with a Kafka request as
// Decoder.Check judges it.
func isRequest(b []byte) bool {
	var d Decoder
	return d.Check(b, l7.ToServer, l7.TCP) == l7.Request
}

// decode fills m from view, the first bytes (all, or Config.MaxPeek) of a
// message total bytes long. It reports false for a request whose header
// cannot be right.
func (p *Parser) decode(view []byte, total int, dir l7.Direction, m *l7.Message) bool {
	p.cut = len(view) < total
	if dir == l7.ToServer {
		return p.request(view, total, m)
	}
	p.response(view, total, m)
	return true
}

func (p *Parser) request(b []byte, total int, m *l7.Message) bool {
	if !p.plausibleRequest(b, total) {
		return false
	}
	key := int16(binary.BigEndian.Uint16(b[4:]))
	ver := int16(binary.BigEndian.Uint16(b[6:]))
	corr := int32(binary.BigEndian.Uint32(b[8:]))
	r := reader{b: b, off: 12}
	r.str() // client id: classic encoding in every header version
	flex := Flexible(key, ver)
	r.flex = flex
	r.tags()
	if r.bad {
		return false
	}
	m.Kind = l7.KindRequest
	m.ID, m.HasID = uint64(uint32(corr)), true
	m.RequestID, m.HasRequestID = uint32(corr), true
	m.Length = total
	m.Version = p.version(ver)
	p.setType(key, m)
	noResp := false
	if known(key, ver) {
		body := reader{b: b, off: r.off, flex: flex}
		noResp = p.requestBody(&body, key, ver, m)
	}
	p.lastCorr, p.hasLast = corr, true
	if noResp {
		m.NoResponse = true
	} else {
		p.push(pending{corr: corr, key: key, ver: ver})
	}
	return true
}

func (p *Parser) response(b []byte, total int, m *l7.Message) {
	corr := int32(binary.BigEndian.Uint32(b[4:]))
	m.Kind = l7.KindResponse
	m.ID, m.HasID = uint64(uint32(corr)), true
	m.RequestID, m.HasRequestID = uint32(corr), true
	m.Length = total
	i := p.pendIndex(corr)
	if i < 0 {
		m.Status = l7.StatusUnknown
		return
	}
	req := p.take(i)
	m.Version = p.version(req.ver)
	p.setType(req.key, m)
	r := reader{b: b, off: 8, flex: responseHeaderFlexible(req.key, req.ver)}
	r.tags()
	r.flex = Flexible(req.key, req.ver)
	var e errs
	if known(req.key, req.ver) {
		p.responseBody(&r, req.key, req.ver, &e)
	}
	switch {
	case !e.has:
		m.Status = l7.StatusUnknown // no error code read: cannot be judged
	case e.code == 0:
		m.Status, m.Code, m.HasCode = l7.StatusOk, 0, true
	default:
		m.Status, m.Code, m.HasCode = l7.StatusServerError, int32(e.code), true
	}
}

// setType sets m's request type: the API name of key, or the decimal key
// for a key beyond the table.
func (p *Parser) setType(key int16, m *l7.Message) {
	if key >= 0 && int(key) < len(apiNames) {
		m.RequestType = apiNames[key]
	} else {
		m.RequestType = decimal(&p.scratch().keyName, int(key))
	}
}

// known reports whether the bodies of API key at version ver have a
// known layout; those of newer versions are not read.
func known(key, ver int16) bool {
	return key >= 0 && int(key) < len(apis) && ver <= apis[key].max
}

// at returns the pending request at position i (from the oldest).
func (p *Parser) at(i int) *pending {
	if p.pend == nil {
		return &p.inl[(int(p.pendHd)+i)%len(p.inl)]
	}
	return &p.pend[(int(p.pendHd)+i)%maxPending]
}

// push remembers a request; the oldest is forgotten when maxPending wait.
func (p *Parser) push(q pending) {
	if p.pendLen == maxPending {
		p.pendHd = uint8((int(p.pendHd) + 1) % maxPending)
		p.pendLen--
	}
	if p.pend == nil && int(p.pendLen) == len(p.inl) {
		t := pendPool.Get().(*[maxPending]pending)
		for i := range p.inl {
			t[i] = *p.at(i)
		}
		p.pend, p.pendHd = t, 0
	}
	p.pendLen++
	*p.at(int(p.pendLen) - 1) = q
}

// pendIndex returns the position (from the oldest) of the pending request
// with correlation id corr, or -1.
func (p *Parser) pendIndex(corr int32) int {
	for i := 0; i < int(p.pendLen); i++ {
		if p.at(i).corr == corr {
			return i
		}
	}
	return -1
}

// take removes and returns the pending request at position i, and the
// older ones with it: a broker answers a connection's requests in order,
// so theirs were lost.
func (p *Parser) take(i int) pending {
	q := *p.at(i)
	n := len(p.inl)
	if p.pend != nil {
		n = maxPending
	}
	p.pendHd = uint8((int(p.pendHd) + i + 1) % n)
	p.pendLen -= uint8(i + 1)
	return q
}

// decimal writes v (0 ≤ v < 10⁷) in decimal into buf.
func decimal(buf *[8]byte, v int) []byte {
	i := len(buf)
	if v < 0 {
		v = 0
	}
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 || i == 1 {
			break
		}
	}
	return buf[i:]
}
