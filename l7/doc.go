// Package l7 turns the payload of flows into application request logs:
// TCP reassembly per direction, content-based protocol inference, an
// explicit registry of decoders (built-in ones and the user's own), request
// and response pairing into sessions, and l7_flow_log records.
//
// Input. The Engine's core input is ordered byte chunks per connection
// direction with gap and timing information (Engine.Open, Conn.Data,
// Conn.Gap, Conn.Close), so that sources other than packets (eBPF socket
// events) feed it the same way. Conn.Segment takes raw TCP segments through
// a per-direction reassembler: in-order delivery without copying,
// out-of-order segments buffered in pooled buffers within a per-direction
// and a global byte budget, retransmissions and overlaps trimmed, holes
// reported to the parser as gaps (when the budget is full, after
// Config.ReassemblyTimeout, or at close), and mid-stream joins starting at
// the first sequence number seen. The Engine also implements flow.Handler
// (and flow.Snapshotter), so a flow.Table drives it directly.
//
// Inference. Each decoder's Check looks at a flow's first bytes; the result
// is remembered per server endpoint (address, port, transport) in a bounded
// LRU, and endpoints that fail Config.MaxInferFailures times are not tried
// for Config.InferBackoff. Port hints only order the candidates. When the
// first recognised message goes the wrong way, the flow is swapped unless
// its orientation is certain.
//
// Sessions. Requests pair with responses by Message.ID when HasID, else in
// order (pipelining included), under per-flow and engine caps (overflow
// emits the oldest with status Unknown) and per-decoder timeouts by input
// time (status Timeout, also for requests still waiting at close).
//
// Concurrency: an Engine and its Conns are not safe for concurrent use;
// drive each Engine from one goroutine (shard by flow for more). A Registry
// is immutable and safe to share. Decoders are stateless values; their
// Parsers hold per-flow state. Records passed to Config.OnRecord are valid
// only during the call.
//
// Errors: NewRegistry fails with errors matching ErrNilDecoder or
// ErrDuplicateDecoder, NewEngine with ErrNoRegistry. Input never causes an
// error or a panic: parsers return ErrNeedMore, ErrMalformed, ErrStop or a
// *ParseError, and the engine counts every failure, dropped byte, gap,
// overflow and timeout in Stats.
package l7
