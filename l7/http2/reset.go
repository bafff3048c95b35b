package http2

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// keeping its buffers (header block, values, streams, and the HPACK
// tables' memory, emptied: their entries belong to the earlier
// connection).
func (p *Parser) Reset(l7.Transport) {
	streams := p.streams[:0]
	var keep [2]struct {
		block, vals []byte
		hp          hpackDecoder
	}
	for i := range p.dirs {
		d := &p.dirs[i]
		keep[i].block, keep[i].vals, keep[i].hp = d.block[:0], d.vals[:0], d.hp
	}
	*p = Parser{cfg: p.cfg, streams: streams}
	for i := range p.dirs {
		d := &p.dirs[i]
		d.block, d.vals = keep[i].block, keep[i].vals
		d.hp.reset(&keep[i].hp, p.cfg.MaxTableSize)
		d.max = 8 << 10
	}
}

// reset makes d a new decoder with limit (as init does) that reuses old's
// memory: its Huffman scratch, and its rings when they are laid out for no
// more than the new decoder's table size.
func (d *hpackDecoder) reset(old *hpackDecoder, limit int) {
	*d = hpackDecoder{scratch: old.scratch[:0]}
	d.init(limit)
	if old.eff <= d.maxSize {
		d.ring, d.ents, d.eff = old.ring, old.ents, old.eff
	}
}
