package http2

import (
	"bytes"
	"sync"

	"github.com/metaflow-go/metaflow/internal/ascii"
	"github.com/metaflow-go/metaflow/internal/trace"
	"github.com/metaflow-go/metaflow/l7"
)

// Stats counts what a Parser met that records do not show.
type Stats struct {
	Frames         uint64 // frames read
	StreamsDropped uint64 // streams dropped past Config.MaxStreams
	UnknownFields  uint64 // header fields referring to HPACK entries never seen
	HPACKErrors    uint64 // header blocks that broke HPACK's grammar
	BadFrames      uint64 // frames skipped as malformed (bad padding, stray CONTINUATION, oversized block)
	Resyncs        uint64 // times the parser looked for a frame boundary after lost bytes
	Resets         uint64 // RST_STREAM frames
	GoAways        uint64 // GOAWAY frames
	Misdirected    uint64 // request headers sent by the server or response headers by the client, ignored
}

// Direction modes.
const (
	modeStart  uint8 = iota // before the preface, an h2c upgrade or the first frame
	modeFrames              // frame by frame
	modeResync              // looking for a frame boundary after lost bytes
	modeStop                // an h2c upgrade the server refused: HTTP/1.1 follows
	// modeUpgrade: the server's side before its first bytes, when the
	// client asked for h2c in HTTP/1.1: they are an HTTP/1.1 status line.
	modeUpgrade
)

// stream is the state of one stream between its request and its response.
//
// It is 32 bytes: most connections idle with a stream or two in flight
// (a gRPC stream, a request awaiting its response) hold nothing else but
// their parser and tables.
type stream struct {
	id      uint32
	age     uint32
	status  int32 // :status of those headers, or -1
	grpc    bool  // the request or the response said application/grpc
	resp    bool  // response headers seen (a gRPC call waits for its trailers)
	xridN   uint8
	respLen int // DATA bytes of the response
	// xrid holds the x-request-id of a gRPC call's response headers
	// (xridN bytes) until its trailers: taken from xridPool, given back
	// when the stream is dropped (dropXrid).
	xrid *[64]byte
}

// xridPool holds the x-request-id buffers of streams.
var xridPool = sync.Pool{New: func() any { return new([64]byte) }}

// setXrid keeps v (cut to 64 bytes) as the stream's x-request-id.
func (s *stream) setXrid(v []byte) {
	if len(v) == 0 {
		s.dropXrid()
		return
	}
	if s.xrid == nil {
		s.xrid = xridPool.Get().(*[64]byte)
	}
	s.xridN = uint8(copy(s.xrid[:], v))
}

// dropXrid gives the stream's x-request-id buffer back.
func (s *stream) dropXrid() {
	if s.xrid != nil {
		xridPool.Put(s.xrid)
		s.xrid = nil
	}
	s.xridN = 0
}

// fields holds the header fields of one block that the decoder reads.
// Values are in dirScratch.vals.
type fields struct {
	method, path, authority, host, status, ctype []byte
	grpcStatus, grpcMessage, agent, clen, xrid   []byte
	traceparent, sw8, b3, b3t, b3s, b3p          []byte
	unknown                                      int // fields whose name is unknown
}

// dirState is one direction's state between messages.
type dirState struct {
	hp hpackDecoder

	mode uint8
	// inBlock: a header block split over CONTINUATION frames is being
	// read (its bytes and header in dirScratch, which the parser keeps
	// meanwhile).
	inBlock bool

	skip int32 // DATA payload bytes still to skip
}

// dirScratch is one direction's memory for the message being decoded and
// the Message filled from it.
type dirScratch struct {
	f     fields
	vals  []byte    // the values of f and of the Message
	tb    trace.Buf // trace ids built for the Message
	block []byte    // a header block split over CONTINUATION frames
	// Of that block (dirState.inBlock): its HEADERS or PUSH_PROMISE
	// frame's flags and stream, and the promised stream.
	bFlags   uint8
	bStream  uint32
	bPromise uint32
	hs       byteSink // HPACK's decoded strings
	// allValues makes wants say yes to every field (Config.allValues).
	allValues bool
}

// scratch is a parser's memory needed only while it decodes and while
// the Messages it filled are in use: most of its memory. The parser takes
// one from scratchPool for a message and gives it back when the engine
// says it is idle (Idle), so that idle connections hold none.
type scratch struct {
	dirs [2]dirScratch
	// streams is the memory of a stream table, carried here while
	// its parser is idle with no stream in flight.
	streams []stream
}

