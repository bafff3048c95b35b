package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/autotrace"
	"github.com/metaflow-go/metaflow/examples/server/clickhouse"
	"github.com/metaflow-go/metaflow/examples/server/ingest"
	"github.com/metaflow-go/metaflow/l7"
)

// registerTrace adds GET /api/v1/trace (see the package documentation).
func (a *API) registerTrace(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/trace", a.wrapTrace())
}

// Trace parameter limits.
const (
	traceMaxKey    = 256    // bytes of a trace_id or x_request_id
	traceMaxSpans  = 10_000 // max_spans at most
	traceMaxRounds = 100    // max_rounds at most
)

// TraceStore is autotrace.Store over the l7_flow_log table of a DuckDB
// database: a span is a row, its ID the row's rowid plus one (span ids are
// never 0; stable while no retention deletes and compacts the table). The
// eBPF columns (process ids and names, syscall trace ids and threads)
// fill the span's; tap_side is the row's (the agent's, or an OTel span's
// c-app/s-app), else inferred from the process ids (c-p, s-p) or rest;
// agent_id names the capture point (Span.Agent: syscall ids are compared
// within one agent's process), else the host tag of a process span's
// side. Columns that the table does not have are read as empty; tag ids
// are named through dict.
// It is safe for concurrent use.
type TraceStore struct {
	db   traceDB
	dict interface {
		Value(string, uint32) (string, bool)
	}
	once sync.Once
	cols map[string]bool
	err  error
}

// NewTraceStore returns the store of db's l7_flow_log.
func NewTraceStore(db *sql.DB, dict interface {
	Value(string, uint32) (string, bool)
}) *TraceStore {
	return &TraceStore{db: duckTraceDB{db}, dict: dict}
}

// traceDB is the SQL database a TraceStore reads: DuckDB's, or
// ClickHouse's (trace_ch.go).
type traceDB interface {
	// query runs stmt with args (the "?" placeholders).
	query(ctx context.Context, stmt string, args []any) (traceRows, error)
	// columnsQuery lists l7_flow_log's columns; table names it in
	// statements; rowID is the expression of a row's id (span id - 1).
	columnsQuery() string
	table() string
	rowID() string
	// union says whether the parts of a round run as one UNION ALL.
	union() bool
}

// traceRows is what a traceDB's query returns (database/sql's Rows, or
// clickhouse.Rows).
type traceRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

type duckTraceDB struct{ db *sql.DB }

func (d duckTraceDB) query(ctx context.Context, stmt string, args []any) (traceRows, error) {
	return d.db.QueryContext(ctx, stmt, args...)
}

func (duckTraceDB) columnsQuery() string {
	return `SELECT column_name FROM information_schema.columns WHERE table_name = 'l7_flow_log'`
}
func (duckTraceDB) table() string { return "l7_flow_log" }
func (duckTraceDB) rowID() string { return "rowid" }
func (duckTraceDB) union() bool   { return true }

// traceOptional are the columns read when the table has them.
var traceOptional = []string{
	"tap_side", "agent_id", "span_kind", "app_service", "process_id_0", "process_id_1", "process_kname_0", "process_kname_1",
	"syscall_trace_id_request", "syscall_trace_id_response", "syscall_thread_0", "syscall_thread_1",
	"syscall_coroutine_0", "syscall_coroutine_1",
	"service_id_0", "service_id_1", "pod_id_0", "pod_id_1", "host_id_0", "host_id_1", "gprocess_id_0", "gprocess_id_1",
}

// traceFixed are the columns every l7_flow_log has, in scan order.
var traceFixed = []string{
	"rowid", "flow_id", "start_time", "end_time", "ip_0", "ip_1", "client_port", "server_port", "protocol",
	"l7_protocol", "req_tcp_seq", "resp_tcp_seq", "request_type", "request_domain", "request_resource",
	"endpoint", "request_id", "response_status", "response_code", "trace_id", "span_id", "parent_span_id",
	"x_request_id_0", "x_request_id_1",
}

