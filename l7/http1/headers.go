package http1

import (
	"bytes"
	"math"

	"github.com/metaflow-go/metaflow/internal/ascii"
)

// Header fields the decoder reads.
const (
	hNone = iota
	hHost
	hUserAgent
	hXRequestID
	hTraceparent
	hSW8
	hContentLength
	hTransferEncoding
	nHeaders
)

// headers holds the first value of each header field the decoder reads.
// Values alias the input, or Parser.fold for folded values.
type headers struct {
	v [nHeaders][]byte
}

// headerKind maps a field name to the field it is, ignoring ASCII case.
func headerKind(name []byte) int {
	switch len(name) {
	case 3:
		if ascii.EqualFoldLower(name, "sw8") {
			return hSW8
		}
	case 4:
		if ascii.EqualFoldLower(name, "host") {
			return hHost
		}
	case 10:
		if ascii.EqualFoldLower(name, "user-agent") {
			return hUserAgent
		}
	case 11:
		if ascii.EqualFoldLower(name, "traceparent") {
			return hTraceparent
		}
	case 12:
		if ascii.EqualFoldLower(name, "x-request-id") {
			return hXRequestID
		}
	case 14:
		if ascii.EqualFoldLower(name, "content-length") {
			return hContentLength
		}
	case 17:
		if ascii.EqualFoldLower(name, "transfer-encoding") {
			return hTransferEncoding
		}
	}
	return hNone
}

// headers parses the header block starting at data[i] into p.sc.h. It returns
// the offset just past the empty line that ends the block, 0 when the
// block is incomplete, or an error with the offset to skip to.
func (p *Parser) headers(data []byte, i int) (int, error) {
	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	h := &p.sc.h
	*h = headers{}
	p.sc.foldN = 0
	last := hNone
	for {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			if p.cut {
				// Cut short (Flush): the lines so far are all
				// there is; the partial one is dropped.
				return len(data), nil
			}
			if len(data) >= int(p.maxHeader) {
				return len(data), ErrHeaderTooLarge
			}
			return 0, nil
		}
		next := i + j + 1
		if next > int(p.maxHeader) {
			return next, ErrHeaderTooLarge
		}
		line := trimCR(data[i : i+j])
		i = next
		if len(line) == 0 {
			return next, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: continues the previous field's value.
			if last != hNone {
				h.v[last] = p.foldJoin(h.v[last], trimOWS(line))
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			// Not a field line; tolerated and ignored, as most
			// implementations do.
			last = hNone
			continue
		}
		k := headerKind(trimOWS(line[:c]))
		last = hNone
		if k != hNone && h.v[k] == nil {
			h.v[k] = trimOWS(line[c+1:])
			last = k
		}
	}
}

// foldJoin returns prev + " " + cont, built in p.sc.fold. A value that was
// folded before is the tail of p.sc.fold, because a continuation line follows
// its field line directly. Past the buffer's size the value is truncated.
func (p *Parser) foldJoin(prev, cont []byte) []byte {
	start := p.sc.foldN
	inFold := len(prev) > 0 && p.sc.foldN >= len(prev) &&
		&p.sc.fold[p.sc.foldN-len(prev)] == &prev[0]
	if inFold {
		start = p.sc.foldN - len(prev)
	} else {
		p.sc.foldN += copy(p.sc.fold[p.sc.foldN:], prev)
	}
	if len(cont) > 0 && p.sc.foldN < len(p.sc.fold) {
		if p.sc.foldN > start {
			p.sc.fold[p.sc.foldN] = ' '
			p.sc.foldN++
		}
		p.sc.foldN += copy(p.sc.fold[p.sc.foldN:], cont)
	}
	return p.sc.fold[start:p.sc.foldN]
}

// parseContentLength parses a Content-Length value. A list of identical
// values ("5, 5") is accepted (RFC 9110, 8.6).
func parseContentLength(v []byte) (n int64, present, ok bool) {
	if v == nil {
		return 0, false, true
	}
	first := int64(-1)
	for len(v) > 0 {
		var item []byte
		if c := bytes.IndexByte(v, ','); c >= 0 {
			item, v = trimOWS(v[:c]), v[c+1:]
		} else {
			item, v = trimOWS(v), nil
		}
		if len(item) == 0 || len(item) > 18 {
			return 0, true, false
		}
		var x int64
		for _, c := range item {
			if c < '0' || c > '9' {
				return 0, true, false
			}
			x = x*10 + int64(c-'0')
		}
		if first >= 0 && x != first {
			return 0, true, false
		}
		first = x
	}
	if first < 0 {
		return 0, true, false
	}
	return first, true, true
}

// isChunked reports whether the last transfer coding is "chunked".
func isChunked(v []byte) bool {
	if c := bytes.LastIndexByte(v, ','); c >= 0 {
		v = v[c+1:]
	}
	v = trimOWS(v)
	if s := bytes.IndexByte(v, ';'); s >= 0 {
		v = trimOWS(v[:s])
	}
	return ascii.EqualFoldLower(v, "chunked")
}

// parseChunkSize parses "hex-size [; extensions]". Sizes that do not fit in
// 60 bits are rejected.
func parseChunkSize(line []byte) (int64, bool) {
	if s := bytes.IndexByte(line, ';'); s >= 0 {
		line = line[:s]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		d, ok := hexVal(c)
		if !ok {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// splitTarget returns the path without query, and the authority of an
// absolute-form target ("http://host/path") or of an authority-form one
// ("host:port", CONNECT).
func splitTarget(t []byte) (path, authority []byte) {
	if len(t) == 0 || t[0] == '/' || t[0] == '*' {
		return cutQuery(t), nil
	}
	if i := bytes.Index(t, []byte("://")); i > 0 {
		rest := t[i+3:]
		j := indexAny3(rest, '/', '?', '#')
		if j < 0 {
			return nil, rest
		}
		return cutQuery(rest[j:]), rest[:j]
	}
	return nil, t
}

// firstSegments returns path cut to its first n segments ("/a/b/c", 2 ->
// "/a/b"); a path with n segments or fewer is returned whole.
func firstSegments(path []byte, n int) []byte {
	seen := 0
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			seen++
			if seen == n {
				return path[:i]
			}
		}
	}
	return path
}

func cutQuery(t []byte) []byte {
	if i := indexAny3(t, '?', '#', '?'); i >= 0 {
		return t[:i]
	}
	return t
}

// indexAny3 returns the index of the first of a, b or c in t, or -1.
func indexAny3(t []byte, a, b, c byte) int {
	for i, x := range t {
		if x == a || x == b || x == c {
			return i
		}
	}
	return -1
}

// tokenLen returns the length of the leading RFC 9110 token.
func tokenLen(b []byte) int {
	for i, c := range b {
		if !isTchar(c) {
			return i
		}
	}
	return len(b)
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hexVal(c byte) (byte, bool) {
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

func clampInt(v int64) int {
	if v > math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}
