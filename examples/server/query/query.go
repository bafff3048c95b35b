package query

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

// Stats counts the API's requests.
type Stats struct {
	Requests     uint64 `json:"requests"`
	BadRequest   uint64 `json:"bad_request"`
	Unauthorized uint64 `json:"unauthorized"`
	Failed       uint64 `json:"failed"`
}

// API serves the query endpoints.
type API struct {
	st                           *store.Store  // the DuckDB store (nil on another Backend)
	be                           store.Backend // the store the record queries run on
	token                        string
	requests, bad, unauth, fails atomic.Uint64
}

// New returns the API of st; token, when set, is required.
func New(st *store.Store, token string) *API { return &API{st: st, be: st, token: token} }

// NewBackend returns the API of another store (ClickHouse): the record
// searches, service map and RED; the DuckDB-only endpoints (metrics) are
// not registered.
func NewBackend(b store.Backend, token string) *API { return &API{be: b, token: token} }

// Stats returns the counters.
func (a *API) Stats() Stats {
	return Stats{Requests: a.requests.Load(), BadRequest: a.bad.Load(), Unauthorized: a.unauth.Load(), Failed: a.fails.Load()}
}

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/l7", a.wrap(func(r *http.Request) (any, error) { return a.search(r, "l7_flow_log") }))
	mux.HandleFunc("GET /api/v1/l4", a.wrap(func(r *http.Request) (any, error) { return a.search(r, "l4_flow_log") }))
	mux.HandleFunc("GET /api/v1/servicemap", a.wrap(a.serviceMap))
	mux.HandleFunc("GET /api/v1/red", a.wrap(a.red))
	a.registerTrace(mux) // trace.go (501 without the DuckDB store)
	if a.st == nil {
		return
	}
	a.registerMetrics(mux) // metrics.go
}

// badRequest marks an error of the caller's parameters.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

func (a *API) wrap(f func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		if !ingest.Authorized(r, a.token) {
			a.unauth.Add(1)
			http.Error(w, "query: missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		v, err := f(r)
		if err != nil {
			var br *badRequest
			if errors.As(err, &br) {
				a.bad.Add(1)
				http.Error(w, "query: "+br.msg, http.StatusBadRequest)
				return
			}
			a.fails.Add(1)
			http.Error(w, "query: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
}

// Columns are the record columns a search filters on, by table, with
// whether the value is a number (unsigned: up to 2^64-1). l7_flow_log
// also takes process_id (process_id_0 or process_id_1) and
// syscall_trace_id (the request's or the response's): either side.
var Columns = map[string]map[string]bool{
	"l7_flow_log": {
		"l7_protocol": false, "request_type": false, "request_resource": false, "request_domain": false,
		"endpoint": false, "trace_id": false, "span_id": false, "x_request_id_0": false, "x_request_id_1": false,
		"ip_0": false, "ip_1": false, "version": false,
		"response_code": true, "response_status": true, "client_port": true, "server_port": true,
		"protocol": true, "flow_id": true, "req_tcp_seq": true, "resp_tcp_seq": true, "batch_seq": true,
		"signal_source": false, "tap_side": false, "agent_id": false, "process_kname_0": false, "process_kname_1": false,
		"process_id_0": true, "process_id_1": true, "syscall_thread_0": true, "syscall_thread_1": true,
		"syscall_trace_id_request": true, "syscall_trace_id_response": true,
		"syscall_coroutine_0": true, "syscall_coroutine_1": true,
	},
	"l4_flow_log": {
		"l7_protocol": false, "ip_0": false, "ip_1": false,
		"client_port": true, "server_port": true, "protocol": true, "flow_id": true, "close_type": true, "batch_seq": true,
	},
}

// eitherSide are the l7 filters that match a value in either of two
// columns.
var eitherSide = map[string][2]string{
	"process_id":       {"process_id_0", "process_id_1"},
	"syscall_trace_id": {"syscall_trace_id_request", "syscall_trace_id_response"},
}

func parseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, bad("time %q: want unix nanoseconds or RFC 3339", s)
	}
	return t.UnixNano(), nil
}

// timeBound returns the condition of a "from" (inclusive) or "to"
// (exclusive) filter with value v on col, and its argument.
func timeBound(col, name, v string) (string, int64, error) {
	t, err := parseTime(v)
	if err != nil {
		return "", 0, err
	}
	if name == "to" {
		return col + " < ?", t, nil
	}
	return col + " >= ?", t, nil
}

// where builds the conditions of r's filters on table. none is true when
// a tag value is unknown to the dictionary: nothing can match.
func (a *API) where(r *http.Request, table string, skip map[string]bool) (conds []string, args []any, none bool, err error) {
	q := r.URL.Query()
	keys := map[string]bool{}
	for _, k := range a.be.TagKeys() {
		keys[k] = true
	}
	dict := a.be.Dict()
	for name, vals := range q {
		if skip[name] {
			continue
		}
		v := vals[0]
		switch name {
		case "from", "to":
			cond, t, err := timeBound("start_time", name, v)
			if err != nil {
				return nil, nil, false, err
			}
			conds, args = append(conds, cond), append(args, t)
			continue
		}
		if either, ok := eitherSide[name]; ok && table == "l7_flow_log" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, nil, false, bad("%s=%q: want an integer", name, v)
			}
			// A literal: database/sql takes no uint64 argument above
			// 2^63 (syscall trace ids use all 64 bits).
			u := strconv.FormatUint(n, 10)
			conds = append(conds, "("+either[0]+" = "+u+" OR "+either[1]+" = "+u+")")
			continue
		}
		if num, ok := Columns[table][name]; ok {
			if num {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					// Unsigned columns (syscall trace ids) above 2^63.
					u, uerr := strconv.ParseUint(v, 10, 64)
					if uerr != nil {
						return nil, nil, false, bad("%s=%q: want an integer", name, v)
					}
					// As a literal (database/sql: no uint64
					// argument above 2^63).
					conds = append(conds, name+" = "+strconv.FormatUint(u, 10))
					continue
				}
				conds = append(conds, name+" = ?")
				args = append(args, n)
			} else {
				conds = append(conds, name+" = ?")
				args = append(args, v)
			}
			continue
		}
		if i := strings.LastIndexByte(name, '_'); i > 0 && (name[i+1:] == "0" || name[i+1:] == "1") && i == len(name)-2 && keys[name[:i]] {
			id, ok := dict.Lookup(name[:i], v)
			if !ok {
				none = true
				continue
			}
			conds = append(conds, name[:i]+"_id_"+name[i+1:]+" = ?")
			args = append(args, id)
			continue
		}
		return nil, nil, false, bad("unknown filter %q", name)
	}
	return conds, args, none, nil
}

