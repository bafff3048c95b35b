package kafka

import "github.com/metaflow-go/metaflow/l7"

var (
	_ l7.Resetter = (*Parser)(nil)
	_ l7.Idler    = (*Parser)(nil)
)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// its scratch (with the decompression buffer), table of requests in
// flight and Metadata carry buffer given back to their pools.
func (p *Parser) Reset(l7.Transport) {
	p.pendLen = 0
	p.Idle()
	p.metaStop()
	*p = Parser{d: p.d}
}
