// Package pipeline runs the whole packet path for an embedding agent:
// a capture.Source, decoding, N shards that each own a flow.Table and an
// l7.Engine, then ordered stages and sinks for the records.
//
//	p, err := pipeline.New(pipeline.Config{
//		Source: src,
//		Shards: 4,
//		Sinks:  []pipeline.SinkConfig{{Sink: pipeline.NewJSONSink(os.Stdout)}},
//	})
//	...
//	err = p.Run(ctx) // returns after the last record, at the end of input or on cancellation
//
// # Shards
//
// One goroutine (the caller of Run) reads packets and hands them, in
// batches, to the shard chosen by Hash: a symmetric hash of the inner
// (post-tunnel) addresses and the IP protocol. The reader only looks up
// the addresses of a common frame (decode.Decoder.PeekAddrs: Ethernet or
// raw IP, no tunnel, no fragment) and the shard decodes it; the reader
// decodes the others itself (tunnels, fragments in reassembly) and hands
// over the decoded packet, so decoding is spread over the shards and the
// reader's share stays small. Both directions of a conversation, every IP
// fragment of a datagram (which has no ports past the first) and every
// tunnelled flow land on one shard, and the flow table's own rules
// (directions tagged with different VLANs or GRE keys merged into one
// flow) stay within one shard. The price is that all flows between one
// pair of hosts share a shard. With one shard everything runs on the
// caller's goroutine, with no hand-off at all, for a file and for a live
// source whose wait can be bounded (capture.DeadlineSource, such as
// capture.AFPacketSource); other live sources go through a shard
// goroutine, whose clock ticks while the reader waits.
//
// Config.Sources instead gives each shard a source of its own, read,
// decoded and processed on the shard's goroutine: no reader and no
// hand-off, which costs the least CPU per packet on a live link. The
// caller splits the traffic; capture.OpenAFPacketFanout opens one
// AF_PACKET socket per shard in a fan-out group whose symmetric flow hash
// keeps both directions of a TCP or UDP conversation together, and, with
// FanoutDefrag, reassembles IPv4 fragments before it hashes them. The
// kernel hashes a tunnel's outer headers, though: flows in a UDP tunnel
// (VXLAN, Geneve, whose outer source port differs by direction) and IPv6
// fragments may reach two shards and give two half flows, which the
// single reader, hashing the inner addresses, never does. With Sources,
// flows spread by the kernel's hash of addresses and ports, so the
// connections between one pair of hosts spread over the shards too.
//
// Flow ids carry the shard in their top 8 bits (flow.Config.Shard), so they
// are unique across shards and every l7 record joins its l4 flow by id.
//
// Limits: the table-wide caps of the configuration are totals, divided
// evenly between the shards: flow.Config.MaxFlows, l7.Config.MaxSessions,
// l7.Config.MaxBufferTotal and l7.Config.MaxInferFailures (so with 4
// shards and MaxFlows 1,000,000, each table holds at most 250,000 flows; as
// hashing is not perfectly even, one shard may reach its share first,
// counted in its Stats; a server's flows spread over the shards, so each
// turns inference off for the endpoint after its share of the failed
// rounds). Per-flow and
// per-direction limits (l7.Config.MaxPendingPerFlow, MaxBufferPerDirection)
// apply to each flow as configured. The inference endpoint cache
// (l7.Config.InferCacheSize) is per shard: a server seen from clients on
// several shards is learnt by each, so the total is Shards times the size.
// The registry of decoders is shared (it is immutable); each decoder must
// be safe for concurrent use, as l7.Decoder requires.
//
// # Clock
//
// Time is packet time: files replay deterministically at any speed. For a
// live source (capture.LiveSource, or Config.Clock set to ClockWall) every
// shard also moves its clock to the wall clock each Config.Tick when its
// packets do not, so a flow that ended on a quiet link is reported within
// its close timeout plus one tick, and partial batches are handed to the
// shards within 50 ms. A shard that reads a capture.DeadlineSource itself
// processes its packets as soon as the source has no more at hand, and
// moves its clock by the source's read deadline, which it keeps at the
// next tick.
//
// # Stages and sinks
//
// Each record passes through Config.Stages in order, then to every sink.
// Stages run on the shard goroutines, synchronously, with the record
// borrowed for the duration of the call: they may change it (attach tags)
// or drop it (return false), and must be safe for concurrent use when there
// are several shards. A sink is either synchronous (SinkConfig.Queue 0): it
// is called on the shard goroutines, one call at a time (the pipeline holds
// a lock per sink, so a sink need not be safe for concurrent use), with a
// borrowed record that it must copy (Clone) to keep; or queued
// (SinkConfig.Queue > 0): it receives owned copies through a bounded queue,
// on a goroutine of its own, and may keep them. When a queue is full the
// shards wait for it (the default, back-pressure up to the source; a live
// source then drops in the kernel, counted in Stats.Capture.Dropped) or,
// with SinkConfig.DropWhenFull, the record is dropped and counted in the
// sink's stats. Sinks implementing Flusher are flushed every Config.Tick
// and at the end. The first error a sink returns stops Run, which returns
// it.
//
// Record order: records of one flow come in the order their producer
// emits them; with several shards, records of different flows interleave
// in no fixed order.
//
// # Socket events
//
// Config.Sockets adds a socket.Source (capture/ebpf's Tracer): payloads
// that system calls and TLS libraries carried, and the sockets' life.
// Packets and socket events may come together or alone; each socket event
// source runs on a goroutine of its own with its own L7 engine, and its
// records go through the same stages and sinks (which then see two
// producers even with one shard). Run returns when every input has ended.
//
// Each socket (for UDP, each socket and peer) is a connection of the
// engine, opened at its first data: egress and ingress bytes are its two
// ordered directions, numbered by the event's TCP sequence number when it
// has one (so req_tcp_seq and resp_tcp_seq equal what packet capture sees)
// and by a running offset otherwise. A hole between sequence numbers
// (events lost) and a payload cut by the capture size (Length beyond the
// payload) are gaps; bytes delivered already are skipped. Orientation: a
// socket the process connected makes it the client, one it accepted the
// server; for a socket opened before tracing began, the higher port is the
// client until the L7 decoder judges otherwise. The process's pid and
// command name fill process_id_0 / process_kname_0 when it is the client,
// _1 when it is the server: one socket is one process's view, so a request
// between two traced processes gives two records (one from each end, with
// the same TCP sequence numbers). syscall_thread_0 / _1 and
// syscall_trace_id_request / _response are the thread and trace id of the
// calls that carried the request's and the response's first bytes.
//
// TLS: the syscall bytes of a socket are decoded until TLS plaintext
// events (Origin OpenSSL or GoTLS) appear on it; its connection then ends
// (giving the handshake's TLS record), and a new one with the same flow id
// decodes the plaintext (is_tls true, offsets counted from 0); later
// syscall data of the socket is dropped (SocketStats.TLSSuppressed). A
// socket whose library the tracer cannot hook is decoded as ciphertext.
// TLS library calls are reported when they return, so a write may be
// reported after a read (or a close) that it preceded: TLS reads and the
// ends of TLS sockets wait SocketConfig.TLSReorderWindow (20 ms of event
// time) for such writes (SocketStats.Reordered).
//
// Flow ids of socket connections have bit 31 set, a bit packet flow ids
// never have (their low 32 bits are a slot of a table of at most 2^28
// flows). A connection ends when the process closes the descriptor, the
// kernel moves the socket to TCP CLOSE, no event came for
// SocketConfig.IdleTimeout, or the input ends; then, unless
// SocketConfig.NoSocketLog, an "ebpf_socket_log" record (SocketRecord,
// whose documentation lists its keys) goes to the stages implementing
// SocketStage and the sinks implementing SocketSink (WriterSink does):
// addresses, process, duration, bytes and calls per direction, TCP state
// changes, retransmissions and the l7 counts. Filters by pid, cgroup or
// command name belong in the tracer's configuration, which applies them in
// the kernel; SocketConfig.Filter is a user-space fallback. Stats.Socket
// counts events read, filtered, suppressed, truncated, lost (the source's
// own Stats when it has them) and invalid ones (dropped, never an error).
//
// Concurrency: New and Run are called once; Stats may be called from any
// goroutine at any time, without allocating once its destination has
// grown: shards publish copies of their counters after each batch (a
// shard that reads its source itself: every 4,096 packets and, when live,
// every tick), so a live read lags by at most one batch or one tick.
//
// Errors: New fails with ErrNoSource (no Source, Sources or Sockets),
// ErrSources (Sources that do not fit), ErrNilSink or a configuration error
// (a registry that cannot be built); a second Run returns ErrRunTwice. Run
// returns the source's read error, the first error of Config.OnPacket or
// of a sink, ctx.Err() when cancelled, or nil at the end of input. Packets
// that cannot be decoded are counted in Stats.Decode, never returned as
// errors.
package pipeline
