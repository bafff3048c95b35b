package mysql

import (
	"errors"
	"strconv"

	"github.com/metaflow-go/metaflow/l7"
)

// StopReason says why a Parser stopped decoding its flow.
type StopReason uint8

// Stop reasons.
const (
	NotStopped     StopReason = iota
	StopTLS                   // the client sent an SSL request
	StopCompressed            // compressed frames that cannot be inflated (zstd, corrupt, over 1 MiB)
)

type phase uint8

const (
	phaseUnknown phase = iota // nothing seen yet: the capture may start mid-connection
	phaseGreeted              // server greeting seen: the login request comes next
	phaseAuth                 // login or COM_CHANGE_USER sent: authentication under way
	phaseCommand              // commands and their responses
)

// respState tracks the server's response to the last command.
type respState uint8

const (
	rsNone       respState = iota // no command seen: judge a response by its first packet
	rsFirst                       // the response's first packet is next
	rsColumns                     // column definitions
	rsColumnsEnd                  // the EOF after the definitions (absent with CLIENT_DEPRECATE_EOF)
	rsRows                        // rows until EOF, OK or ERR
	rsFieldList                   // COM_FIELD_LIST: definitions until EOF
	rsInfile                      // LOCAL INFILE: the final OK or ERR
	rsDone                        // complete: ignore server packets until the next command
	rsTail                        // the rest of a response begun before the capture: until its end
)

const (
	client, server = 0, 1

	// bodyCap is the most of one packet the parser looks at; the rest is
	// skipped as it arrives.
	bodyCap = 8 << 10
	// stmtCache statements remember their SQL (stmtSQLCap bytes of it)
	// for COM_STMT_EXECUTE's request_resource.
	stmtCache  = 8
	stmtSQLCap = 256
	nameCap    = 64
	// maxPlain bounds one compressed frame and what it inflates to.
	maxPlain = 1 << 20
)

// Parser holds one MySQL connection's state. It is not safe for concurrent
// use; get one from Decoder.NewParser.
type Parser struct {
	skip   [2]int   // bytes of the current packet still to skip
	cont   [2]bool  // the current packet is 16 MiB-1 long: a continuation follows
	resync [2]bool  // after a gap: drop bytes until a boundary is known
	seen   [2]bool  // a packet was seen in this direction
	base   [2]int64 // bytes consumed per direction (error offsets)
	errOff int      // offset of a packet error within the bytes consumed

	plain      [2]*plainBuf // inflated bytes per direction, from plainPool; nil when none
	plainOff   [2]int       // bytes of plain already parsed
	plainSync  [2]bool      // joined mid-exchange: find the first packet boundary in plain
	compressed bool         // the compressed protocol is in use

	phase      phase
	serverCaps uint32
	clientCaps uint32
	capsKnown  bool // both greeting and login were seen
	stopped    StopReason
	changeUser bool // the authentication under way is a COM_CHANGE_USER's

	cmd       byte
	cmds      uint32    // commands seen
	cutAt     [2]uint32 // cmds when the packet waiting for its bytes began (Flush)
	cutKnown  [2]bool
	rs        respState
	resultSet bool
	cols      uint64
	rows      uint64
	affected  uint64
	respLen   int

	version    [nameCap]byte
	versionLen uint8
	db         [nameCap]byte
	dbLen      uint8
	user       [nameCap]byte
	userLen    uint8
	pendingLen int8           // -1: no database change pending
	pendingDB  *[nameCap]byte // the database a USE or COM_INIT_DB awaiting its OK names, from namePool
	stmts      *stmtTable     // prepared statements, made at the first COM_STMT_PREPARE

	// sc holds the values of the message being decoded, taken from
	// scratchPool when a message needs it and given back by Idle.
	sc *scratch
}

// newParser returns a Parser for one connection.
func newParser() *Parser { return &Parser{pendingLen: -1} }

// Compressed tells whether the connection uses the compressed protocol.
func (p *Parser) Compressed() bool { return p.compressed }

// Stopped tells whether and why the parser stopped decoding its flow.
func (p *Parser) Stopped() StopReason { return p.stopped }

