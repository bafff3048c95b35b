package mqtt

import "github.com/metaflow-go/metaflow/l7"

var (
	_ l7.Resetter = (*Parser)(nil)
	_ l7.Idler    = (*Parser)(nil)
)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// its scratch given back to the pool, keeping its topic alias tables (made
// at first use) emptied: no alias of the earlier connection stays defined.
func (p *Parser) Reset(l7.Transport) {
	p.Idle()
	aliases := p.aliases
	*p = Parser{max: p.max, aliases: aliases}
	for _, t := range aliases {
		if t != nil {
			for a := range t.topic {
				t.topic[a] = t.topic[a][:0]
			}
		}
	}
}
