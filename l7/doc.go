// Package l7 turns the payload of flows into application request logs:
// TCP reassembly per direction, content-based protocol inference, an
// explicit registry of decoders (built-in ones and the user's own), request
// and response pairing into sessions, and l7_flow_log records.
//
// Its input is ordered byte chunks per flow direction with gap and timing
// information; packets reach it through the flow table's Handler.
//
// An Engine is not safe for concurrent use. Decoders are stateless values;
// their Parsers hold per-flow state.
//
// Errors: parsers return ErrNeedMore, ErrMalformed, ErrStop or a
// *ParseError; the engine counts every failure and dropped byte in Stats.
package l7