// User returns the user of the login request or of the last
// COM_CHANGE_USER, if seen.
func (p *Parser) User() []byte { return p.user[:p.userLen] }

// Database returns the current database.
func (p *Parser) Database() []byte { return p.db[:p.dbLen] }

// ServerVersion returns the version of the server greeting, if seen.
func (p *Parser) ServerVersion() []byte { return p.version[:p.versionLen] }

// Gap drops the partial packet of direction dir. The client side
// resynchronises on the next segment that starts with a command packet
// (over the compressed protocol, with a frame of sequence 0); the server
// side drops bytes until the client sends its next command.
func (p *Parser) Gap(dir l7.Direction, n int) {
	d := int(dir & 1)
	if p.compressed {
		// Frame boundaries are lost: the inflated bytes not parsed yet
		// go, and the direction waits for the next exchange's first
		// frame (sequence 0 from the client).
		if p.plain[d] != nil {
			p.plain[d].b = p.plain[d].b[:0]
		}
		p.plainOff[d] = 0
	}
	p.skip[d], p.cont[d], p.resync[d], p.cutKnown[d] = 0, false, true, false
	if n > 0 {
		p.base[d] += int64(n)
	}
	if d == client {
		p.rs = rsNone
		p.cols, p.rows, p.affected, p.resultSet = 0, 0, 0, false
	}
}

// Parse consumes whole packets (or a bounded prefix of a long one) from data
// until one completes a message. Over the compressed protocol it consumes
// whole compressed frames and parses the packets they inflate to; when one
// frame holds the ends of two messages, the second is returned by the next
// call with n = 0.
func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	d := int(dir & 1)
	if p.stopped != NotStopped {
		return 0, false, l7.ErrStop
	}
	if !p.seen[d] && len(data) >= 7+headerLen+1 {
		p.seen[d] = true
		if o := p.join(d, data); o != 0 {
			if o < 0 {
				o = len(data)
			}
			p.base[d] += int64(o)
			return o, false, nil
		}
	}
	if p.resync[d] {
		if !p.resyncEnds(d, data) {
			p.base[d] += int64(len(data))
			return len(data), false, nil
		}
		p.resync[d] = false
	}
	var n int
	var ok bool
	var err error
	if p.compressed {
		n, ok, err = p.frames(d, data, m)
	} else {
		n, ok, err = p.packets(d, data, m)
	}
	p.base[d] += int64(n)
	if n > 0 {
		p.seen[d] = true // join judges the first bytes of a direction only
	}
	switch {
	case err == nil, err == l7.ErrNeedMore, err == l7.ErrStop:
	default:
		err = &l7.ParseError{Protocol: Name, Offset: p.base[d] - int64(n) + int64(p.errOff), Err: err}
	}
	return n, ok, err
}

// packets runs the packet loop over data. On a packet error p.errOff is
// the packet's offset in data.
func (p *Parser) packets(d int, data []byte, m *l7.Message) (int, bool, error) {
	consumed := 0
	for {
		if consumed > 0 && p.Trailing(l7.Direction(d)) {
			// Bytes that belong to no message were consumed: the next
			// call starts with the next packet, so that a message
			// starts with its own first packet however the bytes came
			// (the engine takes the start of a call's bytes for the
			// start of the message it returns).
			return consumed, false, nil
		}
		rest := data[consumed:]
		if p.skip[d] > 0 {
			if len(rest) == 0 {
				break
			}
			k := min(p.skip[d], len(rest))
			p.skip[d] -= k
			consumed += k
			continue
		}
		if len(rest) < headerLen {
			break
		}
		plen, seq := le24(rest), rest[3]
		if d == server {
			p.respLen += headerLen + plen
		}
		if p.cont[d] {
			// A continuation of a 16 MiB-1 packet: nothing to look at.
			p.cont[d] = plen == maxPayload
			p.skip[d] = plen
			consumed += headerLen
			continue
		}
		avail := len(rest) - headerLen
		if avail < min(plen, bodyCap) {
			if d == server {
				p.respLen -= headerLen + plen // counted again when it is whole
			}
			if !p.cutKnown[d] {
				p.cutAt[d], p.cutKnown[d] = p.cmds, true
			}
			break
		}
		p.cutKnown[d] = false
		body := rest[headerLen : headerLen+min(plen, avail)]
		p.skip[d] = plen - len(body)
		p.cont[d] = plen == maxPayload
		start := consumed
		consumed += headerLen + len(body)
		var ok bool
		var err error
		if d == client {
			ok, err = p.client(body, plen, seq, m)
		} else {
			ok, err = p.server(body, plen, seq, m)
		}
		if err != nil {
			p.errOff = start
			return consumed, false, err
		}
		if ok {
			return consumed, true, nil
		}
	}
	if consumed == 0 {
		return 0, false, l7.ErrNeedMore
	}
	return consumed, false, nil
}