// scratchPool holds the scratch of idle parsers, shared by every parser
// (the engines of several shards included).
// A new scratch brings a stream table for a few concurrent streams, as
// most connections carry.
var scratchPool = sync.Pool{New: func() any { return &scratch{streams: make([]stream, 0, 4)} }}

// maxPooledBuf bounds a buffer a scratch keeps in the pool: a rare huge
// header block or value does not stay pinned there.
const maxPooledBuf = 16 << 10

// maxValue bounds a header value kept.
const maxValue = 8 << 10

// counts are the parser's counters (Stats), 32 bits each to keep the
// parser small: they wrap after 2^32 of one connection's.
type counts struct {
	frames, streamsDropped, unknownFields, hpackErrors, badFrames uint32
	resyncs, resets, goAways, misdirected                         uint32
}

// Parser decodes the frames of one HTTP/2 connection. It is not safe for
// concurrent use.
//
// An idle connection's parser is a 192-byte object (TestParser_size),
// with its HPACK tables packed, the stream table when streams are in
// flight, and no scratch.
type Parser struct {
	cfg     *Config
	dirs    [2]dirState
	streams []stream // active streams, unordered
	sc      *scratch // nil while idle
	stats   counts
	age     uint32 // streams started (stream ids are 31 bits)
}

func newParser(cfg *Config) *Parser {
	// Streams, header values and the HPACK tables' rings come with the
	// scratch of the first message (most connections carry a few
	// concurrent streams and small tables): a parser starts small.
	p := &Parser{cfg: cfg}
	for i := range p.dirs {
		p.dirs[i].hp.init(cfg.MaxTableSize)
	}
	return p
}

var _ l7.Idler = (*Parser)(nil)

// Idle implements l7.Idler: no Message the parser filled is in use, so it
// gives its scratch back to the pool (a header block still waiting for
// its CONTINUATION frames keeps it), with the stream table's memory when
// no stream is in flight, and packs each HPACK dynamic table into one
// exact slice, giving its ring back (the next header block lays it out
// again). What must survive between messages stays: the streams in
// flight, the tables' entries, the frame state.
func (p *Parser) Idle() {
	for i := range p.dirs {
		p.dirs[i].hp.idle()
	}
	if p.dirs[0].inBlock || p.dirs[1].inBlock {
		return
	}
	p.putScratch()
}

// take returns the parser's scratch, taking one from the pool when it has
// none, and gives the stream table the memory the scratch carries when
// it has none.
func (p *Parser) take() *scratch {
	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	if p.streams == nil && p.sc.streams != nil {
		p.streams, p.sc.streams = p.sc.streams[:0], nil
	}
	return p.sc
}

// dirScratch returns direction dir's scratch.
func (p *Parser) dirScratch(dir l7.Direction) *dirScratch {
	return &p.take().dirs[dir&1]
}

// putScratch gives the scratch back to the pool, with the stream table's
// memory when no stream is in flight.
func (p *Parser) putScratch() {
	sc := p.sc
	if sc == nil {
		return
	}
	if len(p.streams) == 0 {
		if sc.streams == nil && cap(p.streams) > 0 {
			sc.streams = p.streams[:0]
		}
		p.streams = nil
	}
	for i := range sc.dirs {
		ds := &sc.dirs[i]
		// The fields may point into the engine's buffers: a pooled
		// scratch does not keep those.
		ds.f = fields{}
		if cap(ds.vals) > maxPooledBuf {
			ds.vals = nil
		}
		if cap(ds.block) > maxPooledBuf {
			ds.block = nil
		}
		if cap(ds.hs.b) > maxPooledBuf {
			ds.hs.b = nil
		}
	}
	p.sc = nil
	scratchPool.Put(sc)
}

// Stats returns the parser's counters.
func (p *Parser) Stats() Stats {
	c := &p.stats
	return Stats{Frames: uint64(c.frames), StreamsDropped: uint64(c.streamsDropped),
		UnknownFields: uint64(c.unknownFields), HPACKErrors: uint64(c.hpackErrors),
		BadFrames: uint64(c.badFrames), Resyncs: uint64(c.resyncs), Resets: uint64(c.resets),
		GoAways: uint64(c.goAways), Misdirected: uint64(c.misdirected)}
}

// Trailing reports true: bytes that complete no message (connection
// frames, DATA, response headers of a gRPC call waiting for its trailers)
// do not start the next one, so a record's time and sequence number are
// those of the frame that completes its message.
func (p *Parser) Trailing(dir l7.Direction) bool { return true }

