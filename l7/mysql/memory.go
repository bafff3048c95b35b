package mysql

import (
	"sync"

	"github.com/metaflow-go/metaflow/l7"
)

var _ l7.Idler = (*Parser)(nil)

// scratch holds the values of one message that the parser builds rather
// than aliases from its input: needed only while a message is decoded and
// used.
type scratch struct {
	result [40]byte          // "rows=N", "affected_rows=N"
	ep     [endpointCap]byte // the endpoint of a statement
}

// scratchPool holds the scratch of idle parsers, shared by every parser.
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// scratch returns the parser's scratch, taking one from the pool.
func (p *Parser) scratch() *scratch {
	if p.sc == nil {
		p.sc = scratchPool.Get().(*scratch)
	}
	return p.sc
}

// Idle implements l7.Idler: no message the parser filled is in use any
// more, so it gives its scratch back to the pool, and the inflated bytes
// of each direction when it parsed them all. An idle connection's parser
// then holds its framing, the connection's names and capabilities, and its
// prepared statements; over the compressed protocol, also the inflated
// start of a packet that the next frame completes.
func (p *Parser) Idle() {
	if p.sc != nil {
		scratchPool.Put(p.sc)
		p.sc = nil
	}
	if p.pendingDB != nil && p.pendingLen < 0 {
		namePool.Put(p.pendingDB)
		p.pendingDB = nil
	}
	for d, pb := range p.plain {
		if pb == nil || p.plainOff[d] < len(pb.b) {
			continue
		}
		p.plain[d], p.plainOff[d] = nil, 0
		if cap(pb.b) <= maxPooledPlain {
			pb.b = pb.b[:0]
			plainPool.Put(pb)
		}
	}
}

// plainBuf holds the inflated bytes of one direction of a connection that
// uses the compressed protocol.
type plainBuf struct{ b []byte }

const (
	// plainMin is the smallest plain buffer made: room for the frames of
	// a server's default net_buffer_length (16 KiB).
	plainMin = 16 << 10
	// maxPooledPlain bounds the plain buffers kept in plainPool: a larger
	// one (a frame of up to maxPlain inflated bytes) goes to the garbage
	// collector once its connection is idle.
	maxPooledPlain = 256 << 10
)

// plainPool holds the plain buffers of idle parsers.
var plainPool = sync.Pool{New: func() any { return new(plainBuf) }}

// inflaters holds the deflate decoders' tables (inflate.go) not
// inflating a frame now, shared by every parser: a parser holds one only
// during inflate.
var inflaters = sync.Pool{New: func() any { return new(inflateTables) }}

// stmtTable remembers the SQL of the last stmtCache prepared statements,
// for COM_STMT_EXECUTE's request_resource. Each statement holds the length
// of its SQL (up to stmtSQLCap bytes), keeping its memory when the slot is
// reused.
type stmtTable struct {
	prep []byte // SQL of the COM_STMT_PREPARE awaiting its response
	s    [stmtCache]stmt
	next int
}

type stmt struct {
	id   uint32
	used bool
	sql  []byte
}

// stmtTable returns the prepared statements' table, made at first use.
func (p *Parser) stmtTable() *stmtTable {
	if p.stmts == nil {
		p.stmts = new(stmtTable)
	}
	return p.stmts
}

// clear forgets every statement, keeping the memory.
func (t *stmtTable) clear() {
	t.prep, t.next = t.prep[:0], 0
	for i := range t.s {
		t.s[i] = stmt{sql: t.s[i].sql[:0]}
	}
}

// commandBytes holds the command names as bytes for Message.RequestType;
// nil for a byte that is no command.
var commandBytes = func() (b [256][]byte) {
	for c := range b {
		if n := CommandName(byte(c)); n != "" {
			b[c] = []byte(n)
		}
	}
	return b
}()

// setPending remembers db (its first nameCap bytes) as the database of
// the connection once the server answers OK.
func (p *Parser) setPending(db []byte) {
	if p.pendingDB == nil {
		p.pendingDB = namePool.Get().(*[nameCap]byte)
	}
	p.pendingLen = int8(copy(p.pendingDB[:], db))
}

// namePool holds the pending database buffers of parsers awaiting no
// database change.
var namePool = sync.Pool{New: func() any { return new([nameCap]byte) }}
