package http2

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns.
// Its scratch (with the stream table's memory) and its HPACK tables'
// rings go back to their pools, where the next message takes them; the
// tables' entries belong to the earlier connection and are dropped, the
// memory they were packed in kept for the next connection's
// (TestParser_ResetZeroAlloc).
func (p *Parser) Reset(l7.Transport) {
	for i := range p.streams {
		p.streams[i].dropXrid()
	}
	p.streams = p.streams[:0]
	p.putScratch()
	var packed [2][]byte
	for i := range p.dirs {
		p.dirs[i].hp.release()
		packed[i] = p.dirs[i].hp.packed
	}
	*p = Parser{cfg: p.cfg, streams: p.streams}
	for i := range p.dirs {
		p.dirs[i].hp.init(p.cfg.MaxTableSize)
		p.dirs[i].hp.packed = packed[i]
	}
}
