package redis

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns.
func (p *Parser) Reset(l7.Transport) {
	*p = Parser{}
}