func (t *TraceStore) columns(ctx context.Context) (map[string]bool, error) {
	t.once.Do(func() {
		rows, err := t.db.query(ctx, t.db.columnsQuery(), nil)
		if err != nil {
			t.err = err
			return
		}
		defer rows.Close()
		t.cols = map[string]bool{}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.err = err
				return
			}
			t.cols[c] = true
		}
		t.err = rows.Err()
	})
	return t.cols, t.err
}

// traceMaxArgs bounds the keys of one SQL statement; more are split.
const traceMaxArgs = 512

// Find implements autotrace.Store.
func (t *TraceStore) Find(ctx context.Context, q *autotrace.Query) ([]autotrace.Span, error) {
	if q.Empty() {
		return nil, autotrace.ErrEmptyQuery
	}
	cols, err := t.columns(ctx)
	if err != nil {
		return nil, fmt.Errorf("l7_flow_log columns: %w", err)
	}
	// One condition per key kind; each chunk of keys is one statement.
	type cond struct {
		cols []string
		args []any
	}
	var conds []cond
	add := func(names []string, args []any) {
		for _, c := range names {
			if !cols[c] && c != "rowid" {
				return
			}
		}
		for len(args) > 0 {
			n := min(len(args), traceMaxArgs)
			conds = append(conds, cond{names, args[:n]})
			args = args[n:]
		}
	}
	add([]string{"rowid"}, anys(q.IDs, func(v uint64) any { return int64(v - 1) }))
	add([]string{"trace_id"}, anys(q.TraceIDs, func(v string) any { return v }))
	add([]string{"x_request_id_0", "x_request_id_1"}, anys(q.XRequestIDs, func(v string) any { return v }))
	// Syscall trace ids use all 64 bits: database/sql takes no uint64
	// argument above 2^63, so they are written into the statement.
	add([]string{"syscall_trace_id_request", "syscall_trace_id_response"}, anys(q.SyscallTraceIDs, func(v uint64) any { return sqlUint(v) }))
	add([]string{"req_tcp_seq", "resp_tcp_seq"}, anys(q.TCPSeqs, func(v uint32) any { return uint64(v) }))
	// Flows: one condition per flow, its six values as arguments.
	for flows := q.Flows; len(flows) > 0; {
		n := min(len(flows), traceMaxArgs/6)
		var args []any
		for _, f := range flows[:n] {
			args = append(args, f.Client.Addr().String(), uint64(f.Client.Port()), f.Server.Addr().String(), uint64(f.Server.Port()), f.From, f.To)
		}
		conds = append(conds, cond{[]string{"flow"}, args})
		flows = flows[n:]
	}
	sel := append([]string(nil), traceFixed...)
	exprs := append([]string(nil), traceFixed...)
	exprs[0] = t.db.rowID()
	for _, c := range traceOptional {
		if cols[c] {
			sel = append(sel, c)
			exprs = append(exprs, c)
		}
	}
	seen := map[uint64]bool{}
	var out []autotrace.Span
	// A condition on two columns is two parts of the statement (an IN
	// list on one column each, not an OR of two), and the parts are one
	// statement: DuckDB's cost is mostly preparing statements. On the
	// demo recording this took the search's CPU time from 160 to 127 ms a
	// trace (TestTrace_DemoEndToEnd's 12 requests, 29 K rows).
	var split []cond
	for _, c := range conds {
		if c.cols[0] == "flow" {
			split = append(split, c)
			continue
		}
		for _, name := range c.cols {
			split = append(split, cond{[]string{name}, c.args})
		}
	}
	var parts []string
	var allArgs []any
	for _, c := range split {
		var ors []string
		var args []any
		if c.cols[0] == "flow" {
			for i := 0; i < len(c.args); i += 6 {
				ors = append(ors, "(ip_0 = ? AND client_port = ? AND ip_1 = ? AND server_port = ? AND start_time BETWEEN ? AND ?)")
			}
			args = append(args, c.args...)
		} else {
			ph := strings.TrimSuffix(strings.Repeat("?, ", len(c.args)), ", ")
			inline := false
			if _, ok := c.args[0].(sqlUint); ok {
				var b strings.Builder
				for i, v := range c.args {
					if i > 0 {
						b.WriteString(", ")
					}
					b.WriteString(strconv.FormatUint(uint64(v.(sqlUint)), 10))
				}
				ph, inline = b.String(), true
			}
			for _, name := range c.cols {
				if name == "rowid" {
					name = t.db.rowID()
				}
				ors = append(ors, name+" IN ("+ph+")")
				if !inline {
					args = append(args, c.args...)
				}
			}
		}
		where := "(" + strings.Join(ors, " OR ") + ")"
		where += " AND start_time >= ?"
		args = append(args, q.From)
		if q.To != 0 {
			where += " AND start_time <= ?"
			args = append(args, q.To)
		}
		part := "SELECT " + strings.Join(exprs, ", ") + " FROM " + t.db.table() + " WHERE " + where + " LIMIT " + strconv.Itoa(traceMaxSpans+1)
		if !t.db.union() {
			if err := t.scan(ctx, part, args, sel, seen, &out); err != nil {
				return nil, err
			}
			continue
		}
		parts = append(parts, "("+part+")")
		allArgs = append(allArgs, args...)
	}
	if len(parts) == 0 {
		return out, nil
	}
	if err := t.scan(ctx, strings.Join(parts, " UNION ALL "), allArgs, sel, seen, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// sqlUint is an unsigned key written into a statement as a literal.
type sqlUint uint64

func anys[T any](vs []T, f func(T) any) []any {
	var out []any
	var zero T
	for _, v := range vs {
		if any(v) == any(zero) {
			continue
		}
		out = append(out, f(v))
	}
	return out
}

// scan runs stmt and appends the spans of its rows not seen yet.
func (t *TraceStore) scan(ctx context.Context, stmt string, args []any, sel []string, seen map[uint64]bool, out *[]autotrace.Span) error {
	rows, err := t.db.query(ctx, stmt, args)
	if err != nil {
		return fmt.Errorf("trace search: %w", err)
	}
	defer rows.Close()
	vals := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("trace search: %w", err)
		}
		row := make(map[string]any, len(sel))
		for i, c := range sel {
			row[c] = vals[i]
		}
		s := t.span(row)
		if seen[s.ID] {
			continue
		}
		seen[s.ID] = true
		*out = append(*out, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("trace search: %w", err)
	}
	return nil
}

// span builds the span of one row.
func (t *TraceStore) span(row map[string]any) autotrace.Span {
	str := func(c string) string {
		switch v := row[c].(type) {
		case string:
			return v
		case []byte:
			return string(v)
		}
		return ""
	}
	num := func(c string) int64 {
		switch v := row[c].(type) {
		case int64:
			return v
		case uint64:
			return int64(v)
		case int32:
			return int64(v)
		case uint32:
			return int64(v)
		case int16:
			return int64(v)
		case uint16:
			return int64(v)
		case int8:
			return int64(v)
		case uint8:
			return int64(v)
		case float64:
			return int64(v)
		}
		return 0
	}
	tagName := func(key, c string) string {
		if id := num(c); id > 0 && t.dict != nil {
			if v, ok := t.dict.Value(key, uint32(id)); ok {
				return v
			}
		}
		return ""
	}
	addr := func(ip, port string) netip.AddrPort {
		a, _ := netip.ParseAddr(str(ip))
		return netip.AddrPortFrom(a, uint16(num(port)))
	}
	s := autotrace.Span{
		ID: uint64(num("rowid")) + 1, FlowID: uint64(num("flow_id")), Start: num("start_time"), End: num("end_time"),
		Client: addr("ip_0", "client_port"), Server: addr("ip_1", "server_port"),
		L7Protocol: str("l7_protocol"), ReqTCPSeq: uint32(num("req_tcp_seq")), RespTCPSeq: uint32(num("resp_tcp_seq")),
		RequestType: str("request_type"), RequestDomain: str("request_domain"), RequestResource: str("request_resource"),
		Endpoint: str("endpoint"), TraceID: str("trace_id"), SpanID: str("span_id"), ParentSpanID: str("parent_span_id"),
		XRequestID0: str("x_request_id_0"), XRequestID1: str("x_request_id_1"),
		ProcessID0: uint32(num("process_id_0")), ProcessID1: uint32(num("process_id_1")),
		ProcessKName0: str("process_kname_0"), ProcessKName1: str("process_kname_1"),
		SyscallTraceIDRequest: uint64(num("syscall_trace_id_request")), SyscallTraceIDResponse: uint64(num("syscall_trace_id_response")),
		SyscallThread0: uint32(num("syscall_thread_0")), SyscallThread1: uint32(num("syscall_thread_1")),
		SyscallCoroutine0: uint64(num("syscall_coroutine_0")), SyscallCoroutine1: uint64(num("syscall_coroutine_1")),
	}
	switch num("protocol") {
	case 6:
		s.Transport = "TCP"
	case 17:
		s.Transport = "UDP"
	}
	if row["response_status"] != nil {
		s.ResponseStatus = l7.Status(num("response_status")).String()
	}
	if row["request_id"] != nil {
		s.RequestID, s.HasRequestID = uint32(num("request_id")), true
	}
	if row["response_code"] != nil {
		s.ResponseCode, s.HasResponseCode = int32(num("response_code")), true
	}
	for side, dst := range []*string{&s.Service0, &s.Service1} {
		for _, k := range []string{"service", "pod", "gprocess"} {
			if *dst == "" {
				*dst = tagName(k, k+"_id_"+strconv.Itoa(side))
			}
		}
	}
	if svc := str("app_service"); svc != "" {
		if kind := str("span_kind"); kind == "client" || kind == "producer" {
			s.Service0 = svc
		} else {
			s.Service1 = svc
		}
	}
	tap, err := autotrace.ParseTapSide(str("tap_side"))
	if err != nil {
		tap = autotrace.TapUnknown
	}
	if tap == autotrace.App {
		// Application spans by their kind, as DeepFlow's c-app and s-app.
		switch str("span_kind") {
		case "client", "producer":
			tap = autotrace.ClientApp
		case "server", "consumer":
			tap = autotrace.ServerApp
		}
	}
	if tap == autotrace.TapUnknown {
		tap = autotrace.InferTapSide(s.ProcessID0, s.ProcessID1)
	}
	s.TapSide = tap
	if tap.IsApp() {
		s.Name = first(s.Endpoint, s.RequestResource)
	}
	s.Agent = str("agent_id")
	switch {
	case s.Agent != "":
	case tap == autotrace.ClientProcess:
		s.Agent = tagName("host", "host_id_0")
	case tap == autotrace.ServerProcess:
		s.Agent = tagName("host", "host_id_1")
	}
	return s
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TraceSpan is one node of a trace answer (see the package documentation).
type TraceSpan struct {
	ID           uint64 `json:"id"`
	Parent       int    `json:"parent"`
	ParentID     uint64 `json:"parent_id,omitempty"`
	Rule         string `json:"rule,omitempty"`
	Call         int    `json:"call"`
	Depth        int    `json:"depth"`
	TapSide      string `json:"tap_side"`
	Service      string `json:"service"`
	Name         string `json:"name"`
	StartTime    int64  `json:"start_time"`
	EndTime      int64  `json:"end_time"`
	DurationUS   int64  `json:"duration_us"`
	L7Protocol   string `json:"l7_protocol,omitempty"`
	RequestType  string `json:"request_type,omitempty"`
	Resource     string `json:"request_resource,omitempty"`
	Endpoint     string `json:"endpoint,omitempty"`
	Status       string `json:"response_status,omitempty"`
	ResponseCode *int32 `json:"response_code,omitempty"`
	Client       string `json:"client,omitempty"`
	Server       string `json:"server,omitempty"`
	TraceID      string `json:"trace_id,omitempty"`
	SpanID       string `json:"span_id,omitempty"`
	ParentSpanID string `json:"parent_span_id,omitempty"`
	XRequestID0  string `json:"x_request_id_0,omitempty"`
	XRequestID1  string `json:"x_request_id_1,omitempty"`
	SysReq       uint64 `json:"syscall_trace_id_request,omitempty"`
	SysResp      uint64 `json:"syscall_trace_id_response,omitempty"`
	ReqTCPSeq    uint32 `json:"req_tcp_seq,omitempty"`
	RespTCPSeq   uint32 `json:"resp_tcp_seq,omitempty"`
	Agent        string `json:"agent,omitempty"`
	ProcessID0   uint32 `json:"process_id_0,omitempty"`
	ProcessID1   uint32 `json:"process_id_1,omitempty"`
	KName0       string `json:"process_kname_0,omitempty"`
	KName1       string `json:"process_kname_1,omitempty"`
	Thread0      uint32 `json:"syscall_thread_0,omitempty"`
	Thread1      uint32 `json:"syscall_thread_1,omitempty"`
	Coroutine0   uint64 `json:"syscall_coroutine_0,omitempty"`
	Coroutine1   uint64 `json:"syscall_coroutine_1,omitempty"`
}

// TraceAnswer is the answer of GET /api/v1/trace.
type TraceAnswer struct {
	Spans     []TraceSpan `json:"spans"`
	Roots     []int       `json:"roots"`
	Calls     int         `json:"calls"`
	Rounds    int         `json:"rounds"`
	Truncated bool        `json:"truncated"`
}

// traceParams are the parameters GET /api/v1/trace accepts.
var traceParams = map[string]bool{
	"id": true, "trace_id": true, "x_request_id": true, "format": true, "zero_code": true,
	"from": true, "to": true, "max_spans": true, "max_rounds": true,
}

// traceRequest reads and checks the parameters: the seed, the
// configuration and whether OTLP is asked for.
func traceRequest(r *http.Request) (seed autotrace.Query, cfg autotrace.Config, otlp bool, err error) {
	q := r.URL.Query()
	for k, v := range q {
		if !traceParams[k] {
			return seed, cfg, false, bad("unknown parameter %q", k)
		}
		if len(v) != 1 {
			return seed, cfg, false, bad("%s given %d times", k, len(v))
		}
	}
	keys := 0
	if v := q.Get("id"); v != "" {
		id, err := strconv.ParseUint(v, 10, 63)
		if err != nil || id == 0 {
			return seed, cfg, false, bad("id=%.40q: want a span id (positive integer)", v)
		}
		seed.IDs, keys = []uint64{id}, keys+1
	}
	for _, k := range []string{"trace_id", "x_request_id"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		if len(v) > traceMaxKey {
			return seed, cfg, false, bad("%s: longer than %d bytes", k, traceMaxKey)
		}
		keys++
		if k == "trace_id" {
			seed.TraceIDs = []string{v}
		} else {
			seed.XRequestIDs = []string{v}
		}
	}
	if keys != 1 {
		return seed, cfg, false, bad("give exactly one of id, trace_id, x_request_id")
	}
	switch f := q.Get("format"); f {
	case "", "tree":
	case "otlp":
		otlp = true
	default:
		return seed, cfg, false, bad("format=%.40q: want tree or otlp", f)
	}
	switch z := q.Get("zero_code"); z {
	case "", "0", "false":
	case "1", "true":
		cfg.IgnoreAppIDs = true
	default:
		return seed, cfg, false, bad("zero_code=%.40q: want true or false", z)
	}
	for _, p := range []struct {
		name string
		max  int
		dst  *int
	}{{"max_spans", traceMaxSpans, &cfg.MaxSpans}, {"max_rounds", traceMaxRounds, &cfg.MaxRounds}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return seed, cfg, false, bad("%s=%.40q: want 1 to %d", p.name, v, p.max)
			}
			*p.dst = n
		}
	}
	for _, k := range []string{"from", "to"} {
		if v := q.Get(k); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return seed, cfg, false, err
			}
			if k == "from" {
				seed.From = t
			} else {
				seed.To = t
			}
		}
	}
	if seed.To != 0 && seed.To < seed.From {
		return seed, cfg, false, bad("to before from")
	}
	return seed, cfg, otlp, nil
}

