package redis

import (
	"bytes"
	"sync"

	"github.com/metaflow-go/metaflow/internal/ascii"
	"github.com/metaflow-go/metaflow/l7"
)

// half is the state of one direction: the value in progress, and the
// buffers its message fields are built in while there is one.
//
// A busy capture interleaves thousands of flows, so a parser's state is
// mostly out of the CPU caches when a segment of its flow arrives: what a
// message costs is the cache lines it touches more than its instructions.
// The scalars every message reads and writes, its counter included, fill
// one cache line (TestParser_layout checks it): a simple reply touches
// that line and its buffers' first, a command that line and those of its
// name and arguments.
type half struct {
	length  int64  // bytes of the top-level value so far
	off     int64  // stream offset of the next byte Parse sees
	msgs    uint64 // messages emitted: commands on the client's side, replies on the server's
	bulk    int32  // bytes left of the current bulk payload and its CRLF (at most maxBulk+2); 0 outside one
	bulkLen int32  // payload length of the current bulk
	args    uint32 // direct children of the top-level array seen (requests)
	attr    uint32 // bit i: frames[i] is an attribute, whose completion does not complete an element of its parent
	resN    uint16
	excN    uint16
	cmdN    uint8
	firstN  uint8
	depth   uint8 // aggregates open, b.frames[:depth]
	inValue bool  // inside a top-level value
	top     byte  // type byte of the top-level value (0 before it starts)
	collect bool  // the current bulk's payload feeds the message fields
	resync  bool  // looking for the next value start
	midLine bool  // in resync: the next byte is not at a line start

	// Of the commands' side (the Parser's state kept where noReply looks).
	replyOff bool // CLIENT REPLY OFF in force
	skipNext bool // CLIENT REPLY SKIP: the next command gets no reply

	// b holds the open aggregates and the message fields: taken from
	// bufsPool when a value starts (element), given back by Idle when
	// none is in progress, so that an idle connection's Parser holds
	// none.
	b *bufs
}

// bufs is what a direction needs while it decodes a value and while the
// Message filled from it is in use.
type bufs struct {
	frames [maxDepth]int64 // elements left of each open aggregate
	first  [16]byte        // first element of a top-level array reply
	cmd    [cmdSize]byte
	res    [resourceSize]byte
	exc    [excSize]byte
}

// bufsPool holds the buffers of idle directions, shared by every Parser.
var bufsPool = sync.Pool{New: func() any { return new(bufs) }}

var _ l7.Idler = (*Parser)(nil)

// Idle implements l7.Idler: no Message the Parser filled is in use, so a
// direction with no value in progress gives its buffers back to the pool.
func (p *Parser) Idle() {
	for i := range p.h {
		if h := &p.h[i]; h.b != nil && !h.inValue && h.depth == 0 && h.bulk == 0 {
			bufsPool.Put(h.b)
			h.b = nil
		}
	}
}

// Stats counts what a Parser saw. Counters only grow.
type Stats struct {
	Requests  uint64 // commands emitted
	Responses uint64 // replies emitted, Streaming ones included
	Pushes    uint64 // replies marked Streaming
	Malformed uint64 // parse errors returned
	Skipped   uint64 // bytes skipped while looking for the next value after an error or a gap
}

// Parser is the per-flow state of the Redis decoder. It is not safe for
// concurrent use; get one from Decoder.NewParser.
type Parser struct {
	h [2]half // each direction's state, first for its cache lines (see half)

	pushes, malformed, skipped uint64 // of Stats; Requests and Responses are half.msgs

	// Confirmations still expected for SUBSCRIBE-family commands, oldest
	// first (subLen of them from subHd): the first of each answers the
	// command, the rest are Streaming.
	subQ   [16]subWait
	subHd  uint8
	subLen uint8
	// To 320 bytes: the allocator's size class for it holds whole cache
	// lines, so that each object, and h[0] with it, starts on one.
	_ [38]byte
}

// subWait counts the confirmations of one SUBSCRIBE-family command (its
// channels, at least one).
type subWait struct{ left, total uint32 }

// Stats returns the Parser's counters.
func (p *Parser) Stats() Stats {
	return Stats{
		Requests:  p.h[l7.ToServer&1].msgs,
		Responses: p.h[l7.ToClient&1].msgs,
		Pushes:    p.pushes,
		Malformed: p.malformed,
		Skipped:   p.skipped,
	}
}