var (
	version2  = []byte("2")
	postBytes = []byte("POST")
)

// Parse decodes at most one message from data: the frame at its start,
// the connection preface, or the HTTP/1.1 bytes of an h2c upgrade. A DATA
// frame's payload is skipped without buffering it.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	dir &= 1
	d := &p.dirs[dir]
	if d.skip > 0 {
		k := min(int(d.skip), len(data))
		d.skip -= int32(k)
		return k, false, nil
	}
	switch d.mode {
	case modeStart, modeUpgrade:
		return p.start(data, dir, m)
	case modeResync:
		return p.resync(data, dir, m)
	case modeStop:
		return 0, false, l7.ErrStop
	}
	return p.frame(data, dir, m)
}

// Gap drops partial state after lost bytes. Bytes lost inside a DATA
// payload keep the frame boundaries; otherwise the parser looks for the
// next frame and forgets the direction's HPACK table, whose later
// references to entries inserted before come out unknown.
func (p *Parser) Gap(dir l7.Direction, n int) {
	d := &p.dirs[dir&1]
	if n > 0 && int(d.skip) >= n && !d.inBlock {
		d.skip -= int32(n)
		return
	}
	if d.mode == modeStop {
		return
	}
	d.skip = 0
	d.inBlock = false
	d.hp.forget()
	d.mode = modeResync
}

// Flush decodes a HEADERS frame cut short (snaplen, loss): the fields
// before the cut make the message.
func (p *Parser) Flush(data []byte, dir l7.Direction, m *l7.Message) bool {
	dir &= 1
	d := &p.dirs[dir]
	if d.mode != modeFrames || d.skip > 0 || d.inBlock || len(data) < frameHeaderLen {
		return false
	}
	h := readFrameHeader(data)
	if h.typ != frameHeaders || h.stream == 0 || int(h.length)+frameHeaderLen <= len(data) {
		return false
	}
	p.stats.frames++
	frag := data[frameHeaderLen:]
	if h.flags&flagPadded != 0 {
		if len(frag) == 0 {
			return false
		}
		frag = frag[1:]
	}
	if h.flags&flagPriority != 0 {
		if len(frag) < 5 {
			return false
		}
		frag = frag[5:]
	}
	return p.headerBlock(dir, h.stream, 0, h.flags, frag, m)
}

// start handles the first bytes of a direction.
func (p *Parser) start(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := &p.dirs[dir]
	if len(data) == 0 {
		return 0, false, l7.ErrNeedMore
	}
	if dir == l7.ToServer {
		n := min(len(data), len(preface))
		if string(data[:n]) == preface[:n] {
			if n < len(preface) {
				return 0, false, l7.ErrNeedMore
			}
			d.mode = modeFrames
			return len(preface), false, nil
		}
		if data[0] >= 'A' && data[0] <= 'Z' {
			return p.upgradeRequest(data, m)
		}
	} else if data[0] == 'H' && d.mode == modeUpgrade {
		const v = "HTTP/1."
		n := min(len(data), len(v))
		if string(data[:n]) == v[:n] {
			return p.upgradeResponse(data, m)
		}
	}
	d.mode = modeFrames
	return p.frame(data, dir, m)
}

// headerEnd returns the offset past the blank line ending an HTTP/1.1
// header block, 0 when it is not there yet, or -1 when it is too long.
func (p *Parser) headerEnd(data []byte) int {
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if len(data) >= p.cfg.MaxHeaderBlock {
		return -1
	}
	return 0
}

