package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
)

// Backend is a record store behind the server's ingest and query packages:
// this package's DuckDB Store and the ClickHouse store
// (examples/server/clickhouse) implement it, so the server runs on either.
//
// Ingest has Store.Ingest's contract (one batch stored entirely or not at
// all, a batch id stored once within the dedup window, the errors ErrSchema
// and the dictionary's, which ingest maps to 400 and 409). Dict and TagKeys
// are the dictionary and tag keys the queries translate strings with.
// Implementations are safe for concurrent use.
type Backend interface {
	Ingest(batchID string, b *encoding.Batch) (Result, error)
	Dict() *encoding.Dictionary
	TagKeys() []string
	Querier
	Stats() Stats
	// Maintain forgets old batch ids and applies retention; the server
	// calls it periodically.
	Maintain(now time.Time) error
	Close() error
}

// Filter is the conditions of a query over a record table, ANDed: SQL
// boolean expressions on its columns (as named in RecordColumns and
// "<key>_id_<side>") with '?' placeholders, and their arguments (int64,
// uint32 or string), in order. The query package builds it from tag
// strings and column values; both stores' SQL dialects read it.
type Filter struct {
	Conds []string
	Args  []any
}

func (f Filter) where() string {
	if len(f.Conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.Conds, " AND ")
}

// Querier answers the query API's questions in its store's SQL dialect.
type Querier interface {
	// Search returns up to limit rows of table ("l4_flow_log" or
	// "l7_flow_log") matching f whose cursor is above after (-1 for the
	// first page), in cursor order. Row values are uint64, int64, uint32 (tag ids), string or
	// nil (NULL).
	Search(ctx context.Context, table string, f Filter, after int64, limit int) ([]Row, error)
	// ServiceMap groups l7_flow_log rows matching f by client and server
	// (service id, pod id, and IP when both ids are 0) and l7_protocol.
	ServiceMap(ctx context.Context, f Filter) ([]EdgeRow, error)
	// RED groups l7_flow_log rows matching f by server service (IP:port
	// when untagged), with byEndpoint also by endpoint (request_resource
	// when it is empty).
	RED(ctx context.Context, f Filter, byEndpoint bool) ([]REDRow, error)
}

// Row is a record of a search: its paging cursor and its columns.
type Row struct {
	Cursor int64
	Cols   []string
	Vals   []any
}

// EdgeRow is a group of ServiceMap. The latencies are of the rows with
// both a request and a response, in microseconds.
type EdgeRow struct {
	ClientService, ClientPod uint32
	ClientIP                 string // "" when a tag names the client
	ServerService, ServerPod uint32
	ServerIP                 string
	L7Protocol               string
	Requests, Errors         int64
	AvgLatencyUS             float64
	MaxLatencyUS             float64
}

// REDRow is a group of RED. Span is max(end_time) - min(start_time) of
// the group's rows, in nanoseconds.
type REDRow struct {
	Service                    uint32
	Addr                       string // "ip:port" when Service is 0
	Endpoint, L7Protocol       string
	Requests, Errors           int64
	AvgLatencyUS, P99LatencyUS float64
	MaxLatencyUS               float64
	Span                       int64
}

// ColumnDef is a fixed column of a record table: its RECORDS.md name and
// the wire type its values come in.
type ColumnDef struct {
	Name string
	Wire encoding.ColumnType
	// Nullable: the column is NULL, not '' or 0, in rows whose frame left
	// it out (tap_side, which OTel spans set and old agents do not).
	Nullable bool
}

// RecordColumns returns the fixed columns of "l4_flow_log" or
// "l7_flow_log" in table order (nil for another name), for stores that
// keep the same logical schema. The tag columns "<key>_id_0" and
// "<key>_id_1" follow them; l7_flow_log also has L7Extra.
func RecordColumns(table string) []ColumnDef {
	var cols []column
	switch table {
	case "l4_flow_log":
		cols = l4Columns
	case "l7_flow_log":
		cols = l7Columns
	default:
		return nil
	}
	out := make([]ColumnDef, len(cols))
	for i, c := range cols {
		out[i] = ColumnDef{c.name, c.wire, nullable[c.name]}
	}
	return out
}

// L7Extra returns the l7_flow_log columns (unsigned, nullable) the wire
// format does not carry: none since it carries the syscall trace ids.
func L7Extra() []string { return append([]string(nil), l7Extra...) }