func whereSQL(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// Page is a search answer.
type Page struct {
	Rows []map[string]any `json:"rows"`
	Next string           `json:"next,omitempty"`
}

func (a *API) search(r *http.Request, table string) (any, error) {
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return nil, bad("limit=%q: want 1 to 10000", s)
		}
		limit = n
	}
	conds, args, none, err := a.where(r, table, map[string]bool{"limit": true, "cursor": true})
	if err != nil {
		return nil, err
	}
	page := &Page{Rows: []map[string]any{}}
	if none {
		return page, nil
	}
	after := int64(-1)
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, bad("cursor=%q: not a cursor of this API", s)
		}
		after = n
	}
	rows, err := a.be.Search(r.Context(), table, store.Filter{Conds: conds, Args: args}, after, limit+1)
	if err != nil {
		return nil, err
	}
	dict := a.be.Dict()
	for i, row := range rows {
		if len(page.Rows) == limit {
			page.Next = strconv.FormatInt(rows[i-1].Cursor, 10)
			break
		}
		m := make(map[string]any, len(row.Cols)+1)
		if _, ch := a.be.(*clickhouse.Store); table == "l7_flow_log" && (a.st != nil || ch) {
			// The span id of the row for GET /api/v1/trace?id= (the
			// DuckDB store's cursor is its rowid, ClickHouse's
			// batch_seq<<32 | row_no).
			m["id"] = row.Cursor + 1
		}
		for i, c := range row.Cols {
			v := row.Vals[i]
			if v == nil {
				continue
			}
			if k, side, ok := tagColumn(c); ok {
				id, _ := v.(uint32)
				if id == 0 {
					continue
				}
				if s, ok := dict.Value(k, id); ok {
					m[k+"_"+side] = s
				}
				continue
			}
			m[c] = v
		}
		page.Rows = append(page.Rows, m)
	}
	return page, nil
}

// tagColumn splits "<key>_id_<side>".
func tagColumn(c string) (key, side string, ok bool) {
	if len(c) < 6 || c[len(c)-5:len(c)-1] != "_id_" {
		return "", "", false
	}
	side = c[len(c)-1:]
	if side != "0" && side != "1" {
		return "", "", false
	}
	return c[:len(c)-5], side, true
}