// Gap tells the parser that n bytes of direction dir were lost. A gap
// inside a bulk string is absorbed; any other gap drops the value in
// progress and looks for the next line that can start one, starting with
// the line the bytes after the gap begin with (a gap ending on a value
// boundary loses no value after it).
func (p *Parser) Gap(dir l7.Direction, n int) {
	h := &p.h[dir&1]
	if n == 0 {
		return
	}
	if n > 0 {
		h.off += int64(n)
		if h.bulk > 0 && int64(n) < int64(h.bulk) {
			h.bulk -= int32(n)
			h.length += int64(n)
			return
		}
	}
	h.reset()
	h.resync, h.midLine = true, true
}

// Trailing reports (l7.Trailer) whether the next bytes of dir are skipped
// while looking for the next value after a gap or an error, so that the
// engine does not date the next message from them.
func (p *Parser) Trailing(dir l7.Direction) bool { return p.h[dir&1].resync }

// Flush makes a message of a value cut short (l7.Flusher) by the end of
// the flow, or by a hole that cut one of its type lines: a command with the
// name and arguments read so far, a reply with its type (an error reply
// with the text read). data is the cut line, if any. Nothing is made of
// bytes skipped while looking for a value after an error or a gap, or of a
// command whose name is not there.
func (p *Parser) Flush(data []byte, dir l7.Direction, m *l7.Message) bool {
	h := &p.h[dir&1]
	req := dir == l7.ToServer
	if h.resync {
		return false
	}
	if h.bulk == 0 && len(data) > 0 {
		line := data
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		// A line that starts a value, or one inside a value already
		// begun; a number cut short may not parse: the value keeps what
		// the lines before gave.
		if len(line) > 0 && (h.inValue || startsValue(data, req)) {
			h.length += int64(len(data))
			if _, err := p.element(h, line, req); err == ErrBadType {
				h.reset()
				return false
			}
		}
	}
	if !h.inValue || h.top == 0 || req && h.cmdN == 0 {
		h.reset()
		return false
	}
	return p.emit(h, req, m)
}

func (h *half) reset() {
	h.depth, h.inValue, h.top, h.bulk, h.bulkLen, h.collect = 0, false, 0, 0, 0, false
	h.length, h.args, h.cmdN, h.resN, h.excN, h.firstN = 0, 0, 0, 0, 0, 0
}

// Parse decodes the values at the start of data until one top-level value
// completes. See l7.Parser for the contract.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	h := &p.h[dir&1]
	n, ok, err := p.parse(h, data, dir == l7.ToServer, m)
	h.off += int64(n)
	if err != nil && err != l7.ErrNeedMore {
		p.malformed++
	}
	return n, ok, err
}

func (p *Parser) fail(h *half, at int, err error) error {
	h.reset()
	h.resync, h.midLine = true, false
	return &l7.ParseError{Protocol: Name, Offset: h.off + int64(at), Err: err}
}

func (p *Parser) parse(h *half, data []byte, req bool, m *l7.Message) (int, bool, error) {
	if len(data) == 0 {
		return 0, false, l7.ErrNeedMore
	}
	pos := 0
	if h.resync {
		n, found := h.seek(data, req)
		p.skipped += uint64(n)
		if !found {
			if n == 0 {
				return 0, false, l7.ErrNeedMore
			}
			return n, false, nil
		}
		if n > 0 {
			return n, false, nil
		}
		h.resync = false
	}
	for pos < len(data) {
		if h.bulk > 0 {
			k := min(int64(h.bulk), int64(len(data)-pos))
			if h.collect {
				done := int64(h.bulkLen) + 2 - int64(h.bulk) // payload bytes consumed before
				if c := min(k, int64(h.bulkLen)-done); c > 0 {
					h.addContent(data[pos:pos+int(c)], req)
				}
			}
			h.bulk -= int32(k)
			h.length += k
			pos += int(k)
			if h.bulk > 0 {
				break
			}
			if h.done() {
				return pos, p.emit(h, req, m), nil
			}
			continue
		}
		if h.depth > 0 {
			k, complete := h.skim(data[pos:], req)
			pos += k
			if complete {
				return pos, p.emit(h, req, m), nil
			}
			if k > 0 {
				continue
			}
		}
		eol := bytes.IndexByte(data[pos:], '\n')
		if eol < 0 {
			if len(data)-pos > maxLine {
				return len(data), false, p.fail(h, pos, ErrLineLong)
			}
			break
		}
		next := pos + eol + 1
		line := data[pos : pos+eol]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if h.depth == 0 && !h.inValue && len(line) == 0 {
			pos = next // empty line between values
			continue
		}
		if len(line) == 0 {
			return next, false, p.fail(h, pos, ErrBadType) // an empty line inside a value
		}
		h.length += int64(next - pos)
		complete, err := p.element(h, line, req)
		if err != nil {
			return next, false, p.fail(h, pos, err)
		}
		pos = next
		if complete {
			return pos, p.emit(h, req, m), nil
		}
	}
	if pos == 0 {
		return 0, false, l7.ErrNeedMore
	}
	return pos, false, nil
}