// frames consumes whole compressed frames (7-byte header: compressed
// length, sequence, uncompressed length 0 for a frame sent as is), inflates
// them into the direction's plain buffer and runs the packet loop over it.
func (p *Parser) frames(d int, data []byte, m *l7.Message) (int, bool, error) {
	consumed := 0
	for {
		if pl := p.unparsed(d); len(pl) > 0 {
			n, ok, err := p.packets(d, pl, m)
			p.plainOff[d] += n
			switch {
			case ok:
				return consumed, true, nil
			case err == l7.ErrStop:
				return consumed, false, err
			case err != nil && err != l7.ErrNeedMore:
				p.errOff = consumed
				return consumed, false, err
			case n > 0:
				continue
			}
		}
		rest := data[consumed:]
		if len(rest) < 7 {
			break
		}
		clen, ulen := le24(rest), le24(rest[4:])
		if ulen > maxPlain || 7+clen > maxPlain {
			p.stopped = StopCompressed // too big to inflate within bounds
			return consumed, false, l7.ErrStop
		}
		if 7+clen > len(rest) {
			break
		}
		if err := p.inflate(d, rest[7:7+clen], ulen); err != nil {
			p.stopped = StopCompressed
			return consumed, false, l7.ErrStop
		}
		consumed += 7 + clen
		if p.plainSync[d] {
			// Skip the cut packet the frame starts with, or the
			// whole frame when no boundary shows.
			pl := p.unparsed(d)
			if o := resyncOffset(pl, resyncScan); o >= 0 {
				p.plainOff[d] += o
				p.plainSync[d] = false
			} else {
				p.plainOff[d] += len(pl)
			}
		}
	}
	if consumed == 0 {
		return 0, false, l7.ErrNeedMore
	}
	return consumed, false, nil
}

var errBadFrame = errors.New("mysql: bad compressed frame")

// unparsed returns the inflated bytes of direction d not parsed yet.
func (p *Parser) unparsed(d int) []byte {
	if p.plain[d] == nil {
		return nil
	}
	return p.plain[d].b[p.plainOff[d]:]
}

// inflate appends a frame's payload to the plain buffer of direction d,
// after moving the bytes not parsed yet to its start. Each compressed
// frame holds a zlib stream of its own (the server and the client compress
// each packet with a fresh stream), inflated by inflateTo (inflate.go)
// with Huffman tables from the pool that go back right after.
func (p *Parser) inflate(d int, frame []byte, ulen int) error {
	pb := p.plain[d]
	if pb == nil {
		pb = plainPool.Get().(*plainBuf)
		p.plain[d] = pb
	}
	left := copy(pb.b, pb.b[p.plainOff[d]:])
	pb.b, p.plainOff[d] = pb.b[:left], 0
	raw := ulen == 0
	if raw {
		ulen = len(frame)
	}
	if left+ulen > cap(pb.b) {
		b := make([]byte, left, max(left+ulen, 2*cap(pb.b), plainMin))
		copy(b, pb.b)
		pb.b = b
	}
	out := pb.b[left : left+ulen]
	if raw {
		copy(out, frame)
		pb.b = pb.b[:left+ulen]
		return nil
	}
	// A zlib stream: 2-byte header (deflate, no preset dictionary), the
	// deflate data, an Adler-32 that is not checked (the parser reads
	// the inflated bytes, a corrupt frame's packets fail as packets).
	if len(frame) < 2 || frame[0]&0x0f != 8 || frame[1]&0x20 != 0 || (int(frame[0])<<8|int(frame[1]))%31 != 0 {
		return errBadFrame
	}
	z := inflaters.Get().(*inflateTables)
	err := z.inflateTo(frame[2:], out)
	inflaters.Put(z)
	if err != nil {
		return err
	}
	pb.b = pb.b[:left+ulen]
	return nil
}

