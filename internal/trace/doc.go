// Package trace reads the distributed-tracing headers that L7 decoders find
// in HTTP headers, gRPC metadata or Dubbo attachments: W3C traceparent,
// SkyWalking sw8, Zipkin B3 (single "b3" and multi "X-B3-*") and
// X-Request-ID, into the trace_id, span_id, parent_span_id and
// x_request_id fields of RECORDS.md.
//
// Field mapping, shared by every decoder so that records agree:
//   - traceparent "00-<trace-id>-<parent-id>-<flags>": TraceID the trace-id,
//     SpanID the parent-id (the span of the caller that sent the request).
//   - sw8 "<sample>-<trace id>-<segment id>-<span id>-...": TraceID the
//     base64-decoded trace id, SpanID "<decoded segment id>-<span id>".
//   - b3 "<trace id>-<span id>[-<sampled>[-<parent span id>]]", or the
//     X-B3-TraceId, X-B3-SpanId and X-B3-ParentSpanId headers: the ids as
//     they are (hex).
//
// Concurrency: the functions are pure; a Buf belongs to one caller.
// Errors: a malformed value yields ok false and no ids; nothing panics or
// allocates.
package trace
