// Package autotrace assembles distributed traces from records: l7_flow_log
// records observed without instrumentation (eBPF process spans, packet
// capture points) and, where they exist, application spans (OpenTelemetry,
// stored as records with tap side "app"). It is DeepFlow's AutoTracing in
// a library: a Span per observation, association rules that relate spans,
// an iterative Search over a Store, Assemble into a tree, and OTLP/JSON
// export.
//
// # Spans and tap sides
//
// A Span is one observation of one call at a TapSide, with DeepFlow's
// names, ordered along the call's path: c-app (the caller's application
// span), c-p (the client process's socket, eBPF), c (client NIC), c-nd,
// c-gw, local, rest, s-gw, s-nd, s (server NIC), s-p (the server process's
// socket), s-app (the callee's application span); app is another
// application span. FromRecord builds a span from an l7.Record,
// ParseRecordJSON and ReadRecords from the agent's JSON lines,
// ParseOTLPJSON and ReadOTLPJSON from OTLP/JSON exports, and a store fills
// the fields from its rows.
//
// # Association rules
//
// Each rule can be switched on alone (Config.Rules) and says what made
// each link (Node.Rule, Edge.Rule).
//
//   - tcp_seq (one call, several observations): spans on one flow (same
//     client and server address and port, TCP) that share req_tcp_seq or
//     resp_tcp_seq, whose other sequence number does not conflict, whose
//     start or end times agree within Config.Tolerance (60 ms: network and
//     clock offset) and whose protocols agree, are one call. Its spans are
//     chained in path order: c-p -> c -> ... -> s -> s-p. Sequence numbers
//     need no clock: this is what joins observations across hosts. UDP
//     has no sequence numbers: UDP spans on one flow whose starts agree
//     within the tolerance, with equal protocols, and equal request ids
//     (the DNS id) and resources where both have them, are one call (same
//     rule name). A span is compared with at most 64 others per sequence
//     number or UDP flow.
//   - syscall (thread-per-request, goroutines): the eBPF tracer gives a
//     thread (or, with goroutine tracking, a goroutine) a new
//     syscall_trace_id when it reads a request, and stamps the thread's
//     following writes with it; reading the response of its own call
//     starts the next id, which its next call or its response write
//     carries. So within one process (Span.Agent and pid) every id is
//     started by exactly one read: a server-process (s-p) span's request
//     (S.req) or a client-process (c-p) span's response (C.resp), and the
//     ids chain: S.req = C1.req, C1.resp = C2.req, ..., Cn.resp = S.resp.
//     A c-p span's parent is found forward: its response's id was carried
//     by S's response write (S is the parent) or by the next call's
//     request (the parent is that call's, recursively); failing that,
//     backward: the read that started its request's id was S's request
//     read or a previous call's response read. Forward first, because a
//     response is relayed by the handler that read it, while a request may
//     be written in another request's turn (nginx completing a
//     non-blocking connect; a goroutine on a thread that last served
//     another request): on the demo's recordings this took nginx's hop at
//     50 clients from 98.5% to 100% and goroutines without goroutine
//     tracking at 10 clients from 91%/87% to 95%/91% (precision/recall).
//     The parent must contain the call in time within
//     Config.ProcessTolerance (100 µs: one host, one clock), which rejects
//     the stale id a thread keeps from a request it finished. Two s-p
//     spans are never linked to each other.
//   - x_request_id (proxies): a call whose request carries X-Request-ID
//     R hangs from a call that contains it in time and carries R in its
//     response (x_request_id_1: the proxy generated R and returned it,
//     DeepFlow's rule; nginx's "add_header X-Request-ID $request_id"), or
//     in its request with the proxy on its server side (its server address
//     is the child's client address, or its server process the child's
//     client process: the proxy propagated the client's R); the latest to
//     start when several do. Set by configuration, this is zero-code.
//   - app_id (W3C traceparent, B3, sw8, OpenTelemetry): within one
//     trace_id, an application span and the network or process spans whose
//     span_id equals its span id are one call (the header its call sent:
//     RECORDS.md puts the caller's span id in span_id); a call with a span
//     whose parent_span_id equals another call's span id hangs from that
//     call. An application span that names its socket (the semantic
//     conventions' network.local/peer address and port) joins the call
//     observed on that flow starting nearest to it within the tolerance,
//     so an OTel span and the eBPF and packet spans of its call are one
//     call, not duplicates. Config.IgnoreAppIDs turns the rule, trace-id
//     search and application spans off, for zero-code traces.
//
// # Assembly
//
// Assemble de-duplicates spans by ID, forms the calls (tcp_seq, and
// app_id's span-id merge), then gives each call, in order of start time,
// at most one parent by the first rule that finds one: app_id, then
// x_request_id, then syscall. The call's first span on its path hangs from
// the parent call's last span (its s-p or s-app), or, for syscall, from the
// server-process span that made the call. A link that would close a cycle
// is not made, so the result is always a forest; a call no rule relates is
// a root. Nodes come depth first, children by start time.
//
// # Search
//
// Search starts from a seed Query (span ids, trace ids, X-Request-IDs,
// ...) and repeats: each round asks the Store for spans sharing a key with
// the spans of the seed's trees as assembled so far (TCP sequence numbers,
// UDP flows, syscall trace ids, X-Request-IDs, trace ids), within
// Config.Window of their time range, until nothing new is asked for,
// Config.MaxRounds rounds (30, like DeepFlow) or Config.MaxSpans spans
// (1,000). Following only what joins the trees keeps a search from
// crawling through an event-loop server's or a load generator's shared
// ids. MemStore is an in-memory Store; the example server implements one
// over SQL.
//
// # Export
//
// Trace.AppendOTLP writes OTLP/JSON (resourceSpans per service,
// scopeSpans, spans with hex ids).
//
// # Limits
//
// Known limits are DeepFlow's: a request handed to another thread (a pool,
// a channel) before the downstream call is not followed by syscall ids;
// an event-loop process (nginx without X-Request-ID, Node.js) interleaves
// requests on one thread, so syscall links there are wrong or missing;
// tcp_seq needs both observations on one 5-tuple (no NAT between them);
// UDP calls (DNS) are joined across capture points by flow and time
// alone, and find a parent by syscall only.
//
// Concurrency: Search and Assemble may run concurrently; a Trace belongs
// to its caller. MemStore is safe for concurrent use.
//
// Errors: bad input never panics; record reading returns *FieldError or
// errors wrapping ErrRecord (ErrNotL7 for other record types); Search
// returns ErrEmptyQuery, ErrNoSeed, or a *StoreError wrapping the
// store's error.
package autotrace