// join looks at the first bytes of a direction. Before the greeting (a
// capture started mid-connection) they may start in the middle of a
// packet or, over the compressed protocol, of a frame: join recognises
// compressed framing, and returns -1 when the first header cannot start a
// packet (the direction then waits for the next exchange, as after a gap).
// A cut packet that looks whole is parsed; the rest of the response it
// belongs to is then passed over (rsTail).
func (p *Parser) join(d int, data []byte) int {
	if p.phase != phaseUnknown || checkPlain(data) != l7.No {
		return 0
	}
	if isCompressed(data) {
		// A frame numbered past 0 may carry the middle of a packet
		// that began in the frame before.
		p.compressed, p.plainSync[d] = true, data[3] != 0
		return 0
	}
	// Only the first header is judged, so that the decision does not
	// depend on how much of the stream has arrived: a length past
	// resyncMaxPlen is the middle of a packet.
	o := -1
	if !p.compressed && le24(data) <= resyncMaxPlen {
		o = 0
	}
	if o < 0 {
		p.resync[d] = true
		if d == client {
			p.rs = rsNone
		}
	}
	return o
}

// resyncEnds tells whether data, the next bytes of direction d after a
// gap, start a message: a command from the client; from the server, the
// first packet (or compressed frame) of the response to a command seen
// since (a hole that ended on the boundary of that response).
func (p *Parser) resyncEnds(d int, data []byte) bool {
	if d == client {
		return p.startsExchange(data)
	}
	if p.rs != rsFirst || len(data) < headerLen+1 || data[3] != 1 {
		return false
	}
	if p.compressed {
		return isCompressed(data) // the response's first frame is numbered 1
	}
	n, ok, exact := chainEnds(data, 0)
	if !ok || n == 1 && !exact {
		return false
	}
	switch data[headerLen] {
	case 0x00, 0xff, 0xfe:
		return le24(data) < 1<<16
	}
	return true
}

// startsExchange: data starts with a command packet, or over the
// compressed protocol with a frame of sequence 0 (after a gap).
func (p *Parser) startsExchange(data []byte) bool {
	if !p.compressed {
		return startsCommand(data)
	}
	if len(data) < 7+headerLen+1 || data[3] != 0 || !isCompressed(data) {
		return false
	}
	return le24(data[4:]) != 0 || startsCommand(data[7:])
}

// startsCommand: data starts with a command packet (after a gap).
func startsCommand(data []byte) bool {
	if len(data) < headerLen+1 || data[3] != 0 {
		return false
	}
	body := data[headerLen:]
	plen := le24(data)
	if len(body) > plen {
		body = body[:plen]
	}
	return plen > 0 && isCommand(body, plen)
}

func (p *Parser) client(body []byte, plen int, seq byte, m *l7.Message) (bool, error) {
	if seq == 0 {
		return p.command(body, plen, m)
	}
	if p.phase == phaseGreeted || p.phase == phaseUnknown && len(body) >= loginSize && isLogin(body) {
		return false, p.login(body)
	}
	return false, nil // authentication data, LOCAL INFILE contents
}

// login reads a HandshakeResponse (4.1 or 3.20) or an SSL request.
func (p *Parser) login(body []byte) error {
	if len(body) < 4 {
		return nil
	}
	caps := uint32(le16(body))
	if caps&ClientProtocol41 != 0 {
		caps = le32(body)
	}
	p.clientCaps = caps
	p.capsKnown = p.phase == phaseGreeted
	if caps&ClientSSL != 0 && len(body) == loginSize {
		p.stopped = StopTLS
		return l7.ErrStop
	}
	p.phase, p.changeUser = phaseAuth, false
	if caps&ClientProtocol41 == 0 || len(body) < loginSize {
		return nil
	}
	user, rest := cstring(body[loginSize:])
	p.userLen = uint8(copy(p.user[:], user))
	switch {
	case caps&ClientPluginAuthLenencData != 0:
		v, n, ok := lenenc(rest)
		if !ok || uint64(len(rest)-n) < v {
			return nil
		}
		rest = rest[n+int(v):]
	case caps&ClientSecureConnection != 0:
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return nil
		}
		rest = rest[1+int(rest[0]):]
	default:
		_, rest = cstring(rest)
	}
	if caps&ClientConnectWithDB != 0 {
		if db, _ := cstring(rest); len(db) > 0 {
			p.dbLen = uint8(copy(p.db[:], db))
		}
	}
	return nil
}

