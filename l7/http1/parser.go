package http1

import (
	"bytes"
	"sync"

	"github.com/metaflow-go/metaflow/internal/trace"
	"github.com/metaflow-go/metaflow/l7"
)

// state is where one direction of a connection stands.
type state uint8

const (
	stStart      state = iota // expecting a start line
	stBody                    // inside a Content-Length body: remain bytes left
	stChunkSize               // expecting a chunk-size line
	stChunkData               // inside a chunk: remain bytes left
	stChunkCRLF               // expecting the CRLF after a chunk
	stTrailer                 // inside the trailer section of a chunked body
	stUntilClose              // a response body delimited by the connection's end
	stResync                  // lost: looking for the next start line
)

// stream is the state of one direction.
type stream struct {
	remain    int64 // bytes left in a body or chunk
	off       int64 // stream offset of the next byte Parse sees
	messages  uint64
	malformed uint64
	state     state
	midLine   bool // in stResync: the next byte is not at a line start
	broken    bool // in stUntilClose: after broken framing, not a real body
}

// Stats counts what a Parser saw. Counters only grow.
type Stats struct {
	Requests   uint64 // requests emitted
	Responses  uint64 // final responses emitted
	Interim    uint64 // 1xx interim responses consumed without a message
	Malformed  uint64 // parse errors returned
	Unanswered uint64 // request methods forgotten because too many were pending
	Unmatched  uint64 // responses seen with no pending request (capture started late)
	Skipped    uint64 // bytes skipped without a message: resynchronising, or after broken framing
}

// Parser is the per-flow state of the HTTP/1.x decoder. It is not safe for
// concurrent use. Its zero value is not usable; get one from
// Decoder.NewParser.
type Parser struct {
	s     [2]stream
	stats Stats

	// Per-message buffers, taken from scratchPool for a header block and
	// given back by Idle: most of a parser's memory, needed only while a
	// message is decoded and used.
	sc *scratch

	maxHeader int32 // Config.MaxHeaderBytes (at most 1 MiB)
	segments  int32 // Config.EndpointSegments

	// Methods of requests waiting for their response, oldest first.
	pending [pendingCap]method
	pHead   uint8
	pLen    uint8

	stop bool // a protocol switch happened: ErrStop from now on
	cut  bool // in Flush: the header block ends where the bytes end
}

// scratch holds the values of one message that are built rather than
// aliased, and its header fields.
type scratch struct {
	fold  [foldBufSize]byte
	foldN int
	tb    trace.Buf // decoded sw8 ids
	h     headers
}

// scratchPool holds the scratch of idle parsers, shared by every parser
// (the engines of several shards included).
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Idle implements l7.Idler: the parser gives its scratch back to the pool,
// since no message it filled is in use any more. An idle keep-alive
// connection's parser then holds about 300 bytes instead of 1.8 KB.
func (p *Parser) Idle() {
	if p.sc != nil {
		scratchPool.Put(p.sc)
		p.sc = nil
	}
}

// Reset implements l7.Resetter: the parser becomes what NewParser returns
// (the engine reuses parsers of ended flows).
func (p *Parser) Reset(l7.Transport) {
	p.Idle()
	*p = Parser{maxHeader: p.maxHeader, segments: p.segments}
}

// Stats returns the Parser's counters.
func (p *Parser) Stats() Stats { return p.stats }

// Gap tells the parser that n bytes of direction dir were lost. A gap that
// falls inside a body of known length is absorbed; any other gap makes the
// direction look for the next start line.
func (p *Parser) Gap(dir l7.Direction, n int) {
	s := &p.s[dir&1]
	if n == 0 {
		return // nothing lost; an error already started a resync
	}
	if n > 0 {
		s.off += int64(n)
	}
	switch s.state {
	case stBody, stChunkData:
		if n >= 0 && int64(n) < s.remain {
			s.remain -= int64(n)
			return
		}
	case stUntilClose:
		return
	}
	s.state = stResync
	s.midLine = true
}

