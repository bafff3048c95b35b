package mysql

import "github.com/metaflow-go/metaflow/l7"

// Trailing reports whether the next bytes of dir belong to no new message
// (l7.Trailer): the connection handshake (greeting, login and the
// authentication exchange yield no request), or, from the server, the
// packets after a response already returned (the parameter and column
// definitions that follow COM_STMT_PREPARE_OK), so that they do not count as
// the start of the next command's response.
func (p *Parser) Trailing(dir l7.Direction) bool {
	if p.phase != phaseCommand {
		return true
	}
	return dir == l7.ToClient && p.rs == rsDone
}
