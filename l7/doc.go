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
// its orientation is certain. Decoders are tried in registry order, so a
// decoder of one's own placed first is tried before the built-in ones.
//
// Bytes that several protocols share (a text line "get k" is both a Redis
// inline command and a memcached command) get the verdict WeakRequest: the
// engine takes it only when the endpoint cache or a port hint already names
// that decoder, so an ambiguous first line never claims a flow, and a
// later decoder (a user's memcached) still gets its chance. Unrecognised
// bytes are held (up to 4 KiB per direction) until the other direction
// tells, so a request that only a WeakRequest named still pairs with its
// response.
//
// Re-inference. A decoder that fails Config.ReinferAfterErrors times in a
// row in one direction of a flow (default 3), or on the replies of flows to
// one server endpoint that decoded no reply yet (short connections), is
// judged wrong for the flow:
// the requests waiting on it are emitted at once with status Unknown
// (Stats.AbandonedRequests) rather than later as false Timeouts, the
// decoder is avoided on that flow and for Config.InferBackoff on its
// server endpoint, and the flow's next bytes go through inference again
// (Stats.Reinferred). Records already emitted stand; the flow keeps the
// abandoned decoder's name until another decoder takes it. A request that
// times out (or is still waiting at close) while its flow's latest replies
// failed to parse comes out as Unknown too: the reply was likely there.
//
// Sessions. Requests pair with responses by Message.ID when HasID, else in
// order (pipelining included), requests the server sends (Message.Reverse)
// apart from the client's, under per-flow and engine caps (overflow
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