// Parse decodes at most one message, or skips body bytes, from the start
// of data. See l7.Parser for the contract.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	if p.stop {
		return 0, false, l7.ErrStop
	}
	s := &p.s[dir&1]
	n, ok, err := p.parse(s, data, m)
	s.off += int64(n)
	if err != nil && err != l7.ErrNeedMore {
		p.stats.Malformed++
	}
	return n, ok, err
}

func (p *Parser) fail(s *stream, at int, err error) error {
	s.state = stResync
	s.midLine = false
	return &l7.ParseError{Protocol: Name, Offset: s.off + int64(at), Err: err}
}

// failBody reports broken body framing. The rest of the direction cannot
// be framed: guessing message starts inside a body that lies about its
// length is how requests are smuggled, so the direction is skipped to the
// end of the connection instead.
func (p *Parser) failBody(s *stream, err error) error {
	s.state, s.broken = stUntilClose, true
	return &l7.ParseError{Protocol: Name, Offset: s.off, Err: err}
}

func (p *Parser) parse(s *stream, data []byte, m *l7.Message) (int, bool, error) {
	if len(data) == 0 {
		return 0, false, l7.ErrNeedMore
	}
	switch s.state {
	case stBody, stChunkData:
		k := int64(len(data))
		if k > s.remain {
			k = s.remain
		}
		s.remain -= k
		if s.remain == 0 {
			if s.state == stBody {
				s.state = stStart
			} else {
				s.state = stChunkCRLF
			}
		}
		return int(k), false, nil
	case stUntilClose:
		if s.broken {
			p.stats.Skipped += uint64(len(data))
		}
		return len(data), false, nil
	case stChunkSize:
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(data) > maxChunkLine {
				return len(data), false, p.failBody(s, ErrBadChunk)
			}
			return 0, false, l7.ErrNeedMore
		}
		size, ok := parseChunkSize(trimCR(data[:i]))
		if !ok {
			return i + 1, false, p.failBody(s, ErrBadChunk)
		}
		if size == 0 {
			s.state = stTrailer
		} else {
			s.state, s.remain = stChunkData, size
		}
		return i + 1, false, nil
	case stChunkCRLF:
		switch {
		case data[0] == '\n':
			s.state = stChunkSize
			return 1, false, nil
		case data[0] == '\r' && len(data) == 1:
			return 0, false, l7.ErrNeedMore
		case data[0] == '\r' && data[1] == '\n':
			s.state = stChunkSize
			return 2, false, nil
		}
		return 0, false, p.failBody(s, ErrBadChunk)
	case stTrailer:
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(data) >= int(p.maxHeader) {
				return len(data), false, p.fail(s, 0, ErrHeaderTooLarge)
			}
			return 0, false, l7.ErrNeedMore
		}
		if len(trimCR(data[:i])) == 0 {
			s.state = stStart
		}
		return i + 1, false, nil
	case stResync:
		n, ok, err := p.resync(s, data, m)
		if !ok && err == nil {
			p.stats.Skipped += uint64(n)
		}
		return n, ok, err
	}
	return p.message(s, data, m)
}

// resync skips to the next line that starts a request or a response.
func (p *Parser) resync(s *stream, data []byte, m *l7.Message) (int, bool, error) {
	pos := 0
	if s.midLine {
		// A hole that ended on a message boundary: the bytes after it
		// start a message.
		switch candidate(data) {
		case 1:
			s.midLine = false
			s.state = stStart
			return p.message(s, data, m)
		case -1:
			return 0, false, l7.ErrNeedMore
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return len(data), false, nil
		}
		pos = i + 1
		s.midLine = false
	}
	for pos < len(data) {
		switch candidate(data[pos:]) {
		case 1:
			if pos > 0 {
				return pos, false, nil
			}
			s.state = stStart
			return p.message(s, data, m)
		case -1:
			if pos > 0 {
				return pos, false, nil
			}
			return 0, false, l7.ErrNeedMore
		}
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			s.midLine = true
			return len(data), false, nil
		}
		pos += i + 1
	}
	return pos, false, nil
}

