package memcached

import (
	"bytes"

	"github.com/metaflow-go/metaflow/l7"
)

// Parser decodes the requests and responses of one connection. It is
// owned by the engine and used by one goroutine.
type Parser struct {
	maxLine int
	req     reqState
	resp    respState
	off     [2]int64 // stream offset per direction, for ParseError
}

// reqState is the client direction's state between calls.
type reqState struct {
	data    int  // bytes of a storage command's data block (and its CRLF) still to skip
	resync  bool // after a gap: skip to the next line that is a command
	skipped int  // lines skipped since the gap
}

// maxSkipped is the number of lines a direction skips quietly after a gap,
// looking for a command or a reply (they may be lines of a data block
// whose start was lost); past it every line skipped is a parse error, so
// that bytes of another protocol keep failing and the engine re-infers.
const maxSkipped = 8

// respState is the server direction's state between calls.
type respState struct {
	multi   bool // inside a VALUE or STAT listing, until END
	data    int  // bytes of a VALUE's data block (and its CRLF) still to skip
	length  int  // bytes of the listing so far
	first   [firstSize]byte
	nfirst  int
	resync  bool // after a gap: skip to the next line that starts a response
	skipped int  // lines skipped since the gap
}

var _ l7.Trailer = (*Parser)(nil)

// Trailing implements l7.Trailer: the data block of a storage command is
// part of a request already returned (at its command line), and lines
// skipped after a gap belong to no message, so neither may start the next
// one.
func (p *Parser) Trailing(dir l7.Direction) bool {
	if dir&1 == l7.ToServer {
		return p.req.data > 0 || p.req.resync
	}
	return p.resp.resync
}

// Parse implements l7.Parser: bytes of l7.ToServer are commands, of
// l7.ToClient responses. See the package documentation for the fields.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (n int, ok bool, err error) {
	d := dir & 1
	if len(data) == 0 {
		return 0, false, l7.ErrNeedMore
	}
	if d == l7.ToServer {
		n, ok, err = p.request(data, m)
	} else {
		n, ok, err = p.response(data, m)
	}
	if err != nil && err != l7.ErrNeedMore {
		err = &l7.ParseError{Protocol: Name, Offset: p.off[d], Err: err}
	}
	p.off[d] += int64(n)
	return n, ok, err
}

// line returns the first line of data without its line ending (LF or
// CRLF) and the bytes it takes, or an error: l7.ErrNeedMore, or ErrLineLong
// past maxLine (all of data may be skipped).
func (p *Parser) line(data []byte) ([]byte, int, error) {
	i := bytes.IndexByte(data[:min(len(data), p.maxLine+2)], '\n')
	if i < 0 {
		if len(data) > p.maxLine+1 {
			return nil, len(data), ErrLineLong
		}
		return nil, 0, l7.ErrNeedMore
	}
	n := i + 1
	if i > 0 && data[i-1] == '\r' {
		i--
	}
	return data[:i], n, nil
}

func (p *Parser) request(data []byte, m *l7.Message) (int, bool, error) {
	q := &p.req
	if q.data > 0 {
		n := min(q.data, len(data))
		q.data -= n
		return n, false, nil
	}
	line, n, err := p.line(data)
	if err != nil {
		return n, false, err
	}
	var tok tokens
	tok.split(line)
	if q.resync {
		if !printable(line) || tok.n == 0 || !isRequest(&tok) {
			if q.skipped++; q.skipped > maxSkipped {
				return n, false, ErrBadCommand
			}
			return n, false, nil
		}
		q.resync = false
	}
	if !printable(line) || !isWord(tok.at(0)) {
		// The server answers ERROR to any line; this one is not even
		// shaped like a command (a RESP "*2", binary bytes).
		return n, false, ErrBadCommand
	}
	m.Kind = l7.KindRequest
	m.RequestType = tok.at(0)
	m.RequestResource = line
	m.Length = n
	noreply := tok.n > 1 && string(tok.at(tok.n-1)) == "noreply"
	switch string(tok.at(0)) {
	case "set", "add", "replace", "append", "prepend", "cas":
		// The server reads the data block only when the byte count
		// parses; otherwise it answers CLIENT_ERROR at once.
		want := 5
		if string(tok.at(0)) == "cas" {
			want = 6
		}
		if b := tok.n; noreply {
			b--
			if b != want {
				break
			}
		} else if b != want {
			break
		}
		if size, ok := parseUint(tok.at(4)); ok && size <= 1<<40 {
			q.data = int(size) + 2
			m.Length += q.data
		}
		m.NoResponse = noreply
	case "incr", "decr", "delete", "touch", "flush_all", "verbosity":
		m.NoResponse = noreply
	case "quit":
		m.NoResponse = true
	}
	return n, true, nil
}

