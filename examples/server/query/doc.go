// Package query is the example server's HTTP JSON query API. Filters and
// results use tag strings; the store's integer tag columns are translated
// through the dictionary both ways. Every endpoint takes the API token
// ("Authorization: Bearer <token>") when one is configured, and "from" and
// "to" (unix nanoseconds or RFC 3339) bounding start_time.
//
//   - GET /api/v1/l7 and /api/v1/l4: request log and flow log search.
//     Filters: exact values of record columns (l7_protocol, request_type,
//     request_resource, request_domain, endpoint, response_code, trace_id,
//     x_request_id_0, x_request_id_1, ip_0, ip_1, client_port, server_port,
//     protocol, flow_id ...; see Columns), of the eBPF and capture-point
//     columns (tap_side, agent_id, signal_source, span_id, process_id_0,
//     process_id_1, syscall_trace_id_request, ...), process_id and
//     syscall_trace_id (either side), and of tags ("<key>_0", "<key>_1",
//     "pod_1=web-1", "service_1=cart"). Paging: limit (default 100, at
//     most 10,000) and cursor (the "next" of the previous page). Answer:
//     {"rows": [{column: value, ..., "<key>_<side>": tag}], "next"}; each
//     l7 row also has "id", its span id for /api/v1/trace.
//   - GET /api/v1/servicemap: edges client -> server from l7_flow_log, the
//     nodes named by their service, else pod, else IP, with requests,
//     errors (response_status client error, server error or timeout), and
//     average and maximum response time in microseconds.
//   - GET /api/v1/red?group=service|endpoint: rate, errors and duration per
//     server service (IP:port when untagged), or per service and endpoint
//     (endpoint, else request_resource).
//   - GET /api/v1/metrics/network and /api/v1/metrics/application
//     (metrics.go): time series from the metric tables (store's doc).
//     interval=1s|1m (default 1m); group=service (default: per server
//     service, IP:port when untagged), endpoint (application: service, l7
//     protocol and endpoint) or edge (the _map tables: client -> server,
//     each named by its service, else pod, else IP). from/to bound the
//     window start; filters: ip_0 (edge), ip_1, server_port, protocol,
//     l7_protocol, endpoint where the table has them, and tags "<key>_1"
//     ("<key>_0" on edges) by name. Answer: {"table", "interval",
//     "series": [{"group": {...}, "points": [{"time", "values": {metric:
//     value}}]}]}, every stored metric (sums; maxima for *_max) and the
//     derived ones: rate, error, error_ratio, rrt_avg (application);
//     rtt/srt/art averages and the *_fail sums (network). The metrics of
//     records stored up to MetricsMaxAge (1 s) before are included.
//   - GET /api/v1/trace (trace.go): the distributed trace around a span,
//     assembled by the autotrace package over l7_flow_log (TraceStore:
//     agent records and OTel spans alike). Seed, exactly one of: id (a
//     span id, the "id" of a trace answer: the row's rowid + 1),
//     trace_id, x_request_id. Options: format=tree (default) or otlp
//     (OTLP/JSON: resourceSpans per service, hex ids); zero_code=true
//     (ignore trace/span ids and OTel spans: eBPF, packets and
//     X-Request-ID only); max_spans (1 to 10,000, default 1,000),
//     max_rounds (1 to 100, default 30); from/to bound the seed's rows.
//     Unknown parameters, repeated ones and keys over 256 bytes are 400; a
//     seed that finds nothing 404.
//     The answer holds the trees of the seed's spans (one for a span id;
//     a trace_id may span several), not the other rows the search met.
//     Agent rows carry their process ids, syscall trace ids and threads,
//     tap side and agent_id (encoding/FORMAT.md), so every rule works as
//     in memory: on the demo recording the server's trees are the ones
//     autotrace.Build finds in memory (TestTrace_DemoEndToEnd), on DuckDB
//     and on ClickHouse (-clickhouse: span ids are batch_seq<<32 | row_no,
//     plus one). Another Backend answers 501.
//     Tree answer, for the page's flame graph: {"spans": [...], "roots":
//     [indexes of root spans], "calls": distinct calls, "rounds": search
//     rounds, "truncated": the search stopped at a bound}. spans are depth
//     first (a parent before its children, siblings by start time), each
//     {"id", "parent" (index in spans, -1 for a root), "parent_id" (span
//     id), "rule" (what linked it to its parent: "tcp_seq" for the same
//     call seen at another capture point, "syscall", "x_request_id",
//     "app_id"; "" for a root), "call" (spans of one call share it),
//     "depth", "tap_side" (c-app, c-p, c, ..., s, s-p, s-app, rest),
//     "service", "name", "start_time", "end_time" (unix ns),
//     "duration_us", and when known "l7_protocol", "request_type",
//     "request_resource", "endpoint", "response_status", "response_code",
//     "client", "server" (ip:port), "trace_id", "span_id",
//     "parent_span_id", "x_request_id_0", "x_request_id_1",
//     "syscall_trace_id_request", "syscall_trace_id_response",
//     "req_tcp_seq", "resp_tcp_seq", "agent", "process_id_0",
//     "process_id_1", "process_kname_0", "process_kname_1",
//     "syscall_thread_0", "syscall_thread_1", "syscall_coroutine_0",
//     "syscall_coroutine_1"}. A flame graph draws one bar per
//     span from start_time to end_time at its depth; spans of one call
//     (same "call") may be drawn as one bar.
//
// Bad parameters get 400 with a message, a missing token 401; both are
// counted in Stats.
//
// Concurrency: the handler serves any number of requests at once, reading
// through the store's connection pool; its counters may be read from any
// goroutine.
package query
