package query

import (
	"context"

	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
)

// NewClickHouseTraceStore returns the TraceStore of a ClickHouse store's
// l7_flow_log: a row's span id is batch_seq<<32 | row_no, plus one (the
// search's cursor of /api/v1/l7 plus one, as the "id" of its rows). The
// parts of a round run one statement each (ClickHouse 18.16 has no
// parenthesised UNION ALL parts); arguments are bound as literals
// (clickhouse.Bind).
func NewClickHouseTraceStore(st *clickhouse.Store) *TraceStore {
	return &TraceStore{db: chTraceDB{st}, dict: st.Dict()}
}

type chTraceDB struct{ st *clickhouse.Store }

func (c chTraceDB) query(ctx context.Context, stmt string, args []any) (traceRows, error) {
	q, err := clickhouse.Bind(stmt, args...)
	if err != nil {
		return nil, err
	}
	return c.st.Conn().Query(ctx, q)
}

func (c chTraceDB) columnsQuery() string {
	return "SELECT name FROM system.columns WHERE database = " + clickhouse.Quote(c.st.Database()) + " AND table = 'l7_flow_log'"
}

func (c chTraceDB) table() string { return c.st.Database() + ".l7_flow_log" }
func (chTraceDB) rowID() string   { return "bitOr(bitShiftLeft(batch_seq, 32), toUInt64(row_no))" }
func (chTraceDB) union() bool     { return false }
