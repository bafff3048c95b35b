package clickhouse

import (
	"context"
	"strings"

	"github.com/metaflow-go/metaflow/examples/server/store"
)

// The query API's questions in ClickHouse SQL (store.Querier).

const latency = "(end_time - start_time) / 1000.0"

const answered = "has_request = 1 AND has_response = 1"

func where(f store.Filter, extra ...string) (string, error) {
	conds := append(append([]string(nil), f.Conds...), extra...)
	if len(conds) == 0 {
		return "", nil
	}
	return Bind(" WHERE "+strings.Join(conds, " AND "), f.Args...)
}

// columns returns the columns of table as the DuckDB store has them (no
// row_no), in table order.
func (s *Store) columns(table string) []string {
	cols := []string{"batch_seq"}
	for _, c := range store.RecordColumns(table) {
		cols = append(cols, c.Name)
	}
	if table == "l7_flow_log" {
		cols = append(cols, store.L7Extra()...)
	}
	for _, k := range s.TagKeys() {
		cols = append(cols, k+"_id_0", k+"_id_1")
	}
	return cols
}

// Search implements store.Querier. The cursor is batch_seq<<32 | row_no,
// the tables' sort key; after < 0 is the first page.
func (s *Store) Search(ctx context.Context, table string, f store.Filter, after int64, limit int) ([]store.Row, error) {
	if store.RecordColumns(table) == nil {
		return nil, store.ErrSchema
	}
	cols := s.columns(table)
	var cursor []string
	if after >= 0 {
		seq, no := uint64(after)>>32, uint64(after)&(1<<32-1)
		c, err := Bind("(batch_seq > ? OR (batch_seq = ? AND row_no > ?))", seq, seq, no)
		if err != nil {
			return nil, err
		}
		cursor = append(cursor, c)
	}
	w, err := where(f, cursor...)
	if err != nil {
		return nil, err
	}
	q := "SELECT row_no, " + strings.Join(cols, ", ") + " FROM " + s.t(table) + w + " ORDER BY batch_seq, row_no LIMIT " + itoa(limit)
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Row
	for rows.Next() {
		vals := make([]any, len(cols)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		seq, _ := vals[1].(uint64)
		no, _ := vals[0].(uint32)
		out = append(out, store.Row{Cursor: int64(seq<<32 | uint64(no)), Cols: cols, Vals: vals[1:]})
	}
	return out, rows.Err()
}

func itoa(n int) string {
	s, _ := Bind("?", n)
	return s
}

// ServiceMap implements store.Querier.
func (s *Store) ServiceMap(ctx context.Context, f store.Filter) ([]store.EdgeRow, error) {
	w, err := where(f)
	if err != nil {
		return nil, err
	}
	q := `SELECT service_id_0 AS cs, pod_id_0 AS cp, if(service_id_0 = 0 AND pod_id_0 = 0, ifNull(ip_0, ''), '') AS c,
		service_id_1 AS ss, pod_id_1 AS sp, if(service_id_1 = 0 AND pod_id_1 = 0, ifNull(ip_1, ''), '') AS s,
		l7_protocol AS proto, toInt64(count()) AS n, toInt64(countIf(ifNull(` + store.ErrorStatus + `, 0))),
		if(countIf(` + answered + `) = 0, 0, avgIf(` + latency + `, ` + answered + `)),
		if(countIf(` + answered + `) = 0, 0, maxIf(` + latency + `, ` + answered + `))
		FROM ` + s.t("l7_flow_log") + w + ` GROUP BY cs, cp, c, ss, sp, s, proto ORDER BY n DESC`
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.EdgeRow
	for rows.Next() {
		var e store.EdgeRow
		if err := rows.Scan(&e.ClientService, &e.ClientPod, &e.ClientIP, &e.ServerService, &e.ServerPod, &e.ServerIP, &e.L7Protocol, &e.Requests, &e.Errors, &e.AvgLatencyUS, &e.MaxLatencyUS); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RED implements store.Querier; P99 is quantileExactInclusive, the
// linear interpolation DuckDB's quantile_cont computes (with Compat,
// quantileExact).
func (s *Store) RED(ctx context.Context, f store.Filter, byEndpoint bool) ([]store.REDRow, error) {
	w, err := where(f)
	if err != nil {
		return nil, err
	}
	// quantileExactInclusive came in ClickHouse 20.1: older servers get
	// quantileExact (the nearest rank above, not interpolated).
	p99 := "quantileExactInclusiveIf(0.99)"
	if s.cfg.Compat {
		p99 = "quantileExactIf(0.99)"
	}
	ep := "''"
	if byEndpoint {
		ep = "if(endpoint = '', request_resource, endpoint)"
	}
	q := `SELECT service_id_1 AS svc, if(service_id_1 = 0, ifNull(concat(ip_1, ':', toString(server_port)), ''), '') AS addr, ` + ep + ` AS ep, l7_protocol AS proto,
		toInt64(count()) AS n, toInt64(countIf(ifNull(` + store.ErrorStatus + `, 0))),
		if(countIf(` + answered + `) = 0, 0, avgIf(` + latency + `, ` + answered + `)),
		if(countIf(` + answered + `) = 0, 0, ` + p99 + `(` + latency + `, ` + answered + `)),
		if(countIf(` + answered + `) = 0, 0, maxIf(` + latency + `, ` + answered + `)),
		toInt64(max(end_time) - min(start_time))
		FROM ` + s.t("l7_flow_log") + w + ` GROUP BY svc, addr, ep, proto ORDER BY n DESC`
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.REDRow
	for rows.Next() {
		var x store.REDRow
		if err := rows.Scan(&x.Service, &x.Addr, &x.Endpoint, &x.L7Protocol, &x.Requests, &x.Errors, &x.AvgLatencyUS, &x.P99LatencyUS, &x.MaxLatencyUS, &x.Span); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