// upgradeRequest decodes an HTTP/1.1 request asking for h2c: it is the
// request of stream 1 (RFC 7540, 3.2). The client's connection preface
// follows it.
func (p *Parser) upgradeRequest(data []byte, m *l7.Message) (int, bool, error) {
	end := p.headerEnd(data)
	if end < 0 {
		p.dirs[l7.ToServer].mode = modeResync
		return len(data), false, &l7.ParseError{Protocol: Name, Err: ErrUpgrade}
	}
	if end == 0 {
		return 0, false, l7.ErrNeedMore
	}
	block := data[:end-4]
	line, rest, _ := bytes.Cut(block, []byte("\r\n"))
	method, line, ok1 := bytes.Cut(line, []byte(" "))
	target, _, ok2 := bytes.Cut(line, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 {
		p.dirs[l7.ToServer].mode = modeResync
		return end, false, &l7.ParseError{Protocol: Name, Err: ErrUpgrade}
	}
	var host, agent, xrid []byte
	clen := -1
	upgrade := false
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case ascii.EqualFoldLower(name, "host"):
			host = value
		case ascii.EqualFoldLower(name, "user-agent"):
			agent = value
		case ascii.EqualFoldLower(name, "x-request-id"):
			xrid = value
		case ascii.EqualFoldLower(name, "content-length"):
			clen = atoi(value)
		case ascii.EqualFoldLower(name, "upgrade"):
			upgrade = upgrade || hasToken(value, "h2c")
		}
	}
	if !upgrade {
		// HTTP/1.1 without an h2c upgrade is not this decoder's.
		p.dirs[0].mode, p.dirs[1].mode = modeStop, modeStop
		return 0, false, l7.ErrStop
	}
	if c := &p.dirs[l7.ToClient]; c.mode == modeStart {
		c.mode = modeUpgrade
	}
	p.newStream(1)
	m.Kind = l7.KindRequest
	m.ID, m.HasID = 1, true
	m.RequestID, m.HasRequestID = 1, true
	m.Version = version2
	m.RequestType = method
	m.RequestDomain = host
	m.RequestResource = target
	m.Endpoint = cutQuery(target)
	m.UserAgent = agent
	m.XRequestID = xrid
	m.Length = clen
	if clen > 0 {
		p.dirs[l7.ToServer].skip = int32(clen)
	}
	return end, true, nil
}

// upgradeResponse reads the server's answer to an h2c upgrade: "101
// Switching Protocols" is followed by frames; any other status answers
// stream 1 in HTTP/1.1, and the flow is HTTP/1.1 from then on.
func (p *Parser) upgradeResponse(data []byte, m *l7.Message) (int, bool, error) {
	d := &p.dirs[l7.ToClient]
	end := p.headerEnd(data)
	if end < 0 {
		d.mode = modeResync
		return len(data), false, &l7.ParseError{Protocol: Name, Err: ErrUpgrade}
	}
	if end == 0 {
		return 0, false, l7.ErrNeedMore
	}
	code := -1
	if len(data) >= 12 && data[8] == ' ' {
		code = atoi(data[9:12])
	}
	if code == 101 {
		d.mode = modeFrames
		return end, false, nil
	}
	d.mode = modeStop
	p.dirs[l7.ToServer].mode = modeStop
	p.dropStream(1)
	m.Kind = l7.KindResponse
	m.ID, m.HasID = 1, true
	m.RequestID, m.HasRequestID = 1, true
	m.Version = version2
	m.Length = -1
	if code >= 0 {
		m.Code, m.HasCode = int32(code), true
		m.Status = httpStatus(code)
	} else {
		m.Status = l7.StatusUnknown
	}
	return end, true, nil
}

// frame decodes the frame at the start of data.
func (p *Parser) frame(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := &p.dirs[dir]
	if len(data) < frameHeaderLen {
		return 0, false, l7.ErrNeedMore
	}
	h := readFrameHeader(data)
	if h.typ == frameData {
		p.stats.frames++
		k := min(len(data)-frameHeaderLen, int(h.length))
		d.skip = int32(int(h.length) - k)
		return frameHeaderLen + k, p.data(h, dir, m), nil
	}
	n := frameHeaderLen + int(h.length)
	if len(data) < n {
		return 0, false, l7.ErrNeedMore
	}
	p.stats.frames++
	payload := data[frameHeaderLen:n]
	if d.inBlock && h.typ != frameContinuation {
		// RFC 9113 forbids any frame inside a header block.
		p.badBlock(d)
	}
	switch h.typ {
	case frameHeaders, framePushPromise:
		frag, promised, ok := fragment(h, payload)
		if !ok || h.stream == 0 {
			p.stats.badFrames++
			d.hp.forget()
			return n, false, nil
		}
		if h.flags&flagEndHeaders != 0 {
			return n, p.headerBlock(dir, h.stream, promised, h.flags, frag, m), nil
		}
		if len(frag) > p.cfg.MaxHeaderBlock {
			p.badBlock(d)
			return n, false, nil
		}
		ds := p.dirScratch(dir)
		ds.block = append(ds.block[:0], frag...)
		d.inBlock, ds.bStream, ds.bPromise, ds.bFlags = true, h.stream, promised, h.flags
	case frameContinuation:
		if !d.inBlock {
			p.stats.badFrames++
			return n, false, nil
		}
		ds := p.dirScratch(dir) // kept while d.inBlock
		if h.stream != ds.bStream {
			p.stats.badFrames++
			return n, false, nil
		}
		if len(ds.block)+len(payload) > p.cfg.MaxHeaderBlock {
			p.badBlock(d)
			return n, false, nil
		}
		ds.block = append(ds.block, payload...)
		if h.flags&flagEndHeaders != 0 {
			d.inBlock = false
			return n, p.headerBlock(dir, ds.bStream, ds.bPromise, ds.bFlags, ds.block, m), nil
		}
	case frameRSTStream:
		p.stats.resets++
		if len(payload) == 4 {
			code := uint32(payload[0])<<24 | uint32(payload[1])<<16 | uint32(payload[2])<<8 | uint32(payload[3])
			return n, p.reset(h.stream, code, dir, m), nil
		}
	case frameGoAway:
		p.stats.goAways++
	}
	return n, false, nil
}