// skim consumes the elements at the start of b, inside an aggregate, as
// element and the bulk loop of parse would, without their per-line work: a
// command's arguments are copied straight from b, a reply of thousands of
// elements (COMMAND, LRANGE) costs a few branches per element. It stops,
// for parse to go on, at the first element that is not a well-formed bulk
// string, simple value or aggregate (not an attribute), and at the end of
// b. It returns the bytes
// consumed, and whether they complete the top-level value.
func (h *half) skim(b []byte, req bool) (int, bool) {
	i := 0
	for h.depth > 0 && i < len(b) {
		child := h.depth == 1 && h.attr&1 == 0 && (h.top == '*' || h.top == '>')
		switch b[i] {
		case '$':
			// "$" 1 to 9 digits CRLF: any other form takes the long way.
			j, n := i+1, int64(0)
			for j < len(b) && j-i <= 9 && b[j] >= '0' && b[j] <= '9' {
				n = n*10 + int64(b[j]-'0')
				j++
			}
			if j == i+1 || j+1 >= len(b) || b[j] != '\r' || b[j+1] != '\n' || n > maxBulk {
				return i, false
			}
			j += 2
			h.length += int64(j - i)
			collect := false
			if child {
				if req && h.args > 0 && int(h.resN) < len(h.b.res) {
					h.b.res[h.resN] = ' '
					h.resN++
				}
				collect = req || h.args == 0
				h.args++
			}
			i = j
			if int64(len(b)-i) < n+2 {
				// The bulk loop of parse takes the rest.
				h.bulk, h.bulkLen, h.collect = int32(n+2), int32(n), collect
				return i, false
			}
			if collect {
				h.addContent(b[i:i+int(n)], req)
			}
			h.length += n + 2
			i += int(n) + 2
		case '+', ':', '-', ',', '_', '#', '(':
			eol := bytes.IndexByte(b[i:], '\n')
			if eol < 0 {
				return i, false
			}
			h.length += int64(eol + 1)
			if child {
				if req || h.args == 0 {
					v := b[i+1 : i+eol]
					if k := len(v); k > 0 && v[k-1] == '\r' {
						v = v[:k-1]
					}
					if req {
						h.arg(v)
					} else {
						h.firstN = uint8(copy(h.b.first[:], v))
					}
				}
				h.args++
			}
			i += eol + 1
		case '*', '~', '%', '>':
			// An aggregate with 1 to 9 digits of count.
			j, n := i+1, int64(0)
			for j < len(b) && j-i <= 9 && b[j] >= '0' && b[j] <= '9' {
				n = n*10 + int64(b[j]-'0')
				j++
			}
			if j == i+1 || j+1 >= len(b) || b[j] != '\r' || b[j+1] != '\n' || h.depth == maxDepth {
				return i, false
			}
			t := b[i]
			j += 2
			h.length += int64(j - i)
			if child {
				h.args++
			}
			i = j
			if t == '%' {
				n *= 2
			}
			if n > 0 {
				h.b.frames[h.depth] = n
				h.attr &^= 1 << h.depth
				h.depth++
				continue
			}
		default:
			return i, false
		}
		if h.done() {
			return i, true
		}
	}
	return i, false
}