// TraceColumns returns the l7_flow_log columns the trace search looks
// rows up by (indexed in every store).
func TraceColumns() []string { return append([]string(nil), traceIndexes...) }

// ValidUTF8 returns s with each invalid byte replaced by U+FFFD, as the
// agent's JSON writes strings.
func ValidUTF8(s string) string { return validUTF8(s) }

// ErrorStatus is the condition of an l7 error: response_status client
// error, server error or timeout.
const ErrorStatus = "response_status IN (1, 2, 3)"

// The DuckDB Store's Querier.

const duckLatency = "(end_time - start_time) / 1000.0"

// Search implements Querier; the cursor is DuckDB's rowid.
func (s *Store) Search(ctx context.Context, table string, f Filter, after int64, limit int) ([]Row, error) {
	if RecordColumns(table) == nil {
		return nil, ErrSchema
	}
	f.Conds = append(f.Conds[:len(f.Conds):len(f.Conds)], "rowid > ?")
	args := append(f.Args[:len(f.Args):len(f.Args)], after, limit)
	rows, err := s.db.QueryContext(ctx, "SELECT rowid, * FROM "+table+f.where()+" ORDER BY rowid LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []Row
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, Row{Cursor: vals[0].(int64), Cols: cols[1:], Vals: vals[1:]})
	}
	return out, rows.Err()
}

// ServiceMap implements Querier.
func (s *Store) ServiceMap(ctx context.Context, f Filter) ([]EdgeRow, error) {
	q := `SELECT service_id_0, pod_id_0, CASE WHEN service_id_0 = 0 AND pod_id_0 = 0 THEN ip_0 END AS c,
		service_id_1, pod_id_1, CASE WHEN service_id_1 = 0 AND pod_id_1 = 0 THEN ip_1 END AS s,
		l7_protocol, count(*), count(*) FILTER (WHERE ` + ErrorStatus + `),
		COALESCE(avg(` + duckLatency + `) FILTER (WHERE has_request = 1 AND has_response = 1), 0),
		COALESCE(max(` + duckLatency + `) FILTER (WHERE has_request = 1 AND has_response = 1), 0)
		FROM l7_flow_log` + f.where() + ` GROUP BY ALL ORDER BY count(*) DESC`
	rows, err := s.db.QueryContext(ctx, q, f.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EdgeRow
	for rows.Next() {
		var e EdgeRow
		var cip, sip sql.NullString
		if err := rows.Scan(&e.ClientService, &e.ClientPod, &cip, &e.ServerService, &e.ServerPod, &sip, &e.L7Protocol, &e.Requests, &e.Errors, &e.AvgLatencyUS, &e.MaxLatencyUS); err != nil {
			return nil, err
		}
		e.ClientIP, e.ServerIP = cip.String, sip.String
		out = append(out, e)
	}
	return out, rows.Err()
}

// RED implements Querier; P99 is quantile_cont (linear interpolation).
func (s *Store) RED(ctx context.Context, f Filter, byEndpoint bool) ([]REDRow, error) {
	ep := "''"
	if byEndpoint {
		ep = "COALESCE(NULLIF(endpoint, ''), request_resource)"
	}
	q := `SELECT service_id_1, CASE WHEN service_id_1 = 0 THEN ip_1 || ':' || server_port END, ` + ep + `, l7_protocol,
		count(*), count(*) FILTER (WHERE ` + ErrorStatus + `),
		COALESCE(avg(` + duckLatency + `) FILTER (WHERE has_request = 1 AND has_response = 1), 0),
		COALESCE(quantile_cont(` + duckLatency + `, 0.99) FILTER (WHERE has_request = 1 AND has_response = 1), 0),
		COALESCE(max(` + duckLatency + `) FILTER (WHERE has_request = 1 AND has_response = 1), 0),
		max(end_time) - min(start_time)
		FROM l7_flow_log` + f.where() + ` GROUP BY ALL ORDER BY count(*) DESC`
	rows, err := s.db.QueryContext(ctx, q, f.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []REDRow
	for rows.Next() {
		var x REDRow
		var addr sql.NullString
		if err := rows.Scan(&x.Service, &addr, &x.Endpoint, &x.L7Protocol, &x.Requests, &x.Errors, &x.AvgLatencyUS, &x.P99LatencyUS, &x.MaxLatencyUS, &x.Span); err != nil {
			return nil, err
		}
		x.Addr = addr.String
		out = append(out, x)
	}
	return out, rows.Err()
}

var _ Backend = (*Store)(nil)