// badBlock drops a header block that cannot be decoded; the table's
// insertions in it are lost with it.
func (p *Parser) badBlock(d *dirState) {
	p.stats.badFrames++
	d.inBlock = false
	d.hp.forget()
}

// fragment returns the header block fragment of a HEADERS or PUSH_PROMISE
// payload, and the promised stream of the latter.
func fragment(h frameHeader, p []byte) (frag []byte, promised uint32, ok bool) {
	pad := 0
	if h.flags&flagPadded != 0 {
		if len(p) == 0 {
			return nil, 0, false
		}
		pad = int(p[0])
		p = p[1:]
	}
	if h.typ == framePushPromise {
		if len(p) < 4 {
			return nil, 0, false
		}
		promised = (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])) & 0x7fffffff
		p = p[4:]
		if promised == 0 {
			return nil, 0, false
		}
	} else if h.flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, 0, false
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, 0, false
	}
	return p[:len(p)-pad], promised, true
}

// data handles a DATA frame header: the response length of a stream, and
// the end of a gRPC call that ends without trailers.
func (p *Parser) data(h frameHeader, dir l7.Direction, m *l7.Message) bool {
	if dir != l7.ToClient {
		return false
	}
	s := p.find(h.stream)
	if s == nil {
		return false
	}
	s.respLen += int(h.length)
	if h.flags&flagEndStream == 0 || !s.resp {
		return false
	}
	ds := p.dirScratch(dir)
	ds.f = fields{}
	ds.vals = ds.vals[:0]
	p.response(s, h.stream, -1, &ds.f, m, false)
	return true
}

// reset ends a stream that an RST_STREAM frame cancels: a request still
// waiting gets a response whose exception names the error code, a client
// error when the client reset it, a server error otherwise.
func (p *Parser) reset(id, code uint32, dir l7.Direction, m *l7.Message) bool {
	s := p.find(id)
	if s == nil {
		return false
	}
	ds := p.dirScratch(dir)
	ds.f = fields{}
	ds.vals = ds.vals[:0]
	status := l7.StatusServerError
	if dir == l7.ToServer {
		status = l7.StatusClientError
	}
	p.response(s, id, -1, &ds.f, m, false)
	m.Status = status
	m.Exception = errCodeName(code)
	return true
}

// headerBlock decodes a complete header block of stream id (promised: the
// stream a PUSH_PROMISE reserves) and fills m when it completes a message.
func (p *Parser) headerBlock(dir l7.Direction, id, promised uint32, flags uint8, block []byte, m *l7.Message) bool {
	d := &p.dirs[dir]
	ds := p.dirScratch(dir)
	ds.f = fields{}
	ds.vals = ds.vals[:0]
	ds.allValues = p.cfg.allValues
	unknown, err := d.hp.decode(block, ds, &ds.hs, p.cfg.MaxTableSize)
	p.stats.unknownFields += uint32(unknown)
	if err != nil {
		p.stats.hpackErrors++
	}
	f := &ds.f
	if promised != 0 {
		return p.request(ds, promised, m)
	}
	if dir == l7.ToServer {
		if f.method != nil || f.path != nil || f.unknown > 0 && p.find(id) == nil {
			// With unknown fields only: joined mid-stream, a request
			// whose pseudo fields are table entries never seen.
			return p.request(ds, id, m)
		}
		if f.status != nil {
			p.stats.misdirected++
		}
		return false // request trailers
	}
	switch {
	case f.method != nil || f.path != nil:
		// Requests travel to the server only (pushed ones come in
		// PUSH_PROMISE frames).
		p.stats.misdirected++
		return false
	case f.status != nil:
		code := atoi(f.status)
		if code >= 100 && code < 200 {
			return false // informational
		}
		return p.responseHeaders(ds, id, code, flags, m)
	}
	// Trailers, or response headers whose :status was never seen.
	s := p.find(id)
	switch {
	case s != nil && s.resp:
		p.response(s, id, -1, f, m, true)
		return true
	case f.grpcStatus != nil:
		if s == nil {
			s = p.newStream(id)
		}
		if s != nil {
			s.grpc = true
			p.response(s, id, -1, f, m, true)
		} else {
			p.lone(id, f, m)
		}
		return true
	case s != nil && f.unknown > 0:
		if s.grpc && flags&flagEndStream == 0 {
			s.resp, s.status = true, -1
			return false
		}
		p.response(s, id, -1, f, m, false)
		return true
	}
	return false
}