// command decodes a command packet into a request.
func (p *Parser) command(body []byte, plen int, m *l7.Message) (bool, error) {
	if len(body) == 0 {
		p.rs = rsNone
		return false, ErrEmptyCommand
	}
	cmd := body[0]
	if commandBytes[cmd] == nil || cmd == ComSleep {
		p.rs = rsNone
		return false, ErrUnknownCommand
	}
	p.resync[server] = false
	p.cmds++
	p.phase = phaseCommand
	p.cmd, p.rs = cmd, rsFirst
	p.cols, p.rows, p.affected, p.resultSet, p.respLen = 0, 0, 0, false, 0
	p.pendingLen = -1

	m.Kind = l7.KindRequest
	m.Length = headerLen + plen
	m.RequestType = commandBytes[cmd]
	if p.versionLen > 0 {
		m.Version = p.version[:p.versionLen]
	}
	if p.dbLen > 0 {
		m.RequestDomain = p.db[:p.dbLen]
	}
	arg := body[1:]
	switch cmd {
	case ComQuery:
		sql := p.queryText(arg)
		m.RequestResource = sql
		m.Endpoint = appendEndpoint(p.scratch().ep[:0], sql)
		if string(m.Endpoint) != "USE" {
			break
		}
		if db, ok := useDatabase(sql); ok {
			p.setPending(db)
		}
	case ComStmtPrepare:
		m.RequestResource = arg
		m.Endpoint = appendEndpoint(p.scratch().ep[:0], arg)
		t := p.stmtTable()
		t.prep = append(t.prep[:0], arg[:min(len(arg), stmtSQLCap)]...)
	case ComInitDB:
		m.RequestResource = arg
		m.RequestDomain = arg
		p.setPending(arg)
	case ComStmtExecute, ComStmtClose, ComStmtReset, ComStmtFetch, ComStmtSendLongData, ComStmtBulkExecute:
		if len(arg) >= 4 {
			id := le32(arg)
			m.RequestID, m.HasRequestID = id, true
			if s := p.stmt(id); s != nil {
				m.RequestResource = s.sql[:len(s.sql):len(s.sql)]
				m.Endpoint = appendEndpoint(p.scratch().ep[:0], m.RequestResource)
				if cmd == ComStmtClose {
					s.used = false
				}
			}
		}
	case ComFieldList:
		m.RequestResource, _ = cstring(arg)
	case ComChangeUser:
		m.RequestResource, _ = cstring(arg)
		p.userLen = uint8(copy(p.user[:], m.RequestResource))
		p.phase, p.changeUser = phaseAuth, true
	}
	switch cmd {
	case ComQuit, ComStmtClose, ComStmtSendLongData:
		m.NoResponse = true
		p.rs = rsDone
	}
	return true, nil
}