// traceStore returns the TraceStore of the API's store: DuckDB's, or
// ClickHouse's; false for another Backend.
func (a *API) traceStore() (*TraceStore, bool) {
	if a.st != nil {
		return NewTraceStore(a.st.DB(), a.st.Dict()), true
	}
	if ch, ok := a.be.(*clickhouse.Store); ok {
		return NewClickHouseTraceStore(ch), true
	}
	return nil, false
}

// traceTimeout bounds one trace search.
const traceTimeout = 30 * time.Second

// wrapTrace serves GET /api/v1/trace: the token, the store (501 on a
// Backend other than DuckDB and ClickHouse), parameters (400),
// search (404 when the seed finds nothing, 500 when the store fails), and
// the answer as a tree or as OTLP/JSON.
func (a *API) wrapTrace() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		if !ingest.Authorized(r, a.token) {
			a.unauth.Add(1)
			http.Error(w, "query: missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		if _, ok := a.traceStore(); !ok {
			http.Error(w, "query: trace search needs the DuckDB or the ClickHouse store", http.StatusNotImplemented)
			return
		}
		seed, cfg, otlp, err := traceRequest(r)
		if err != nil {
			a.bad.Add(1)
			http.Error(w, "query: "+err.Error(), http.StatusBadRequest)
			return
		}
		tr, res, err := a.trace(r.Context(), &seed, cfg)
		var nf *notFound
		switch {
		case errors.As(err, &nf):
			http.Error(w, "query: "+err.Error(), http.StatusNotFound)
			return
		case err != nil:
			a.fails.Add(1)
			http.Error(w, "query: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if otlp {
			w.Write(tr.AppendOTLP(nil))
			return
		}
		json.NewEncoder(w).Encode(traceAnswer(tr, res))
	}
}

