package l7

// Stats counts what an engine saw, lost and emitted. Counters only grow,
// except the gauges OpenConns, RestingConns, PendingSessions and
// BufferedBytes.
type Stats struct {
	// Input.
	Segments uint64 // TCP segments and UDP datagrams with payload
	Bytes    uint64 // their payload bytes

	// Reassembly.
	DupBytes           uint64 // retransmitted bytes dropped as already delivered
	OutOfOrder         uint64 // segments buffered out of order
	Gaps               uint64 // holes reported to parsers (lost bytes, budget or reassembly timeout)
	GapBytes           uint64 // bytes in those holes (where known)
	BudgetGaps         uint64 // holes skipped early because a reassembly budget was full
	BudgetDroppedBytes uint64 // bytes discarded because a buffer budget was full
	DiscardedBytes     uint64 // buffered bytes discarded after a gap, a parse error or a stop

	// Inference.
	InferAttempts   uint64 // Check rounds over the candidate decoders
	InferFailures   uint64 // rounds in which no decoder recognised the bytes
	InferSkipped    uint64 // flows not tried because their endpoint is backed off
	InferCacheHits  uint64 // rounds decided by the endpoint cache's protocol
	UninferredBytes uint64 // payload bytes of flows with no protocol (yet)
	WeakRejected    uint64 // WeakRequest verdicts not taken: no cache entry or port hint named the decoder
	Reinferred      uint64 // flows whose decoder was abandoned after Config.ReinferAfterErrors parse errors in a row
	// AbandonedRequests counts requests emitted with status Unknown
	// because their replies could not be decoded: those waiting on an
	// abandoned decoder, and those timing out while their flow's latest
	// replies failed to parse.
	AbandonedRequests uint64

	// Parsing and sessions.
	ParseErrors        uint64 // Parse errors other than ErrNeedMore (all protocols)
	Stopped            uint64 // flows whose parser returned ErrStop
	CutMessages        uint64 // messages made from bytes cut short by a hole (Flusher)
	Requests           uint64
	Responses          uint64
	SessionsOverflowed uint64 // requests emitted early with status Unknown (caps)
	OwedResponses      uint64 // responses to those requests, emitted alone (pairing by order)
	Timeouts           uint64 // requests emitted with status Timeout (their session timeout passed)
	Unanswered         uint64 // requests still waiting when their flow closed or the input ended, before their session timeout: status Unknown
	LoneResponses      uint64 // responses without a request
	LostReplies        uint64 // requests emitted Unknown because their responses fell in a hole (TCP acknowledgements show it)
	Truncations        uint64 // byte fields cut at their length limit
	Records            uint64 // records passed to OnRecord

	// Gauges.
	OpenConns       int   // connections tracked
	RestingConns    int   // of OpenConns, idle ones keeping their state without a Conn (Engine.Conn returns nil)
	PendingSessions int   // requests waiting for their response
	BufferedBytes   int64 // pooled buffer capacity in use (out-of-order and parse buffers)

	// Per protocol, in registry order.
	Protocols []ProtocolStats
}

// ProtocolStats counts per decoder.
type ProtocolStats struct {
	Name        string
	Flows       uint64 // flows recognised as this protocol
	Requests    uint64
	Responses   uint64
	ParseErrors uint64
	Reinferred  uint64 // flows on which this decoder was abandoned (Stats.Reinferred)
}