func (p *Parser) response(data []byte, m *l7.Message) (int, bool, error) {
	r := &p.resp
	if r.data > 0 {
		n := min(r.data, len(data))
		r.data -= n
		r.length += n
		return n, false, nil
	}
	line, n, err := p.line(data)
	if err != nil {
		if err != l7.ErrNeedMore {
			p.endListing()
		}
		return n, false, err
	}
	var tok tokens
	tok.split(line)
	word := tok.at(0)
	if r.resync {
		if !isResponse(&tok) && !isStatus(word) && !isNumber(line) && !isError(word) {
			if r.skipped++; r.skipped > maxSkipped {
				return n, false, ErrBadResponse
			}
			return n, false, nil
		}
		r.resync = false
	}
	switch string(word) {
	case "VALUE":
		size, ok := parseUint(tok.at(3))
		if !ok || tok.n < 4 || size > 1<<40 {
			p.endListing()
			return n, false, ErrBadResponse
		}
		p.listing(line, n)
		r.data = int(size) + 2
		return n, false, nil
	case "STAT", "ITEM", "PREFIX":
		// stats, stats cachedump and stats detail dump listings.
		p.listing(line, n)
		return n, false, nil
	case "END":
		m.Kind = l7.KindResponse
		m.Status = l7.StatusOk
		m.Result = word
		m.Length = n
		if r.multi {
			m.Result = r.first[:r.nfirst]
			m.Length += r.length
			p.endListing()
		}
		return n, true, nil
	}
	m.Length = n
	if r.multi {
		// Only an error may cut a listing short.
		if string(word) != "SERVER_ERROR" && string(word) != "CLIENT_ERROR" {
			p.endListing()
			return n, false, ErrBadResponse
		}
		m.Length += r.length
		p.endListing()
	}
	m.Kind = l7.KindResponse
	switch {
	case isStatus(word):
		m.Status = l7.StatusOk
		m.Result = line
	case string(word) == "VERSION":
		m.Status = l7.StatusOk
		m.Version = tok.at(1)
		m.Result = line
	case isNumber(line):
		m.Status = l7.StatusOk
		m.Result = line
	case isError(word):
		m.Status = l7.StatusClientError
		m.Exception = line
	case string(word) == "CLIENT_ERROR":
		m.Status = l7.StatusClientError
		m.Exception = rest(line)
	case string(word) == "SERVER_ERROR":
		m.Status = l7.StatusServerError
		m.Exception = rest(line)
	default:
		return n, false, ErrBadResponse
	}
	return n, true, nil
}

// listing adds a line of n bytes to the VALUE or STAT listing being read.
func (p *Parser) listing(line []byte, n int) {
	r := &p.resp
	if !r.multi {
		r.multi = true
		r.nfirst = copy(r.first[:], line)
	}
	r.length += n
}

func (p *Parser) endListing() {
	r := &p.resp
	r.multi, r.data, r.length, r.nfirst = false, 0, 0, 0
}

// isStatus reports whether w is a one-word reply to a storage, delete,
// touch, flush_all, verbosity or stats reset command.
func isStatus(w []byte) bool {
	switch string(w) {
	case "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK", "RESET":
		return true
	}
	return false
}

// isError reports whether w is the generic error reply: "ERROR", or
// "ERROR:" followed by a reason ("ERROR: shutdown not enabled").
func isError(w []byte) bool {
	return string(w) == "ERROR" || string(w) == "ERROR:"
}

// isNumber reports whether line is an incr or decr result.
func isNumber(line []byte) bool {
	return isUint(bytes.TrimRight(line, " "))
}

// rest returns line after its first word and the spaces that follow.
func rest(line []byte) []byte {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return line
	}
	return bytes.TrimLeft(line[i:], " ")
}

// Gap implements l7.Parser. A gap inside a data block of known size keeps
// the parser in step; any other drops the partial state, and the direction
// skips lines until one that starts a command or a response.
func (p *Parser) Gap(dir l7.Direction, n int) {
	if dir&1 == l7.ToServer {
		q := &p.req
		if n >= 0 && n <= q.data {
			q.data -= n
			return
		}
		q.data, q.resync, q.skipped = 0, true, 0
		return
	}
	r := &p.resp
	if n >= 0 && n <= r.data {
		r.data -= n
		r.length += n
		return
	}
	p.endListing()
	r.resync, r.skipped = true, 0
}

// isWord reports whether w is shaped like a command name: lower-case
// letters, digits and underscores. An empty line counts: the server
// answers it with ERROR.
func isWord(w []byte) bool {
	for _, c := range w {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
