package mysql

import "github.com/metaflow-go/metaflow/l7"

// Trailing reports whether the next bytes of dir belong to the connection
// handshake rather than to a command or its response (l7.Trailer): the
// greeting, the login request and the authentication exchange yield no
// request, so they must not count as the start of the first command.
func (p *Parser) Trailing(dir l7.Direction) bool {
	return p.phase != phaseCommand
}