// Edge is one client -> server edge of the service map.
type Edge struct {
	Client       string  `json:"client"`
	Server       string  `json:"server"`
	L7Protocol   string  `json:"l7_protocol"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	AvgLatencyUS float64 `json:"avg_latency_us"`
	MaxLatencyUS float64 `json:"max_latency_us"`
}

// node names a side: its service, else its pod, else its IP.
func node(dict interface {
	Value(string, uint32) (string, bool)
}, svc, pod uint32, ip sql.NullString) string {
	if svc != 0 {
		if s, ok := dict.Value("service", svc); ok {
			return s
		}
	}
	if pod != 0 {
		if s, ok := dict.Value("pod", pod); ok {
			return s
		}
	}
	return ip.String
}

const errorStatus = "response_status IN (1, 2, 3)"
const latency = "(end_time - start_time) / 1000.0"

func (a *API) serviceMap(r *http.Request) (any, error) {
	conds, args, none, err := a.where(r, "l7_flow_log", nil)
	if err != nil {
		return nil, err
	}
	edges := []Edge{}
	if none {
		return map[string]any{"edges": edges}, nil
	}
	rows, err := a.be.ServiceMap(r.Context(), store.Filter{Conds: conds, Args: args})
	if err != nil {
		return nil, err
	}
	dict := a.be.Dict()
	merged := map[[3]string]int{}
	for _, row := range rows {
		e := Edge{L7Protocol: row.L7Protocol, Requests: row.Requests, Errors: row.Errors, AvgLatencyUS: row.AvgLatencyUS, MaxLatencyUS: row.MaxLatencyUS}
		e.Client = node(dict, row.ClientService, row.ClientPod, sql.NullString{String: row.ClientIP, Valid: row.ClientIP != ""})
		e.Server = node(dict, row.ServerService, row.ServerPod, sql.NullString{String: row.ServerIP, Valid: row.ServerIP != ""})
		k := [3]string{e.Client, e.Server, e.L7Protocol}
		if i, ok := merged[k]; ok { // two ids with one name: merge
			o := &edges[i]
			o.AvgLatencyUS = (o.AvgLatencyUS*float64(o.Requests) + e.AvgLatencyUS*float64(e.Requests)) / float64(o.Requests+e.Requests)
			o.Requests += e.Requests
			o.Errors += e.Errors
			o.MaxLatencyUS = max(o.MaxLatencyUS, e.MaxLatencyUS)
			continue
		}
		merged[k] = len(edges)
		edges = append(edges, e)
	}
	return map[string]any{"edges": edges}, nil
}

// RED is one row of /api/v1/red.
type RED struct {
	Service      string  `json:"service"`
	Endpoint     string  `json:"endpoint,omitempty"`
	L7Protocol   string  `json:"l7_protocol"`
	Requests     int64   `json:"requests"`
	Rate         float64 `json:"rate"` // requests a second over the range (or the rows' span)
	Errors       int64   `json:"errors"`
	ErrorRatio   float64 `json:"error_ratio"`
	AvgLatencyUS float64 `json:"avg_latency_us"`
	P99LatencyUS float64 `json:"p99_latency_us"`
	MaxLatencyUS float64 `json:"max_latency_us"`
}

func (a *API) red(r *http.Request) (any, error) {
	group := r.URL.Query().Get("group")
	if group == "" {
		group = "service"
	}
	if group != "service" && group != "endpoint" {
		return nil, bad("group=%q: want service or endpoint", group)
	}
	conds, args, none, err := a.where(r, "l7_flow_log", map[string]bool{"group": true})
	if err != nil {
		return nil, err
	}
	out := []RED{}
	if none {
		return map[string]any{"rows": out}, nil
	}
	rows, err := a.be.RED(r.Context(), store.Filter{Conds: conds, Args: args}, group == "endpoint")
	if err != nil {
		return nil, err
	}
	span := float64(0)
	qv := r.URL.Query()
	if qv.Get("from") != "" && qv.Get("to") != "" {
		f, _ := parseTime(qv.Get("from"))
		t, _ := parseTime(qv.Get("to"))
		span = float64(t-f) / 1e9
	}
	dict := a.be.Dict()
	for _, row := range rows {
		x := RED{Endpoint: row.Endpoint, L7Protocol: row.L7Protocol, Requests: row.Requests, Errors: row.Errors,
			AvgLatencyUS: row.AvgLatencyUS, P99LatencyUS: row.P99LatencyUS, MaxLatencyUS: row.MaxLatencyUS}
		rowsSpan := row.Span
		x.Service = node(dict, row.Service, 0, sql.NullString{String: row.Addr, Valid: row.Addr != ""})
		s := span
		if s <= 0 {
			s = max(float64(rowsSpan)/1e9, 1)
		}
		x.Rate = float64(x.Requests) / s
		if x.Requests > 0 {
			x.ErrorRatio = float64(x.Errors) / float64(x.Requests)
		}
		out = append(out, x)
	}
	return map[string]any{"rows": out}, nil
}
