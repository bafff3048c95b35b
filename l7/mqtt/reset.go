package mqtt

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// keeping its topic alias tables (made at first use) emptied: no alias of
// the earlier connection stays defined.
func (p *Parser) Reset(l7.Transport) {
	aliases := p.aliases
	*p = Parser{max: p.max, aliases: aliases}
	for _, t := range aliases {
		if t != nil {
			t.n = [maxAliases + 1]uint8{}
		}
	}
}
