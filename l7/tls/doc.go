// Package tls decodes the TLS record layer and the cleartext handshake for
// the l7 engine: one l7_flow_log record per handshake, from the
// ClientHello and the server's answer. Nothing is decrypted.
//
// New returns the Decoder, named "TLS". Its Check accepts a TCP payload
// that starts with a record header (content type 20 to 24, version 3.x,
// length at most 2^14+2048): a ClientHello is a request, a ServerHello a
// response, and any other record, as in a capture that starts mid-stream,
// goes the way the engine believes, so that the flow's l4_flow_log still
// says TLS.
//
// Its Parsers follow one connection's records in both directions:
//
//   - A ClientHello is a request: request_type "ClientHello",
//     request_domain the server_name (SNI), request_resource the ALPN
//     protocols offered, comma-separated (at most 256 bytes, whole names).
//   - A ServerHello (or HelloRetryRequest, after which a second
//     ClientHello and ServerHello make a second record) is the response:
//     version the negotiated version ("1.3" from supported_versions, else
//     the legacy version: "1.2", "1.1", "1.0", "SSL 3.0", other values as
//     "0x7f1c"), response_result the cipher suite's IANA name (hex when
//     unnamed), status Ok. response_duration is thus the handshake's first
//     round trip, ClientHello to ServerHello.
//   - A plaintext alert is a response with response_code the description
//     and response_exception its RFC name ("protocol_version"). The
//     server's alert to a ClientHello waiting for an answer pairs with it;
//     any other (the client rejecting the certificate, say) is emitted as a
//     lone response. Status: warnings Ok; a fatal alert from the server
//     ClientError (it refuses the client's offer), except internal_error
//     ServerError; a fatal alert from the client ServerError (it refuses
//     the server's answer).
//   - Every message sets l7.Message.TLS, so the flow's records carry
//     is_tls.
//   - Handshake records are read whole (the engine buffers them; a hello
//     spanning several records is reassembled in a Parser buffer of at
//     most Config.MaxHello bytes). application_data records, and every
//     record after a ChangeCipherSpec in TLS 1.2 and earlier, are counted
//     and skipped as they arrive, without buffering: a Parser's state is a
//     few counters per direction. Parser.Stats has the counts.
//   - The Parser implements l7.Trailer: records that yield no message do
//     not move the start of the next one, so a response's time is that of
//     its own record (a hello spanning records starts at its last one).
//   - After a gap inside a record being skipped, framing continues; after
//     any other gap the Parser looks for the next plausible record header
//     (one followed by another, or by the end of the bytes at its end),
//     and for hellos only in records that start with one.
//
// Offered versions (supported_versions of the ClientHello) have no record
// field in RECORDS.md and are not reported. SSL 2.0 ClientHellos are not
// recognised.
//
// Concurrency: the Decoder is stateless and safe for concurrent use; a
// Parser belongs to one flow and one goroutine.
//
// Errors: Parse returns l7.ErrNeedMore for an incomplete record header,
// handshake record or alert; a *l7.ParseError wrapping ErrBadRecord for a
// header that is not TLS, or ErrBadHello for a hello whose fields overrun
// it (both match l7.ErrMalformed). Parse does not allocate, except once
// per direction for a hello that spans records.
package tls
