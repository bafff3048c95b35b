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
//     protocol, flow_id ...; see Columns) and of tags ("<key>_0",
//     "<key>_1", "pod_1=web-1", "service_1=cart"). Paging: limit (default
//     100, at most 10,000) and cursor (the "next" of the previous page).
//     Answer: {"rows": [{column: value, ..., "<key>_<side>": tag}], "next"}.
//   - GET /api/v1/servicemap: edges client -> server from l7_flow_log, the
//     nodes named by their service, else pod, else IP, with requests,
//     errors (response_status client error, server error or timeout), and
//     average and maximum response time in microseconds.
//   - GET /api/v1/red?group=service|endpoint: rate, errors and duration per
//     server service (IP:port when untagged), or per service and endpoint
//     (endpoint, else request_resource).
//
// Bad parameters get 400 with a message, a missing token 401; both are
// counted in Stats.
//
// Concurrency: the handler serves any number of requests at once, reading
// through the store's connection pool; its counters may be read from any
// goroutine.
package query