// request fills m from the fields of a request header block.
func (p *Parser) request(d *dirScratch, id uint32, m *l7.Message) bool {
	f := &d.f
	grpc := isGRPC(f.ctype)
	if s := p.newStream(id); s != nil {
		s.grpc = grpc
	}
	m.Kind = l7.KindRequest
	m.ID, m.HasID = uint64(id), true
	m.RequestID, m.HasRequestID = id, true
	m.Version = version2
	m.RequestType = f.method
	m.RequestDomain = f.authority
	if m.RequestDomain == nil {
		m.RequestDomain = f.host
	}
	m.RequestResource = f.path
	if grpc {
		m.Protocol = GRPCName
		m.Endpoint = f.path
		if m.RequestType == nil {
			m.RequestType = postBytes
		}
	} else {
		m.Endpoint = cutQuery(f.path)
	}
	m.Length = -1
	if f.clen != nil {
		m.Length = atoi(f.clen)
	}
	m.UserAgent = f.agent
	m.XRequestID = f.xrid
	d.traceIDs(m)
	return true
}

// responseHeaders handles response headers with a :status. A gRPC call
// (by the request or the response content-type) that does not end here
// waits for its trailers; any other response is complete.
func (p *Parser) responseHeaders(d *dirScratch, id uint32, code int, flags uint8, m *l7.Message) bool {
	f := &d.f
	s := p.find(id)
	grpc := s != nil && s.grpc || isGRPC(f.ctype) || f.grpcStatus != nil
	if grpc && flags&flagEndStream == 0 {
		if s == nil {
			s = p.newStream(id)
		}
		if s != nil {
			s.grpc, s.resp, s.status = true, true, int32(code)
			s.setXrid(f.xrid)
			return false
		}
	}
	if s == nil {
		p.lone(id, f, m)
		m.Code, m.HasCode, m.Status = int32(code), true, httpStatus(code)
		if grpc {
			p.grpcResult(f, m)
		}
		return true
	}
	s.grpc = grpc
	p.response(s, id, code, f, m, true)
	return true
}

// lone fills m as a response to a stream the parser never saw.
func (p *Parser) lone(id uint32, f *fields, m *l7.Message) {
	m.Kind = l7.KindResponse
	m.ID, m.HasID = uint64(id), true
	m.RequestID, m.HasRequestID = id, true
	m.Version = version2
	m.Length = -1
	if f.clen != nil {
		m.Length = atoi(f.clen)
	}
	m.Status = l7.StatusUnknown
	m.XRequestID = f.xrid
}

// response fills m with the response of stream s and frees s. code is the
// :status of this block (-1: none, take the stream's); f holds the block's
// fields (the trailers of a gRPC call). complete says the status can be
// judged.
func (p *Parser) response(s *stream, id uint32, code int, f *fields, m *l7.Message, complete bool) {
	d := p.dirScratch(l7.ToClient)
	p.lone(id, f, m)
	if code < 0 && s.resp {
		code = int(s.status)
	}
	if m.XRequestID == nil && s.xridN > 0 {
		start := len(d.vals)
		d.vals = append(d.vals, s.xrid[:s.xridN]...)
		m.XRequestID = d.vals[start:]
	}
	if code >= 0 {
		m.Code, m.HasCode = int32(code), true
		m.Status = httpStatus(code)
	}
	if s.grpc {
		if s.resp && f.clen == nil {
			m.Length = s.respLen
		}
		p.grpcResult(f, m)
	}
	if !complete && !m.HasCode {
		m.Status = l7.StatusUnknown
	}
	p.dropStream(id)
}

