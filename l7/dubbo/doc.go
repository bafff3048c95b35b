// Package dubbo decodes the Apache Dubbo 2 protocol ("dubbo://", magic
// 0xdabb) for the l7 engine: one l7_flow_log record per invocation, its
// request paired with its response by request id.
//
// New returns the Decoder, named "Dubbo". Its Check accepts a TCP payload
// starting with a 16-byte frame header: magic 0xdabb; a flag byte (request
// 0x80, two-way 0x40, event 0x20, serialization id in the low 5 bits, one
// Dubbo knows: hessian2 2, java 3, compactedjava 4, fastjson 6, nativejava
// 7, kryo 8, fst 9, native-hessian 10, avro 11, protostuff 12, gson 16,
// protobuf-json 21, protobuf 22, fastjson2 23, kryo2 25, msgpack 31); a
// status byte (0 in requests, a Dubbo status in responses); the 8-byte
// request id and the 4-byte body length.
//
// Fields (RECORDS.md), from hessian2 bodies:
//   - Request: the invocation's dubbo version (version), service path
//     (request_domain), method name (request_type), "service.method"
//     (request_resource) and "service/method" (endpoint); the arguments
//     are skipped value by value, as the parameter descriptor counts them,
//     to reach the attachments, whose traceparent, sw8, b3 and X-B3-*
//     entries give trace_id, span_id and parent_span_id (in that order of
//     preference, read by internal/trace as for HTTP) and X-Request-ID
//     x_request_id. One-way requests get no response (NoResponse).
//   - Response: response_code the status byte. 20 is Ok, unless the body
//     holds an exception (result kinds 0 and 3): then ServerError, with
//     response_exception "<exception class>: <detailMessage>". Other
//     statuses: 30, 35, 40, 60 and 90 ClientError, 31, 50, 70, 80 and 100
//     ServerError, with the error message of the body as
//     response_exception.
//   - request_id and the pairing id are the frame's request id (request_id
//     keeps its low 32 bits); request_length and response_length are frame
//     lengths, header included.
//   - Other serializations are recognised by id: their records carry the
//     id, status and lengths, without body fields.
//   - Heartbeats and other events (flag 0x20) are consumed and counted;
//     with Config.Events they are records with request_type "heartbeat"
//     (a null body) or "event".
//
// Hessian2 is read by a small reader of this package: strings in all
// forms (short, medium, chunked 'R'...'S', UTF-8 counted in UTF-16 units
// as Java writes them), ints, longs, doubles, dates, binaries, lists,
// maps, class definitions, objects and references, nested at most 32
// deep, with at most 64 class definitions per frame. Chunked strings are
// joined in a 1 KiB buffer of the Parser.
//
// A frame is read whole when its body is at most Config.MaxBody bytes;
// otherwise its first MaxBody bytes are decoded and the rest is skipped as
// it arrives, without buffering. The Parser implements l7.Trailer (bytes
// that yield no message never start one). After a gap inside a body being
// skipped the framing is kept; after any other gap the Parser looks for
// the next header (the magic and a valid header).
//
// Concurrency: the Decoder is safe for concurrent use (it holds the
// counters its parsers add to atomically); a Parser belongs to one flow
// and one goroutine.
//
// Errors: Parse returns l7.ErrNeedMore for an incomplete header or body
// (up to MaxBody); a *l7.ParseError wrapping ErrBadHeader or ErrBadLength
// (both match l7.ErrMalformed) for bytes that are not a frame header. A
// body that does not decode is not an error: the record keeps the fields
// read before the fault, and Decoder.Stats counts it. Parse does not
// allocate.
package dubbo