// element handles one type line. It reports whether the top-level value
// is complete.
func (p *Parser) element(h *half, line []byte, req bool) (bool, error) {
	if h.b == nil {
		h.b = bufsPool.Get().(*bufs)
	}
	t := line[0]
	atTop := h.depth == 0
	if atTop && t != '|' {
		if req && t != '*' {
			h.inValue, h.top = true, 'i'
			h.inline(line)
			return true, nil
		}
		h.top = t
	}
	h.inValue = true
	child := !atTop && h.depth == 1 && h.attr&1 == 0 && (h.top == '*' || h.top == '>')
	switch t {
	case '+', '-', ':', '_', ',', '#', '(':
		v := line[1:]
		switch {
		case atTop && t == '-':
			h.excN = uint16(copy(h.b.exc[:], v))
		case child:
			if req {
				h.arg(v)
			} else if h.args == 0 {
				h.firstN = uint8(copy(h.b.first[:], v))
			}
			h.args++
		}
		return h.done(), nil
	case '$', '!', '=':
		n, ok := parseInt(line[1:])
		if !ok || n < -1 || n > maxBulk {
			return false, ErrBadLength
		}
		h.collect = (atTop && t == '!') || (child && (req || h.args == 0))
		if child {
			if req && h.args > 0 && int(h.resN) < len(h.b.res) {
				h.b.res[h.resN] = ' '
				h.resN++
			}
			h.args++
		}
		if n < 0 {
			return h.done(), nil
		}
		h.bulk, h.bulkLen = int32(n+2), int32(n) // n <= maxBulk
		return false, nil
	case '*', '~', '>', '%', '|':
		n, ok := parseInt(line[1:])
		if !ok || n < -1 || n > maxCount {
			return false, ErrBadLength
		}
		if child {
			h.args++
		}
		if t == '%' || t == '|' {
			n *= 2
		}
		if n <= 0 {
			if t == '|' {
				return false, nil // an empty attribute annotates what follows
			}
			return h.done(), nil
		}
		if h.depth == maxDepth {
			return false, ErrTooDeep
		}
		h.b.frames[h.depth] = n
		if t == '|' {
			h.attr |= 1 << h.depth
		} else {
			h.attr &^= 1 << h.depth
		}
		h.depth++
		return false, nil
	}
	return false, ErrBadType
}

// done completes one element and reports whether the top-level value is
// complete.
func (h *half) done() bool {
	h.collect = false
	for h.depth > 0 {
		d := h.depth - 1
		if h.b.frames[d]--; h.b.frames[d] > 0 {
			return false
		}
		h.depth = d
		if h.attr&(1<<d) != 0 {
			return false
		}
	}
	return h.top != 0 && h.top != '|'
}

// addContent feeds bulk payload bytes to the message fields.
func (h *half) addContent(b []byte, req bool) {
	switch {
	case req:
		if h.args == 1 {
			h.addCmd(b)
		}
		h.resN += uint16(copy(h.b.res[h.resN:], b))
	case h.top == '!':
		h.excN += uint16(copy(h.b.exc[h.excN:], b))
	default:
		h.firstN += uint8(copy(h.b.first[h.firstN:], b))
	}
}

// arg adds a simple-typed argument of a request array.
func (h *half) arg(v []byte) {
	if h.args > 0 && int(h.resN) < len(h.b.res) {
		h.b.res[h.resN] = ' '
		h.resN++
	} else if h.args == 0 {
		h.addCmd(v)
	}
	h.resN += uint16(copy(h.b.res[h.resN:], v))
}

func (h *half) addCmd(b []byte) {
	for _, c := range b {
		if int(h.cmdN) == len(h.b.cmd) {
			return
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		h.b.cmd[h.cmdN] = c
		h.cmdN++
	}
}

// inline takes an inline command: words separated by spaces or tabs.
func (h *half) inline(line []byte) {
	word := 0
	for len(line) > 0 {
		for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			line = line[1:]
		}
		i := 0
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if i == 0 {
			break
		}
		if word == 0 {
			h.addCmd(line[:i])
		} else if int(h.resN) < len(h.b.res) {
			h.b.res[h.resN] = ' '
			h.resN++
		}
		h.resN += uint16(copy(h.b.res[h.resN:], line[:i]))
		line = line[i:]
		word++
	}
	h.args = uint32(word)
}

// seek looks for the next line that can start a value. It returns how many
// bytes to skip and whether a start was found at data[n].
func (h *half) seek(data []byte, req bool) (int, bool) {
	pos := 0
	if h.midLine {
		// A hole may end on a value boundary: take a line that starts
		// one; else skip to the next line.
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return len(data), false
		}
		h.midLine = false
		if startsValue(data[:i], req) {
			return 0, true
		}
		pos = i + 1
	}
	for pos < len(data) {
		eol := bytes.IndexByte(data[pos:], '\n')
		if eol < 0 {
			if len(data)-pos > maxLine {
				h.midLine = true
				return len(data), false
			}
			return pos, false
		}
		line := data[pos : pos+eol]
		if startsValue(line, req) {
			return pos, true
		}
		pos += eol + 1
	}
	return pos, false
}

