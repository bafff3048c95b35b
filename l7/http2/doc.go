// Package http2 decodes HTTP/2 (RFC 9113) and gRPC over cleartext TCP:
// the connection preface, every frame type, HPACK header blocks (RFC 7541)
// with one dynamic table per direction, streams paired by stream id,
// trailers, RST_STREAM and GOAWAY. h2c is recognised by prior knowledge
// (the preface), by an HTTP/1.1 "Upgrade: h2c" request (whose request is
// stream 1's, answered on stream 1 after "101 Switching Protocols"), and,
// for a connection joined mid-stream, by a run of well-formed frames.
//
// Records (RECORDS.md): one per stream. l7_protocol is "HTTP2", or "gRPC"
// when the request or the response content-type is application/grpc
// (l7.Message.Protocol). version "2"; request_type the :method (gRPC
// "POST"); request_domain the :authority (else host); request_resource the
// :path with its query; endpoint the path without query (gRPC: the whole
// "/pkg.Service/Method"); request_id the stream id, which also pairs the
// response. response_code the :status, or for gRPC the grpc-status (from
// the trailers, or from trailers-only response headers) with grpc-message,
// percent-decoded, as the exception; status by RECORDS.md's HTTP and gRPC
// mappings. HTTP/2 has no reason phrase, so an HTTP/2 error response has
// no exception. Tracing: traceparent, then sw8, then b3 / X-B3-* (through
// internal/trace), and x-request-id of the request and of the response.
// A pushed stream's request comes from its PUSH_PROMISE.
//
// When the message is complete: a request at the end of its header block
// (so a client-streaming call's record does not wait for its body); an
// HTTP/2 response at its final response headers (informational 1xx ones
// are skipped), with request_length / response_length from content-length
// (-1 without it); a gRPC response at its trailers (END_STREAM), with
// response_length the DATA bytes of the call, so that a streaming call
// (client, server or bidirectional) gives one record with the status of
// its trailers (a call longer than the engine's session timeout, 120 s by
// default, comes out as a Timeout request and a lone response). A call
// ended by RST_STREAM gives a response whose exception names the error
// code: a client error when the client reset it, a server error
// otherwise. Request headers count only from the client (pushed requests
// from PUSH_PROMISE), response headers only from the server; others are
// counted in Stats.Misdirected. The parser is an l7.Trailer whose bytes
// are all trailing: a record's time and sequence number are those of the
// frame that completes its message (the trailers of a gRPC call).
//
// Joining a connection mid-stream (or after lost bytes, which also make
// the parser look for the next frame boundary): header fields that refer
// to HPACK dynamic table entries never seen are unknown and left out (and
// counted in Stats.UnknownFields); literals, static table references and
// entries inserted since the join are decoded, because the dynamic table
// indexes from its newest entry. A request whose :method and :path are
// unknown still gives a record with its stream id, so its response pairs.
// A gRPC call whose content-type is such an entry is an "HTTP2" record,
// with :status as its code (TestParser_MidStreamCapture).
// The HPACK decoder is this package's own, its Huffman decoder included (a
// table decoder, one or two symbols per lookup, that accepts exactly what
// golang.org/x/net/http2/hpack's does: FuzzHuffmanDecode), because
// hpack.Decoder fails a block at the first unknown reference and
// allocates its strings.
//
// h2c Upgrade and HTTP/1.1: the decoder takes an HTTP/1.1 request only
// when it carries "Upgrade: h2c", and l7/builtin lists this decoder before
// l7/http1, so that such a flow is HTTP/2's from its first byte. If the
// server refuses the upgrade (any status but 101), its response answers
// stream 1 and the parser stops (l7.ErrStop): the flow is HTTP/1.1 from
// then on and this decoder does not read it. l7/http1's Check declines a
// request carrying "Upgrade: h2c", so an upgrade is HTTP/2's even where
// the endpoint cache names HTTP/1 for the server.
//
// Memory: streams are bounded per connection (Config.MaxStreams; the
// oldest is dropped past it and counted), header blocks split over
// CONTINUATION frames by Config.MaxHeaderBlock, each dynamic table by
// Config.MaxTableSize. Only the header values the records take are
// Huffman-decoded and kept in the dynamic tables; the others are measured
// (RFC 7541 counts their length) and dropped, and the records are those
// of a decoder keeping them all (TestParser_AllValues,
// FuzzParser_AllValues). DATA payloads are skipped, never buffered. Decoding
// a HEADERS frame allocates nothing in steady state. The parser is an
// l7.Idler: the memory it needs only for a message (header values, trace
// ids, a block split over CONTINUATION frames, HPACK's decoded strings,
// an empty stream table) comes from a pool when a message needs it and
// goes back when the engine says the connection is idle; each HPACK
// dynamic table is then packed into one slice of about its bytes (names
// of the static table and repeated names left out), its working ring
// going back to a pool, and the next header block lays it out again
// (packing again drops the entries evicted since and appends the ones
// inserted, so that a table that did not change costs nothing). An
// idle connection whose tables hold what real clients put there (a few
// hundred bytes) costs about 500 to 800 bytes of parser
// (TestParser_BytesPerIdleConn); going idle and busy again allocates
// nothing in steady state (TestParser_IdleZeroAlloc).
//
// Concurrency: a Decoder is stateless and safe for concurrent use; a
// Parser belongs to one connection and one goroutine.
//
// Errors: Parse returns ErrUpgrade, wrapped in *l7.ParseError, for
// HTTP/1.1 upgrade bytes it cannot read. Malformed frames (bad padding, a
// stray CONTINUATION, an oversized or broken header block) are skipped
// frame by frame and counted in Stats instead of failing, since the frame
// length keeps the parser in step; a block lost so makes the direction's
// HPACK table unknown, as a gap does. Nothing in the input panics.
package http2