// queryText returns the SQL of a COM_QUERY after its query attributes
// (CLIENT_QUERY_ATTRIBUTES), nil when they cannot be walked.
func (p *Parser) queryText(b []byte) []byte {
	if !p.capsKnown {
		// Mid-connection, attributes are recognised only in their
		// common empty form: 0 parameters, 1 parameter set.
		if len(b) >= 2 && b[0] == 0 && b[1] == 1 && looksSQL(b[2:]) {
			return b[2:]
		}
		return b
	}
	if p.clientCaps&p.serverCaps&ClientQueryAttributes == 0 {
		return b
	}
	count, n, ok := lenenc(b)
	if !ok {
		return nil
	}
	b = b[n:]
	if _, n, ok = lenenc(b); !ok {
		return nil
	}
	b = b[n:]
	if count == 0 {
		return b
	}
	if count > uint64(len(b)) {
		return nil
	}
	nb := int(count+7) / 8
	if len(b) < nb+1 {
		return nil
	}
	nulls, bind := b[:nb], b[nb]
	b = b[nb+1:]
	if bind != 1 {
		return b
	}
	// Types and names, then the values of the non-NULL parameters.
	types := b
	for i := 0; i < int(count); i++ {
		if len(b) < 2 {
			return nil
		}
		v, n, ok := lenenc(b[2:])
		if !ok || uint64(len(b)-2-n) < v {
			return nil
		}
		b = b[2+n+int(v):]
	}
	for i := 0; i < int(count); i++ {
		typ := types[0]
		v, n, _ := lenenc(types[2:])
		types = types[2+n+int(v):]
		if nulls[i/8]&(1<<(i%8)) != 0 {
			continue
		}
		size, ok := binarySize(typ, b)
		if !ok || size > len(b) {
			return nil
		}
		b = b[size:]
	}
	return b
}

// binarySize is the length of a binary-protocol value of type typ at b.
func binarySize(typ byte, b []byte) (int, bool) {
	switch typ {
	case 6: // NULL
		return 0, true
	case 1: // TINY
		return 1, true
	case 2, 13: // SHORT, YEAR
		return 2, true
	case 3, 4, 9: // LONG, FLOAT, INT24
		return 4, true
	case 5, 8: // DOUBLE, LONGLONG
		return 8, true
	case 7, 10, 11, 12: // TIMESTAMP, DATE, TIME, DATETIME
		if len(b) < 1 {
			return 0, false
		}
		return 1 + int(b[0]), true
	}
	v, n, ok := lenenc(b)
	if !ok || v > uint64(len(b)) {
		return 0, false
	}
	return n + int(v), true
}

// useDatabase recognises "USE db" (any case, comments before it, db bare
// or quoted, then the end, a semicolon or the next statement) and returns
// db without its quotes.
func useDatabase(sql []byte) ([]byte, bool) {
	s := scanner{b: sql}
	if w, _ := s.next(); w == nil || !upperIs(w, "USE") {
		return nil, false
	}
	s.skip()
	db, ok := s.ident()
	if !ok || len(db) == 0 {
		return nil, false
	}
	if q := db[0]; q == '`' || q == '"' {
		if len(db) < 3 || db[len(db)-1] != q {
			return nil, false
		}
		db = db[1 : len(db)-1]
	}
	s.skip()
	if s.i < len(s.b) && s.b[s.i] != ';' || len(db) > nameCap {
		return nil, false
	}
	return db, true
}

func (p *Parser) stmt(id uint32) *stmt {
	if p.stmts == nil {
		return nil
	}
	for i := range p.stmts.s {
		if s := &p.stmts.s[i]; s.used && s.id == id {
			return s
		}
	}
	return nil
}

func (p *Parser) server(body []byte, plen int, seq byte, m *l7.Message) (bool, error) {
	if len(body) == 0 {
		return false, nil // an empty packet ends a 16 MiB-1 sequence or is noise
	}
	switch p.phase {
	case phaseUnknown:
		if seq == 0 && body[0] == greetingProtocol && isGreeting(body, plen) {
			p.greeting(body)
			return false, nil
		}
	case phaseGreeted:
		if body[0] != 0xff {
			return false, nil
		}
	case phaseAuth:
		switch body[0] {
		case 0x00:
			p.phase = phaseCommand
			if both := p.serverCaps & p.clientCaps; p.capsKnown && both&(ClientCompress|ClientZstdCompression) != 0 {
				// Every byte after this OK is framed compressed.
				if both&ClientCompress == 0 {
					p.stopped = StopCompressed // zstd only
					return false, l7.ErrStop
				}
				p.compressed = true
			}
			if p.changeUser {
				p.changeUser = false
				p.rs = rsDone
				return p.ok(body, m), nil
			}
			p.rs = rsDone
			return false, nil
		case 0xff:
			p.phase, p.changeUser, p.rs = phaseCommand, false, rsDone
			return p.errPacket(body, m), nil
		}
		return false, nil // auth switch (0xfe), more data (0x01), public key
	}
	return p.response(body, plen, seq, m), nil
}