// grpcResult names m gRPC and takes grpc-status and grpc-message.
func (p *Parser) grpcResult(f *fields, m *l7.Message) {
	m.Protocol = GRPCName
	if f.grpcStatus == nil {
		return
	}
	c := atoi(f.grpcStatus)
	if c < 0 {
		return
	}
	m.Code, m.HasCode = int32(c), true
	m.Status = grpcStatus(c)
	if len(f.grpcMessage) > 0 {
		m.Exception = f.grpcMessage
	}
}

// find returns the active stream id, or nil.
func (p *Parser) find(id uint32) *stream {
	for i := range p.streams {
		if p.streams[i].id == id {
			return &p.streams[i]
		}
	}
	return nil
}

// newStream returns the state of stream id, created afresh; past
// MaxStreams the oldest stream is dropped.
func (p *Parser) newStream(id uint32) *stream {
	if p.streams == nil {
		p.take()
	}
	if s := p.find(id); s != nil {
		s.dropXrid()
		*s = stream{id: id, age: s.age}
		return s
	}
	if len(p.streams) >= p.cfg.MaxStreams {
		old := 0
		for i := range p.streams {
			if p.streams[i].age < p.streams[old].age {
				old = i
			}
		}
		p.stats.streamsDropped++
		p.dropAt(old)
	}
	p.age++
	p.streams = append(p.streams, stream{id: id, age: p.age, status: -1})
	return &p.streams[len(p.streams)-1]
}

func (p *Parser) dropStream(id uint32) {
	for i := range p.streams {
		if p.streams[i].id == id {
			p.dropAt(i)
			return
		}
	}
}

func (p *Parser) dropAt(i int) {
	p.streams[i].dropXrid()
	last := len(p.streams) - 1
	p.streams[i] = p.streams[last]
	p.streams[last] = stream{} // no second reference to its xrid
	p.streams = p.streams[:last]
}

// resync looks for a frame boundary: a plausible frame header followed by
// another (or by the end of the bytes).
func (p *Parser) resync(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := &p.dirs[dir]
	for i := 0; i+frameHeaderLen <= len(data); i++ {
		h := readFrameHeader(data[i:])
		if !h.plausible(data[i:]) {
			continue
		}
		next := i + frameHeaderLen + int(h.length)
		switch {
		case next == len(data) || next > len(data) && h.typ == frameData:
		case next+frameHeaderLen <= len(data):
			if !readFrameHeader(data[next:]).plausible(data[next:]) {
				continue
			}
		default:
			// The next header is not there yet: skip what comes
			// before the candidate, then wait for it.
			if i > 0 {
				return i, false, nil
			}
			return 0, false, l7.ErrNeedMore
		}
		p.stats.resyncs++
		d.mode = modeFrames
		if i > 0 {
			return i, false, nil
		}
		return p.frame(data, dir, m)
	}
	if len(data) < frameHeaderLen {
		return 0, false, l7.ErrNeedMore
	}
	return len(data) - frameHeaderLen + 1, false, nil
}

// wants reports whether the message needs the values of fields named
// name (fieldSink): the others are neither decoded nor kept.
func (d *dirScratch) wants(name []byte) bool {
	return d.allValues || d.f.slot(name) != nil
}

// field takes one decoded header field (fieldSink). The values it keeps
// stay where they are (fieldSink says until when: longer than the Message
// filled from them is in use), but a grpc-message, percent-decoded into
// vals.
func (d *dirScratch) field(name, value []byte) {
	if name == nil {
		d.f.unknown++
		return
	}
	f := &d.f
	dst := f.slot(name)
	if dst == nil {
		return
	}
	if *dst != nil {
		return // the first one counts
	}
	if len(value) > maxValue {
		value = value[:maxValue]
	}
	if dst == &f.grpcMessage {
		start := len(d.vals)
		d.vals = percentDecode(d.vals, value)
		value = d.vals[start:]
	}
	if value == nil {
		// An empty value that no memory holds (vals or a copy that
		// never grew): present all the same, whatever memory the
		// scratch came with.
		value = noValue
	}
	*dst = value[:len(value):len(value)]
}

