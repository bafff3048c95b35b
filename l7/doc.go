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
// cache (Config.InferCacheSize; when full, it evicts an endpoint not used
// lately, by the CLOCK rule), and endpoints that fail Config.MaxInferFailures times are not tried
// for Config.InferBackoff. Port hints (Config.PortHints, and the ports
// decoders declare through PortHinter) only order the candidates. When the
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
// judged wrong for the flow: the requests waiting on it are emitted at once
// with status Unknown (Stats.AbandonedRequests) rather than later as false
// Timeouts, the decoder is avoided on that flow and for
// Config.InferBackoff on its server endpoint, and the flow's next bytes go
// through inference again (Stats.Reinferred). Records already emitted
// stand; the flow keeps the abandoned decoder's name until another decoder
// takes it. A request that times out (or is still waiting at close) while
// its flow's latest replies failed to parse comes out as Unknown too: the
// reply was likely there.
//
// Memory per flow. The flow.Handler opens a Conn at a flow's first payload
// only: a flow that carries none costs the flow table alone (the SYNs'
// sequence numbers stay in the flow: flow.Flow.NextSeq). Until a decoder
// takes a flow, it keeps no Conn between its packets: a UDP flow keeps its
// inference tries in an 8-byte slot entry, a TCP flow with nothing in
// flight but the bytes held for inference (at most 4 KiB a direction, in
// pooled buffers of their size class, 64 bytes up) keeps 64 bytes
// of reassembly and inference state (park.go). A flow whose inference
// gives up before any message keeps only its 8-byte slot entry; its later
// bytes are counted as uninferred. A Conn is 512 bytes plus its parser;
// parsers that implement Idler give their per-message scratch back to a
// pool once the connection has had no input for IdleDelay of packet time
// (an idle parser holds about 100-370 bytes for HTTP/1, Dubbo,
// Kafka, MQTT and MySQL, 0.5-0.8 KB for HTTP/2 with its HPACK tables
// packed). A flow.Handler's connection that is then idle with nothing in
// flight but requests waiting (no bytes held, no message begun) rests: it
// gives its Conn back and keeps its parser and 64 bytes of state, 184 with
// requests waiting, whose sessions stay (rest.go, Stats.RestingConns)
// until its next packet. The parsers of
// ended flows are reused through Resetter
// (dns, dubbo, http1, http2, kafka, mqtt, mysql and redis implement it;
// l7test.CheckReset checks a reset parser against a new one). An idle
// HTTP/1 keep-alive connection costs about 630 bytes on a whole pipeline,
// flow and index included (pipeline's TestPipeline_BytesPerIdleHTTP; Dubbo:
// TestPipeline_BytesPerIdleDubbo); bytes buffered for incomplete messages
// add to that, up to Config.MaxBufferPerDirection.
//
// Sessions. Requests pair with responses by Message.ID when HasID, else in
// order (pipelining included), requests the server sends (Message.Reverse)
// apart from the client's. The requests one flow may hold are bounded per
// decoder (PendingLimiter; Config.MaxPendingPerFlow overrides) and by the
// bytes they hold (Config.MaxPendingBytesPerFlow), and the engine's total
// by Config.MaxSessions; overflow emits the oldest with status Unknown. A
// request whose decoder's session timeout passes (input time) is emitted
// with status Timeout; one still waiting when its flow closes or the input
// ends before that is Unknown (Stats.Unanswered). Over TCP, a hole in the
// responses is weighed with the client's acknowledgements: requests sent
// after the client had received the hole's bytes show that the requests
// before them were answered in the hole, so those come out Unknown
// (Stats.LostReplies) instead of taking later responses; and a response
// whose acknowledgement shows the server had not yet received the oldest
// waiting request is not paired with it. At close, a message head cut
// short is handed to the parser's Flusher, so that what was parsed still
// makes a record.
//
// Decoders. A decoder is an l7.Decoder value and its per-flow Parsers.
// The built-in decoders (l7/http1, l7/dns, l7/mysql, l7/redis, ...) share
// one shape, which a decoder of one's own may follow; the package example
// is a complete one:
//
//	package line // l7/<proto>; doc.go says what it decodes and how fields map
//
//	const Name = "LINE" // the l7_protocol value of its records
//
//	// Sentinels, returned by Parse wrapped in a *l7.ParseError.
//	var ErrLineTooLong = fmt.Errorf("line: line too long: %w", l7.ErrMalformed)
//
//	type Config struct{ MaxLine int } // zero value: defaults; each field says its default and limit
//	type Decoder struct{ cfg Config } // stateless, safe for concurrent use
//
//	func New(c *Config) *Decoder // nil: defaults
//	func (d *Decoder) Name() string
//	func (d *Decoder) Check(payload []byte, dir l7.Direction, t l7.Transport) l7.Verdict
//	func (d *Decoder) NewParser(t l7.Transport) l7.Parser // a *Parser
//
//	type Parser struct{ ... } // one flow's state, used by one goroutine
//
//	func (p *Parser) Parse(data []byte, dir l7.Direction, m *l7.Message) (n int, ok bool, err error)
//	func (p *Parser) Gap(dir l7.Direction, n int)
//
// with, where they apply, SessionTimeouter on the Decoder and Trailer and
// Flusher on the Parser. What the engine relies on, beyond the method
// documentation: Check may see any prefix of a flow's first segment, down
// to a single byte. Parse sees whatever contiguous bytes of a direction
// the engine holds, so a message may come a byte at a time; it answers an
// incomplete one with (0, false, ErrNeedMore), never modifies data, and is
// called again after each message, with empty data once everything is
// consumed. Its errors match ErrNeedMore, ErrStop or ErrMalformed; the
// built-in decoders return a package sentinel that wraps ErrMalformed
// inside a *ParseError{Protocol: Name, Offset: the fault's stream offset}.
// After such an error the engine drops all the bytes of that direction it
// holds (not only the n consumed) and, over TCP, calls Gap(dir, -1), so the
// parser resynchronises on the next boundary it can recognise. Bytes
// consumed without a message (a body after its headers, a handshake, bytes
// skipped while resynchronising) must be reported through Trailer, or the
// next message takes its start time and sequence number from them. Package
// l7/l7test checks all of this through the real engine (CheckContract,
// FuzzDecoder, CheckZeroAlloc).
//
// Concurrency: an Engine and its Conns are not safe for concurrent use;
// drive each Engine from one goroutine (shard by flow for more). A Registry
// is immutable and safe to share. Decoders are stateless values; their
// Parsers hold per-flow state. Records passed to Config.OnRecord are valid
// only during the call.
//
// Errors: NewRegistry fails with errors matching ErrNilDecoder or
// ErrDuplicateDecoder, NewEngine with ErrNoRegistry or an error naming a
// port hint's unknown decoder. Input never causes an
// error or a panic: parsers return ErrNeedMore, ErrMalformed, ErrStop or a
// *ParseError, and the engine counts every failure, dropped byte, gap,
// overflow and timeout in Stats.
package l7
