package kafka

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// keeping its decompression and Metadata buffers (made at first use) for
// the next flow.
func (p *Parser) Reset(l7.Transport) {
	inflate, carry := p.inflate, p.carry[:0]
	*p = Parser{d: p.d, inflate: inflate, carry: carry}
}
