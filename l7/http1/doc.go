// Package http1 decodes HTTP/1.0 and HTTP/1.1 requests and responses for
// the l7 engine.
//
// New returns the Decoder, named "HTTP" (a nil *Config means defaults). Its
// Check accepts a request line (a method token and a space) or a status
// line ("HTTP/1."); its NewParser returns a *Parser, which follows one TCP
// connection in both directions:
//
//   - A message is emitted when its start line and header block are
//     complete. Its body is then skipped as it arrives, without buffering:
//     Parse returns (n, false, nil) for body bytes. Bodies are framed by
//     Content-Length, by chunked transfer coding, or, for a response with
//     neither, by the end of the connection.
//   - Requests and responses pair in order (pipelining keeps FIFO order).
//     The parser keeps the methods of the requests still waiting for a
//     response, so that a response to HEAD, and 1xx, 204 and 304 responses,
//     carry no body even with a Content-Length.
//   - Interim 1xx responses other than 101 (100 Continue, 102, 103) are
//     consumed without emitting a Message, so the final response pairs with
//     the request in FIFO order. This is the convention the engine relies
//     on: every emitted response answers exactly one emitted request.
//   - A 101 Switching Protocols response, and a 2xx response to CONNECT, is
//     emitted; the next call on the Parser returns l7.ErrStop, because the
//     bytes that follow are no longer HTTP/1.x.
//   - Because a message is emitted before its body, the Parser implements
//     l7.Trailer: Trailing reports that the next bytes of a direction
//     still belong to the body of the message last returned.
//   - Header names match case-insensitively; obsolete line folding is
//     joined with one space (into a bounded buffer of the Parser).
//
// Fields follow RECORDS.md: method (RequestType), Host or the absolute
// target's authority (RequestDomain), target with query (RequestResource),
// path without query (Endpoint; Config.EndpointSegments may cut it to its
// first N segments), version "1.1" (Version), status code
// (Code), reason phrase into Exception for 4xx and 5xx (ClientError and
// ServerError), Content-Length (Length, -1 without one), User-Agent,
// X-Request-ID, W3C traceparent (TraceID, and SpanID from its parent-id
// field) and SkyWalking sw8 (TraceID decoded from base64, SpanID as
// "<segment id>-<span id>").
//
// Concurrency: the Decoder is stateless and safe for concurrent use; a
// Parser belongs to one flow and one goroutine.
//
// Stats counts messages, interim responses, errors, unmatched responses
// and skipped bytes per Parser.
//
// Errors: Parse returns l7.ErrNeedMore for an incomplete start line, header
// block or chunk-size line; a *l7.ParseError wrapping one of this package's
// sentinels (each matches l7.ErrMalformed with errors.Is) for bytes that
// break the grammar. After a bad start line or header block the Parser
// skips to the next line that starts a message; after broken body framing
// (a bad chunk size or Content-Length) it skips the rest of that direction,
// since guessing message starts inside such a body is how requests are
// smuggled. l7.ErrStop follows a protocol switch. Parse does not
// allocate.
package http1
