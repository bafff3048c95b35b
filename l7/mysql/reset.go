package mysql

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// keeping its deflate reader and inflated-bytes buffers for the next flow
// that uses the compressed protocol.
func (p *Parser) Reset(l7.Transport) {
	zr, plain := p.zr, p.plain
	*p = Parser{pendingLen: -1, zr: zr}
	for d := range plain {
		p.plain[d] = plain[d][:0]
	}
}