// greeting reads the server version and capabilities.
func (p *Parser) greeting(body []byte) {
	v, rest := cstring(body[1:])
	p.versionLen = uint8(copy(p.version[:], v))
	if len(rest) >= 4+8+1+2 {
		p.serverCaps = uint32(le16(rest[13:]))
		if len(rest) >= 4+8+1+2+1+2+2 {
			p.serverCaps |= uint32(le16(rest[18:])) << 16
		}
	}
	p.phase = phaseGreeted
}

// response advances the response state machine by one server packet.
func (p *Parser) response(body []byte, plen int, seq byte, m *l7.Message) bool {
	first := body[0]
	switch p.rs {
	case rsDone:
		if seq != 1 {
			return false
		}
		// A response's first packet when none is due: the answer to
		// a command lost in a hole of the capture.
		p.rs = rsNone
		p.cols, p.rows, p.affected, p.resultSet = 0, 0, 0, false
		return p.response(body, plen, seq, m)
	case rsNone, rsFirst:
		if first == 0xff {
			return p.errPacket(body, m)
		}
		if p.rs == rsNone && seq != 1 {
			// Mid-response when the capture started: only a response's
			// first packet (sequence 1) can be judged. The rest of this
			// one is passed over up to its end, even where its sequence
			// ids wrap to 1.
			p.rs = rsTail
			return p.response(body, plen, seq, m)
		}
		cmd := p.cmd
		if p.rs == rsNone {
			cmd = ComQuery // a response to a command not seen: judge it as a query's
		}
		switch cmd {
		case ComStmtPrepare:
			if first == 0x00 && len(body) >= 12 {
				return p.prepared(body, m)
			}
		case ComFieldList:
			p.rs = rsFieldList
			return p.response(body, plen, seq, m)
		case ComStatistics:
			p.rs = rsDone
			p.fill(m, l7.StatusOk)
			return true
		case ComStmtFetch:
			p.rs, p.resultSet = rsRows, true
			return p.row(body, plen, m)
		}
		switch {
		case first == 0x00:
			return p.ok(body, m)
		case first == 0xfe && plen < 9:
			if p.rs == rsNone {
				p.rs = rsDone // the tail of a response begun before the capture
				return false
			}
			return p.ok(body, m) // EOF: COM_SET_OPTION, COM_DEBUG
		case first == 0xfb:
			p.rs = rsInfile
			return false
		}
		n, k, ok := lenenc(body)
		if !ok {
			p.rs = rsDone
			p.fill(m, l7.StatusUnknown)
			return true
		}
		p.cols, p.resultSet = n, true
		p.rs = rsColumns
		// MariaDB's MARIADB_CLIENT_CACHE_METADATA adds a byte after the
		// count: 0 when the client has the definitions cached and none
		// are sent.
		if n == 0 || len(body) > k && body[k] == 0 {
			p.rs = rsColumnsEnd
		}
	case rsColumns:
		if first == 0xff {
			return p.errPacket(body, m)
		}
		if p.cols--; p.cols == 0 {
			p.rs = rsColumnsEnd
		}
	case rsColumnsEnd:
		p.rs = rsRows
		// An EOF (5 bytes; an OK with the 0xfe header is at least 7)
		// separates definitions from rows unless CLIENT_DEPRECATE_EOF.
		if first == 0xfe && plen <= 5 {
			return false
		}
		return p.row(body, plen, m)
	case rsRows:
		return p.row(body, plen, m)
	case rsTail:
		switch {
		case first == 0xff:
			return p.errPacket(body, m)
		case first == 0xfe && plen < maxPayload:
			p.rs = rsDone // EOF, or OK with CLIENT_DEPRECATE_EOF (rows starting 0xfe are longer)
		}
	case rsFieldList:
		switch {
		case first == 0xff:
			return p.errPacket(body, m)
		case first == 0xfe && plen < 9:
			p.rs = rsDone
			p.fill(m, l7.StatusOk)
			return true
		}
	case rsInfile:
		switch first {
		case 0xff:
			return p.errPacket(body, m)
		case 0x00:
			return p.ok(body, m)
		}
	}
	return false
}

