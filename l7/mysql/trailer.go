package mysql

import "github.com/metaflow-go/metaflow/l7"

// Trailing reports whether the next bytes of dir belong to no new message
// (l7.Trailer): the connection handshake (greeting, login and the
// authentication exchange yield no request), or, from the server, the
// packets after a response already returned (the parameter and column
// definitions that follow COM_STMT_PREPARE_OK), so that they do not count as
// the start of the next command's response; also the bytes dropped after
// a gap until a message starts, and the rest of a response begun before
// the capture.
func (p *Parser) Trailing(dir l7.Direction) bool {
	if p.phase != phaseCommand || p.resync[dir&1] {
		return true
	}
	return dir == l7.ToClient && (p.rs == rsDone || p.rs == rsTail)
}

// Flush decodes a packet cut short (l7.Flusher) — by a hole or by the end
// of the flow — from its header and the bytes there are: a command
// becomes a request (its SQL cut), an ERR or OK ending a response a
// response. Nothing is made of compressed frames.
func (p *Parser) Flush(data []byte, dir l7.Direction, m *l7.Message) bool {
	d := int(dir & 1)
	if p.stopped != NotStopped || p.compressed || p.resync[d] || p.skip[d] > 0 || p.cont[d] ||
		len(data) < headerLen+1 {
		return false
	}
	plen, seq := le24(data), data[3]
	body := data[headerLen:]
	if len(body) >= min(plen, bodyCap) {
		return false // whole packets are Parse's
	}
	var ok bool
	if d == client {
		ok, _ = p.client(body, plen, seq, m)
	} else if !p.cutKnown[d] || p.cutAt[d] != p.cmds {
		// The packet began before the last command (cut from the
		// capture with it): it answers an earlier one.
		return false
	} else {
		p.respLen += headerLen + plen
		ok, _ = p.server(body, plen, seq, m)
	}
	return ok
}