// candidate reports whether b starts like a message: 1 yes, 0 no, -1 too
// short to tell.
func candidate(b []byte) int {
	if isStatusLine(b) {
		return 1
	}
	n := methodLen(b)
	if n < len(b) {
		if n > 0 && b[n] == ' ' && methodKind(b[:n]) != methodUnknown {
			return 1
		}
		return 0
	}
	if len(b) < 16 {
		return -1
	}
	return 0
}

// message parses a start line and header block at the start of data.
func (p *Parser) message(s *stream, data []byte, m *l7.Message) (int, bool, error) {
	// Empty lines before a start line are allowed (RFC 9112, 2.2).
	k := 0
	for k < len(data) && (data[k] == '\r' || data[k] == '\n') {
		k++
	}
	if k > 0 {
		return k, false, nil
	}
	eol := bytes.IndexByte(data, '\n')
	if eol < 0 {
		if len(data) >= int(p.maxHeader) {
			return len(data), false, p.fail(s, 0, ErrHeaderTooLarge)
		}
		return 0, false, l7.ErrNeedMore
	}
	line := trimCR(data[:eol])
	if isStatusLine(line) {
		return p.response(s, data, eol+1, line, m)
	}
	return p.request(s, data, eol+1, line, m)
}

func (p *Parser) request(s *stream, data []byte, hdr int, line []byte, m *l7.Message) (int, bool, error) {
	// method SP target [SP HTTP/x.y]; a bare registered method is taken as
	// a request with an empty target, as Wireshark does.
	n := tokenLen(line)
	if n == 0 || (n < len(line) && line[n] != ' ') {
		return hdr, false, p.fail(s, 0, ErrBadStartLine)
	}
	meth := line[:n]
	kind := methodKind(meth)
	if n == len(line) && kind == methodUnknown {
		return hdr, false, p.fail(s, 0, ErrBadStartLine)
	}
	var target, version []byte
	if n < len(line) {
		rest := line[n+1:]
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			target = rest
		} else {
			target = rest[:sp]
			v := trimOWS(rest[sp+1:])
			if len(v) < 5 || string(v[:5]) != "HTTP/" {
				return hdr, false, p.fail(s, 0, ErrBadStartLine)
			}
			version = v[5:]
		}
	}
	end, cl, hasCL, err := p.headerBlock(s, data, hdr)
	if err != nil {
		return end, false, err
	}
	h := &p.sc.h
	switch {
	case isChunked(h.v[hTransferEncoding]):
		s.state = stChunkSize
	case hasCL && cl > 0:
		s.state, s.remain = stBody, cl
	default:
		s.state = stStart
	}
	if kind == methodUnknown {
		kind = methodOther
	}
	p.push(kind)

	m.Kind = l7.KindRequest
	m.Version = version
	m.RequestType = meth
	m.RequestResource = target
	m.Endpoint, m.RequestDomain = splitTarget(target)
	if p.segments > 0 {
		m.Endpoint = firstSegments(m.Endpoint, int(p.segments))
	}
	if len(h.v[hHost]) > 0 {
		m.RequestDomain = h.v[hHost]
	}
	m.Length = -1
	if hasCL {
		m.Length = clampInt(cl)
	}
	p.fillCommon(m)
	p.stats.Requests++
	s.messages++
	return end, true, nil
}

