package redis

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// its buffers given back to the pool.
func (p *Parser) Reset(l7.Transport) {
	for i := range p.h {
		if b := p.h[i].b; b != nil {
			bufsPool.Put(b)
		}
	}
	*p = Parser{}
}
