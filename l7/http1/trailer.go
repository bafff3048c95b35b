package http1

import "github.com/metaflow-go/metaflow/l7"

// Trailing reports whether the next bytes of dir belong to no new message
// (l7.Trailer): the body of the message last returned (Parse returns a
// message at the end of its headers and then skips its body), or bytes
// skipped while resynchronising.
func (p *Parser) Trailing(dir l7.Direction) bool {
	switch p.s[dir&1].state {
	case stBody, stChunkSize, stChunkData, stChunkCRLF, stTrailer, stUntilClose, stResync:
		return true
	}
	return false
}

// Flush makes a message of a start line whose header block was cut short by
// lost bytes, typically a capture's snaplen (l7.Flusher). The header lines
// present are used; the partial last line is dropped. Where the body starts
// is unknown, so the direction then resynchronises on the next start line.
func (p *Parser) Flush(data []byte, dir l7.Direction, m *l7.Message) bool {
	s := &p.s[dir&1]
	if p.stop || s.state != stStart {
		return false
	}
	p.cut = true
	n, ok, err := p.parse(s, data, m)
	p.cut = false
	s.off += int64(n)
	if err != nil || !ok {
		return false
	}
	if !p.stop {
		s.state, s.midLine = stResync, true
	}
	return true
}