func (p *Parser) response(s *stream, data []byte, hdr int, line []byte, m *l7.Message) (int, bool, error) {
	// HTTP/1.x SP 3DIGIT [SP reason]
	rest := line[5:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return hdr, false, p.fail(s, 0, ErrBadStartLine)
	}
	version := rest[:sp]
	rest = trimOWS(rest[sp+1:])
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) ||
		(len(rest) > 3 && rest[3] != ' ') {
		return hdr, false, p.fail(s, 0, ErrBadStartLine)
	}
	code := int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	var reason []byte
	if len(rest) > 4 {
		reason = rest[4:]
	}
	end, cl, hasCL, err := p.headerBlock(s, data, hdr)
	if err != nil {
		return end, false, err
	}
	h := &p.sc.h
	if code >= 100 && code < 200 && code != 101 {
		// Interim response: consumed without a message (see doc.go).
		s.state = stStart
		p.stats.Interim++
		return end, false, nil
	}
	req := p.pop()
	switch {
	case code == 101, req == methodConnect && code >= 200 && code < 300:
		p.stop = true
		s.state = stStart
	case req == methodHead, code < 200, code == 204, code == 304:
		s.state = stStart
	case isChunked(h.v[hTransferEncoding]):
		s.state = stChunkSize
	case hasCL && cl > 0:
		s.state, s.remain = stBody, cl
	case hasCL:
		s.state = stStart
	default:
		s.state, s.broken = stUntilClose, false
	}

	m.Kind = l7.KindResponse
	m.Version = version
	m.Code, m.HasCode = int32(code), true
	switch {
	case code >= 500 && code < 600:
		m.Status = l7.StatusServerError
	case code >= 400 && code < 500:
		m.Status = l7.StatusClientError
	case code >= 100 && code < 400:
		m.Status = l7.StatusOk
	default:
		m.Status = l7.StatusUnknown
	}
	if code >= 400 || code < 100 {
		m.Exception = reason
	}
	m.Length = -1
	if hasCL {
		m.Length = clampInt(cl)
	}
	p.fillCommon(m)
	p.stats.Responses++
	s.messages++
	return end, true, nil
}

// headerBlock reads the header lines that follow a start line ending at
// hdr, and the Content-Length among them. It returns the end of the block,
// or an error: ErrNeedMore when the block is incomplete, a parse error
// (the direction resynchronises) for a malformed block, and a framing error
// (the rest of the direction is skipped) for a bad Content-Length.
func (p *Parser) headerBlock(s *stream, data []byte, hdr int) (end int, cl int64, hasCL bool, err error) {
	end, err = p.headers(data, hdr)
	if err != nil {
		return end, 0, false, p.fail(s, 0, err)
	}
	if end == 0 {
		return 0, 0, false, l7.ErrNeedMore
	}
	cl, hasCL, ok := parseContentLength(p.sc.h.v[hContentLength])
	if !ok {
		return end, 0, false, p.failBody(s, ErrBadContentLength)
	}
	return end, cl, hasCL, nil
}

// fillCommon copies the tracing headers of p.sc.h into m: traceparent first,
// else sw8 (internal/trace reads both, as for the other decoders).
func (p *Parser) fillCommon(m *l7.Message) {
	h := &p.sc.h
	m.UserAgent = h.v[hUserAgent]
	m.XRequestID = h.v[hXRequestID]
	if tp := h.v[hTraceparent]; len(tp) > 0 {
		if ids, ok := trace.ParseTraceparent(tp); ok {
			m.TraceID, m.SpanID = ids.TraceID, ids.SpanID
			return
		}
	}
	if sw := h.v[hSW8]; len(sw) > 0 {
		if ids, ok := trace.ParseSW8(sw, &p.sc.tb); ok {
			m.TraceID, m.SpanID = ids.TraceID, ids.SpanID
		}
	}
}

// push records the method of a request waiting for its response.
func (p *Parser) push(k method) {
	if p.pLen == pendingCap {
		p.pHead = (p.pHead + 1) % pendingCap
		p.pLen--
		p.stats.Unanswered++
	}
	p.pending[(p.pHead+p.pLen)%pendingCap] = k
	p.pLen++
}

// pop returns the method of the oldest request waiting for a response, or
// methodOther when none is known.
func (p *Parser) pop() method {
	if p.pLen == 0 {
		p.stats.Unmatched++
		return methodOther
	}
	k := p.pending[p.pHead]
	p.pHead = (p.pHead + 1) % pendingCap
	p.pLen--
	return k
}
