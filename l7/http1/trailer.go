package http1

import "github.com/metaflow-go/metaflow/l7"

// Trailing reports whether the next bytes of dir belong to the body of the
// message last returned (l7.Trailer): Parse returns a message at the end of
// its headers and then skips its body.
func (p *Parser) Trailing(dir l7.Direction) bool {
	switch p.s[dir&1].state {
	case stBody, stChunkSize, stChunkData, stChunkCRLF, stTrailer, stUntilClose:
		return true
	}
	return false
}
