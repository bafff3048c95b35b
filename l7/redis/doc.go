// Package redis decodes the Redis serialization protocol (RESP2 and RESP3)
// for the l7 engine.
//
// New returns the Decoder, named "Redis" (a nil *Config means defaults);
// its NewParser returns a *Parser. Requests are the client's
// commands: arrays of bulk strings, or inline commands (a line of words).
// Replies are any RESP value: simple strings (+), errors (-), integers (:),
// bulk strings ($), arrays (*), and the RESP3 types null (_), double (,),
// boolean (#), blob error (!), verbatim string (=), big number ((), map
// (%), set (~), push (>) and attribute (|, which annotates the value that
// follows it and is part of the same reply). Aggregates nest up to 32
// deep.
//
// Direction matters: bytes the engine passes as l7.ToServer are parsed as
// commands, l7.ToClient as replies. Pipelined commands and replies pair in
// order.
//
// A message is emitted when its top-level value is complete. Values are
// consumed as they arrive and never buffered whole: a bulk string spread
// over many segments is skipped segment by segment (Parse returns
// (n, false, nil)), keeping only a bounded prefix for the request fields.
//
// Fields: RequestType is the command name upper-cased (at most 32 bytes);
// RequestResource the command line, its arguments joined by spaces and cut
// at 256 bytes; Length the size of the whole value in bytes. An error reply
// (- or !) is ServerError with its text (at most 256 bytes) in Exception;
// any other reply is Ok.
//
// Pub/sub: messages pushed to a subscriber ("message", "pmessage",
// "smessage" arrays in RESP2, and RESP3 push values) are responses marked
// Streaming. A SUBSCRIBE naming k channels is confirmed k times: the first
// confirmation answers the command, the other k-1 are Streaming. Commands
// sent while CLIENT REPLY is OFF, CLIENT REPLY OFF and SKIP themselves, and
// the command after SKIP are marked NoResponse.
//
// Holes: a hole inside a bulk string is absorbed; any other drops the value
// in progress, and the parser takes the next line that starts a value,
// the first after the hole included. The bytes it skips meanwhile are
// Trailing (l7.Trailer): the next message is dated from its own start.
//
// Concurrency: the Decoder is stateless and safe for concurrent use; a
// Parser belongs to one flow and one goroutine.
//
// Errors: Parse returns l7.ErrNeedMore when a type line is incomplete, and
// a *l7.ParseError wrapping one of this package's sentinels (each matches
// l7.ErrMalformed) for bytes that break the grammar; the direction then
// skips to the next line that can start a value. Parse does not allocate.
package redis