func startsValue(line []byte, req bool) bool {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) < 2 {
		return false
	}
	if req {
		if line[0] == '*' {
			_, ok := parseInt(line[1:])
			return ok
		}
		w := line
		if i := bytes.IndexByte(w, ' '); i >= 0 {
			w = w[:i]
		}
		return isCommonCommand(w)
	}
	switch line[0] {
	case '*', '$', '!', '=', '%', '~', '>', '|', ':':
		_, ok := parseInt(line[1:])
		return ok
	case '+', '-', '_', ',', '#', '(':
		return printable(line[1:])
	}
	return false
}

// emit fills m with the completed top-level value and resets h.
func (p *Parser) emit(h *half, req bool, m *l7.Message) bool {
	m.Length = int(min(h.length, int64(^uint(0)>>1)))
	if req {
		m.Kind = l7.KindRequest
		m.RequestType = h.b.cmd[:h.cmdN]
		m.RequestResource = h.b.res[:h.resN]
		m.NoResponse = p.noReply(h)
		if isSubscribe(m.RequestType) && h.args > 1 {
			if int(p.subLen) == len(p.subQ) {
				p.subHd = (p.subHd + 1) % uint8(len(p.subQ))
				p.subLen--
			}
			n := h.args - 1
			p.subQ[(p.subHd+p.subLen)%uint8(len(p.subQ))] = subWait{n, n}
			p.subLen++
		}
		h.msgs++
	} else {
		m.Kind = l7.KindResponse
		m.Status = l7.StatusOk
		if h.top == '-' || h.top == '!' {
			m.Status = l7.StatusServerError
			m.Exception = h.b.exc[:h.excN]
		}
		m.Streaming = p.streaming(h)
		h.msgs++
		if m.Streaming {
			p.pushes++
		}
	}
	h.reset()
	return true
}

// noReply applies CLIENT REPLY OFF, ON and SKIP to the command in h.
func (p *Parser) noReply(h *half) bool {
	res := h.b.res[:h.resN]
	if string(h.b.cmd[:h.cmdN]) == "CLIENT" {
		var f [4][]byte
		if n := fields(res, f[:]); n == 3 && ascii.EqualFoldLower(f[1], "reply") {
			switch {
			case ascii.EqualFoldLower(f[2], "off"):
				h.replyOff = true
				return true
			case ascii.EqualFoldLower(f[2], "on"):
				h.replyOff, h.skipNext = false, false
				return false
			case ascii.EqualFoldLower(f[2], "skip"):
				h.skipNext = true
				return true
			}
		}
	}
	if h.replyOff {
		return true
	}
	if h.skipNext {
		h.skipNext = false
		return true
	}
	return false
}

// streaming reports whether a reply is pushed rather than answering a
// command.
func (p *Parser) streaming(h *half) bool {
	if h.top != '*' && h.top != '>' {
		return false
	}
	first := h.b.first[:h.firstN]
	switch {
	case ascii.EqualFoldLower(first, "message"), ascii.EqualFoldLower(first, "pmessage"), ascii.EqualFoldLower(first, "smessage"):
		return true
	case isConfirm(first):
		if p.subLen == 0 {
			return false
		}
		w := &p.subQ[p.subHd]
		streaming := w.left != w.total
		if w.left--; w.left == 0 {
			p.subHd = (p.subHd + 1) % uint8(len(p.subQ))
			p.subLen--
		}
		return streaming
	}
	return h.top == '>'
}

func isSubscribe(cmd []byte) bool {
	switch string(cmd) {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		return true
	}
	return false
}

func isConfirm(b []byte) bool {
	return ascii.EqualFoldLower(b, "subscribe") || ascii.EqualFoldLower(b, "psubscribe") || ascii.EqualFoldLower(b, "ssubscribe") ||
		ascii.EqualFoldLower(b, "unsubscribe") || ascii.EqualFoldLower(b, "punsubscribe") || ascii.EqualFoldLower(b, "sunsubscribe")
}

// fields splits b at spaces into at most len(f) fields.
func fields(b []byte, f [][]byte) int {
	n := 0
	for len(b) > 0 && n < len(f) {
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			f[n] = b
			return n + 1
		}
		f[n] = b[:i]
		b = b[i+1:]
		n++
	}
	return n
}
