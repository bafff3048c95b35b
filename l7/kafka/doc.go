// Package kafka decodes the Apache Kafka wire protocol for the l7 engine.
//
// New returns the Decoder, named "Kafka". Every message is a 4-byte size
// and a header: a request header (API key, API version, correlation id,
// client id; v2 adds tagged fields) toward the server, a response header
// (correlation id; v1 adds tagged fields) toward the client. The header
// version follows from the API key and version: the flexible versions of
// each API (compact strings and arrays, tagged fields) come from the
// protocol's published message definitions, for all 95 API keys (0 to 94),
// ApiVersions responses keeping header v0. A response carries no API key:
// the parser remembers the API key and version of each request by
// correlation id (up to 64 per flow) and pairs the response with it.
// Requests of a version newer than the newest known (up to 64 above it),
// and of API keys beyond the table (up to 126), are recorded with what the
// header gives on a flow already taken as Kafka; only their bodies are not
// read. Check, which starts a flow, is stricter (see Decoder.Check).
//
// Records (RECORDS.md): request_type is the API name ("Produce", "Fetch",
// ...; the decimal key for a key beyond the table); version the API
// version; request_id the correlation id, which also pairs a response with
// its request; request_resource and endpoint the first topic of Produce,
// Fetch, ListOffsets, Metadata, OffsetCommit and OffsetFetch requests.
// Requests that name topics by id (Fetch v13+, Produce v13+, OffsetCommit
// and OffsetFetch v10+, Metadata v10+ by id) record the topic's name when
// a Metadata response seen by the same Decoder mapped that id, else the
// id as Kafka prints it (22 characters of unpadded URL-safe base64).
// request_length and response_length are whole messages, size field
// included. A Produce request with acks 0 gets no response (NoResponse).
//
// Responses: response_code is the first non-zero error code field of the
// response in wire order (top-level, topic, partition, as the response
// lays them out), or 0, for Produce, Fetch, ListOffsets, Metadata,
// OffsetCommit and OffsetFetch, and the top-level (or first group's or
// coordinator's) error code of ApiVersions, SaslHandshake,
// SaslAuthenticate, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup,
// SyncGroup, ListGroups, DescribeGroups, DeleteGroups, InitProducerId,
// AddOffsetsToTxn, EndTxn, DescribeCluster, ConsumerGroupHeartbeat,
// GetTelemetrySubscriptions and PushTelemetry. Status is Ok for 0 and
// ServerError for any other code, as DeepFlow and RECORDS.md judge Kafka
// (even codes a client caused, such as UNKNOWN_TOPIC_OR_PARTITION: the
// protocol does not classify them). Other responses (other APIs, versions
// newer than known, bodies cut before their first error code) have no code
// and status Unknown, as RECORDS.md says of a status that cannot be
// judged; so has a response whose request was not seen (a capture starting
// mid-flow), which is a lone response.
//
// Tracing: trace_id, span_id and parent_span_id come from the record
// headers of a Produce request's first partition: the first record that
// has a W3C traceparent (trace id, parent id), a SkyWalking sw8 (decoded
// trace id; decoded segment id and span id joined by '-', as DeepFlow
// records them), a b3 single header (trace id, span id, parent span id)
// or X-B3-TraceId/X-B3-SpanId/X-B3-ParentSpanId headers. Record batches
// (magic 2) are read uncompressed, or inflated when compressed with gzip,
// snappy (raw block or the Java client's xerial framing) or zstd, at most
// Config.MaxInflate bytes of each; lz4 batches and unknown codecs are
// counted (Stats.SkippedBatches) and skipped. Message sets of magic 0 and
// 1 carry no headers.
//
// Framing: a message is parsed from at most Config.MaxPeek bytes (16 KiB);
// the rest of a longer message (a large Produce or Fetch response) is
// skipped as it arrives, and a gap inside that rest is absorbed. After any
// other gap, or an error, a direction looks for the next plausible header:
// a request with a known API key and version and a client id that fits,
// or a response whose correlation id a pending request has. A message cut
// short by loss or a snaplen is decoded from what was captured (Flush).
//
// The topic id map: Metadata responses (v10+) fill a map from topic id to
// name held by the Decoder, so that requests on any flow of the engines
// sharing the Decoder can name the topic (a client sends Metadata and
// Fetch on different connections). It holds at most Config.MaxTopicIDs
// entries (4096 by default) and evicts the oldest; reads take a shared
// lock and do not allocate; a new or renamed id allocates its name. A
// Metadata response longer than MaxPeek is mapped whole: the topic entries
// past MaxPeek are read as the rest of the message goes by, each held (at
// most 16 KiB, in a pooled buffer held while the mapping lasts) until it
// is complete; a gap in it ends the mapping of that response. Its response_code comes
// from its first MaxPeek bytes.
// l7/builtin makes one Decoder per Registry call, so the map is per
// registry: engines sharing a registry share it.
//
// Check recognises requests only (a response has nothing distinctive);
// see Decoder.Check. Decoder.Stats counts the record batches looked at,
// inflated, skipped (lz4) and failing to inflate, and the topic id map's
// size, evictions and misses.
//
// Concurrency: a Decoder is safe for concurrent use (the topic id map is
// locked, counters atomic, decompressors pooled); a Parser belongs to one
// flow and one goroutine.
//
// Errors: Parse returns l7.ErrNeedMore until a message (or its first
// MaxPeek bytes) is there, and a *l7.ParseError wrapping ErrBadSize or
// ErrBadHeader (both match l7.ErrMalformed) for a size or request header
// that cannot be Kafka. A body that does not read as its API says yields
// the fields read before the fault; it is never an error. Parse does not
// allocate in steady state: fields alias the input or the Parser's
// scratch, and inflating reuses the Decoder's idle decompressors (at most
// 16 kept per codec).
//
// Memory: between messages a Parser holds its framing (136 bytes) and,
// while any request awaits its response, its table of requests in flight
// (512 bytes). The values it builds for a message (version text, topic
// names, trace ids, inflated records) live in a scratch taken from the
// Decoder's pool; the engine says when the parser is idle (l7.Idler), and
// it then gives the scratch back, and the table when no request waits.
package kafka
