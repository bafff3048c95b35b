package dns

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser(t)
// returns, without an allocation (the engine reuses parsers of ended flows).
func (p *Parser) Reset(t l7.Transport) {
	p.Idle()
	*p = Parser{tcp: t == l7.TCP}
}