// trace searches and assembles.
func (a *API) trace(ctx context.Context, seed *autotrace.Query, cfg autotrace.Config) (*autotrace.Trace, *autotrace.Result, error) {
	st, ok := a.traceStore()
	if !ok {
		return nil, nil, errors.New("trace search needs the DuckDB or the ClickHouse store")
	}
	ctx, cancel := context.WithTimeout(ctx, traceTimeout)
	defer cancel()
	tr, res, err := autotrace.Build(ctx, st, seed, cfg)
	if errors.Is(err, autotrace.ErrNoSeed) {
		return nil, nil, &notFound{"trace: no span matches"}
	}
	if err != nil {
		return nil, nil, err
	}
	return tr, res, nil
}

// notFound marks a search that found nothing (404).
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

func traceAnswer(tr *autotrace.Trace, res *autotrace.Result) *TraceAnswer {
	ans := &TraceAnswer{Spans: make([]TraceSpan, len(tr.Nodes)), Roots: tr.Roots(), Calls: tr.Calls, Rounds: res.Rounds, Truncated: res.Truncated}
	if ans.Roots == nil {
		ans.Roots = []int{}
	}
	for i := range tr.Nodes {
		n := &tr.Nodes[i]
		ts := TraceSpan{
			ID: n.ID, Parent: n.Parent, Rule: n.Rule.String(), Call: n.Call, Depth: n.Depth,
			TapSide: n.TapSide.String(), Service: n.Service(), Name: n.Label(),
			StartTime: n.Start, EndTime: max(n.End, n.Start), DurationUS: (max(n.End, n.Start) - n.Start) / 1e3,
			L7Protocol: n.L7Protocol, RequestType: n.RequestType, Resource: n.RequestResource, Endpoint: n.Endpoint,
			Status: n.ResponseStatus, TraceID: n.TraceID, SpanID: n.SpanID, ParentSpanID: n.ParentSpanID,
			XRequestID0: n.XRequestID0, XRequestID1: n.XRequestID1,
			SysReq: n.SyscallTraceIDRequest, SysResp: n.SyscallTraceIDResponse, ReqTCPSeq: n.ReqTCPSeq, RespTCPSeq: n.RespTCPSeq,
			Agent: n.Agent, ProcessID0: n.ProcessID0, ProcessID1: n.ProcessID1, KName0: n.ProcessKName0, KName1: n.ProcessKName1,
			Thread0: n.SyscallThread0, Thread1: n.SyscallThread1, Coroutine0: n.SyscallCoroutine0, Coroutine1: n.SyscallCoroutine1,
		}
		if n.Parent >= 0 {
			ts.ParentID = tr.Nodes[n.Parent].ID
		}
		if n.HasResponseCode {
			c := n.ResponseCode
			ts.ResponseCode = &c
		}
		if n.Client.Addr().IsValid() {
			ts.Client = n.Client.String()
		}
		if n.Server.Addr().IsValid() {
			ts.Server = n.Server.String()
		}
		ans.Spans[i] = ts
	}
	return ans
}