// slot returns where the value of a field named name goes, or nil when
// no message needs it.
func (f *fields) slot(name []byte) *[]byte {
	switch string(name) {
	case ":method":
		return &f.method
	case ":path":
		return &f.path
	case ":authority":
		return &f.authority
	case ":status":
		return &f.status
	case "host":
		return &f.host
	case "content-type":
		return &f.ctype
	case "grpc-status":
		return &f.grpcStatus
	case "grpc-message":
		return &f.grpcMessage
	case "user-agent":
		return &f.agent
	case "content-length":
		return &f.clen
	}
	switch trace.KindOf(name) {
	case trace.Traceparent:
		return &f.traceparent
	case trace.SW8:
		return &f.sw8
	case trace.B3:
		return &f.b3
	case trace.B3TraceID:
		return &f.b3t
	case trace.B3SpanID:
		return &f.b3s
	case trace.B3ParentSpanID:
		return &f.b3p
	case trace.XRequestID:
		return &f.xrid
	}
	return nil
}

// noValue is an empty field value, present (not nil).
var noValue = []byte{}

// traceIDs fills m's tracing fields: traceparent first, then sw8, then B3.
func (d *dirScratch) traceIDs(m *l7.Message) {
	f := &d.f
	if f.traceparent != nil {
		if ids, ok := trace.ParseTraceparent(f.traceparent); ok {
			setIDs(m, ids)
			return
		}
	}
	if f.sw8 != nil {
		if ids, ok := trace.ParseSW8(f.sw8, &d.tb); ok {
			setIDs(m, ids)
			return
		}
	}
	if f.b3 != nil {
		if ids, ok := trace.ParseB3(f.b3); ok {
			setIDs(m, ids)
			return
		}
	}
	if f.b3t != nil && trace.IsB3ID(f.b3t) {
		m.TraceID = f.b3t
		if len(f.b3s) == 16 && trace.IsB3ID(f.b3s) {
			m.SpanID = f.b3s
		}
		if len(f.b3p) == 16 && trace.IsB3ID(f.b3p) {
			m.ParentSpanID = f.b3p
		}
	}
}

func setIDs(m *l7.Message, ids trace.IDs) {
	m.TraceID, m.SpanID, m.ParentSpanID = ids.TraceID, ids.SpanID, ids.ParentSpanID
}

// isGRPC reports whether a content-type is gRPC's: application/grpc,
// optionally followed by "+<codec>" or parameters.
func isGRPC(ct []byte) bool {
	const g = "application/grpc"
	if len(ct) < len(g) || !ascii.EqualFoldLower(ct[:len(g)], g) {
		return false
	}
	return len(ct) == len(g) || ct[len(g)] == '+' || ct[len(g)] == ';'
}

// httpStatus maps an HTTP status code to a response status.
func httpStatus(code int) l7.Status {
	switch {
	case code >= 500:
		return l7.StatusServerError
	case code >= 400:
		return l7.StatusClientError
	}
	return l7.StatusOk
}

// grpcStatus maps a gRPC status code (RECORDS.md).
func grpcStatus(c int) l7.Status {
	switch c {
	case 0:
		return l7.StatusOk
	case 3, 5, 6, 7, 9, 11, 16:
		return l7.StatusClientError
	}
	return l7.StatusServerError
}

// errCodes are the RST_STREAM and GOAWAY error code names (RFC 9113, 7).
var errCodes = [...][]byte{
	[]byte("NO_ERROR"), []byte("PROTOCOL_ERROR"), []byte("INTERNAL_ERROR"),
	[]byte("FLOW_CONTROL_ERROR"), []byte("SETTINGS_TIMEOUT"), []byte("STREAM_CLOSED"),
	[]byte("FRAME_SIZE_ERROR"), []byte("REFUSED_STREAM"), []byte("CANCEL"),
	[]byte("COMPRESSION_ERROR"), []byte("CONNECT_ERROR"), []byte("ENHANCE_YOUR_CALM"),
	[]byte("INADEQUATE_SECURITY"), []byte("HTTP_1_1_REQUIRED"),
}

var unknownErrCode = []byte("UNKNOWN_ERROR")

func errCodeName(c uint32) []byte {
	if c < uint32(len(errCodes)) {
		return errCodes[c]
	}
	return unknownErrCode
}

// atoi parses a non-negative decimal number of at most 9 digits, or
// returns -1.
func atoi(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// cutQuery returns a path without its query and fragment.
func cutQuery(t []byte) []byte {
	for i, c := range t {
		if c == '?' || c == '#' {
			return t[:i]
		}
	}
	return t
}

// percentDecode appends v to dst with %XX escapes decoded (grpc-message,
// gRPC's HTTP/2 protocol spec); a malformed escape is kept as it is.
func percentDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			h, ok1 := unhex(v[i+1])
			l, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				dst = append(dst, h<<4|l)
				i += 2
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