// row counts a row or ends the result set: 0xfe in a packet shorter than
// 16 MiB-1 is EOF or OK (a row starting with 0xfe is at least that long).
func (p *Parser) row(body []byte, plen int, m *l7.Message) bool {
	switch {
	case body[0] == 0xff:
		return p.errPacket(body, m)
	case body[0] == 0xfe && plen < maxPayload:
		var status int
		if plen <= 5 {
			if len(body) >= 5 {
				status = le16(body[3:])
			}
		} else {
			status = okStatus(body)
		}
		if status&serverMoreResultsExists != 0 {
			p.rs = rsFirst
			return false
		}
		p.rs = rsDone
		p.fill(m, l7.StatusOk)
		return true
	}
	p.rows++
	return false
}

// okStatus returns the status flags of an OK packet.
func okStatus(body []byte) int {
	b := body[1:]
	for range 2 { // affected rows, last insert id
		_, n, ok := lenenc(b)
		if !ok {
			return 0
		}
		b = b[n:]
	}
	if len(b) < 2 {
		return 0
	}
	return le16(b)
}

// ok handles an OK (or EOF) packet ending a response.
func (p *Parser) ok(body []byte, m *l7.Message) bool {
	if p.pendingLen >= 0 {
		// The USE or COM_INIT_DB succeeded (with "USE d; SELECT ...",
		// the OK of its first statement).
		p.dbLen = uint8(copy(p.db[:], p.pendingDB[:p.pendingLen]))
		p.pendingLen = -1
	}
	if body[0] == 0x00 {
		if v, _, ok := lenenc(body[1:]); ok {
			p.affected += v
		}
		if okStatus(body)&serverMoreResultsExists != 0 {
			p.rs = rsFirst
			return false
		}
	}
	p.rs = rsDone
	p.fill(m, l7.StatusOk)
	return true
}

// prepared handles COM_STMT_PREPARE_OK: the statement id becomes the
// response's request_id; the parameter and column definitions that follow
// are ignored (rsDone).
func (p *Parser) prepared(body []byte, m *l7.Message) bool {
	id := le32(body[1:])
	t := p.stmtTable()
	s := p.stmt(id)
	if s == nil {
		s = &t.s[t.next]
		t.next = (t.next + 1) % stmtCache
	}
	s.id, s.used = id, true
	s.sql = append(s.sql[:0], t.prep...)
	p.rs = rsDone
	p.fill(m, l7.StatusOk)
	m.RequestID, m.HasRequestID = id, true
	return true
}

// errPacket handles an ERR packet: code, optional "#" and SQLSTATE,
// message.
func (p *Parser) errPacket(body []byte, m *l7.Message) bool {
	p.rs = rsDone
	p.pendingLen = -1
	p.fill(m, l7.StatusServerError)
	m.Result = nil
	if len(body) >= 3 {
		m.Code, m.HasCode = int32(le16(body[1:])), true
	}
	switch {
	case len(body) >= 9 && body[3] == '#':
		m.Exception = body[9:]
	case len(body) > 3:
		m.Exception = body[3:]
	}
	return true
}

// fill sets the fields every response has.
func (p *Parser) fill(m *l7.Message, st l7.Status) {
	m.Kind = l7.KindResponse
	m.Status = st
	m.Length = p.respLen
	p.respLen = 0
	if p.versionLen > 0 {
		m.Version = p.version[:p.versionLen]
	}
	if st != l7.StatusOk {
		return
	}
	if p.resultSet {
		m.Result = strconv.AppendUint(append(p.scratch().result[:0], "rows="...), p.rows, 10)
	} else if p.cmd != ComStmtPrepare && p.cmd != ComStatistics && p.cmd != ComFieldList {
		m.Result = strconv.AppendUint(append(p.scratch().result[:0], "affected_rows="...), p.affected, 10)
	}
}

// cstring splits b at its first NUL: the string and what follows it (all
// of b and nothing when there is no NUL).
func cstring(b []byte) ([]byte, []byte) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
