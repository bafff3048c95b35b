package mysql

import "github.com/metaflow-go/metaflow/l7"

var _ l7.Resetter = (*Parser)(nil)

// Reset implements l7.Resetter: the parser becomes what NewParser returns,
// its scratch and inflated-bytes buffers given back to their pools,
// keeping its prepared statements' table (made at first use) emptied.
func (p *Parser) Reset(l7.Transport) {
	p.plainOff, p.pendingLen = [2]int{}, -1
	for _, pb := range p.plain {
		if pb != nil {
			pb.b = pb.b[:0]
		}
	}
	p.Idle()
	stmts := p.stmts
	*p = Parser{pendingLen: -1, stmts: stmts}
	if stmts != nil {
		stmts.clear()
	}
}
