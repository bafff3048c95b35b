// Package encoding is SmartEncoding: the agent-to-server wire format of
// metaflow's records, with tag values sent as integer ids of dictionaries
// that the server owns.
//
// # Dictionaries
//
// The server keeps a Dictionary: per tag key (pod, service, region, ...),
// value <-> uint32 id, ids 1, 2, 3 ... in order of assignment, never
// reused. Every assignment is a new version; an agent keeps an AgentDict
// learnt from Deltas. An Encoder writes the ids its AgentDict knows and
// sends other values as strings, once per batch; the server assigns them
// (Dictionary.Resolve) and answers with Dictionary.Sync, the delta since
// the agent's version, which the agent applies. A server that restarts
// restores its dictionary (WriteTo, AppendDelta, ReadFrom) and gives every
// value its old id. A dictionary has a random epoch: an agent of another
// epoch, or one ahead of the server (which lost state), gets ErrResync and
// starts again from version 0, as does a batch with ids of another epoch.
//
// Kubernetes labels are kept apart from records, in Labels: per (pod or
// service, id), a map of labels, versioned and synced with deltas the same
// way.
//
// # Frames
//
// A batch of l4_flow_log and l7_flow_log rows is written in columns: each
// column named as in RECORDS.md with its encoding, behind a versioned
// header with a CRC32C. Since format 1.2 integer columns are packed in
// blocks of 64 rows of a fixed width each (the values less a base; times
// and flow ids less the block's least, IPv4 addresses as 32-bit numbers),
// written without a branch a value, and each column (and the string
// table) is compressed with zstd where a try saves an eighth of its bytes
// (packed times, ports and counters are nearly random bytes: compressing
// them would cost the most of the encoding for nothing). The whole body in
// one zstd frame or one S2 block, and the uvarint columns of format 1.1,
// are options. Tags go as tag sets: the distinct tag sets of a batch (an
// endpoint's region, az, host, pod, service ... ids) once each, and per
// row one index a side; the decoder expands them into DeepFlow's integer
// columns "<key>_id_0" and "<key>_id_1". FORMAT.md specifies the bytes and
// the rules for evolving them.
//
// Since format 1.3 (EncoderConfig.TagSetIDs, off by default: it needs a
// 1.3 server) tag sets outlive a frame: the server gives every tag set it
// receives a dictionary id, as a value of the reserved key TagSetKey
// ("@tagset", the value is the set's "key=id" pairs), when it resolves the
// batch; the agent learns it from the acknowledgement like any value's id,
// and from then on a row's side carries that one id (ColTagSetRef) and the
// frame's tag set table only the sets the server has not named yet.
// Resolve expands the ids back into the "<key>_id_<side>" columns, so a
// resolved batch is what it was with 1.2 frames. The ids live in the
// dictionary, so its epochs, deltas, journal and restore carry them: a
// frame resent to a restarted server decodes as long as its journal holds
// them, and one with ids of a lost state is refused (ErrResync) as value
// ids are.
//
// The Encoder finds a record side's tag set with one lookup in a 4-way
// cache. A side whose tags are a tag.List that a tagging stage attached
// (autotag.Stage attaches one immutable list per endpoint: tag.Set.Attach)
// is keyed by the list's address alone; the cache keeps the list
// referenced, so the address cannot come back as another list. A side
// built by hand (tag.Set.Add, Set) is keyed by an NH hash of the addresses
// of its 15 or so strings (one multiplication a tag): the same interned
// strings hash alike. Other strings are found through per-key caches and
// the AgentDict.
//
// # Cost
//
// BenchmarkEncode encodes 1,000,000 l4_flow_log rows with 15 tags a side
// (5,000 pods, 400 services, 3,000 cloud hosts ...), tagged as an agent's
// are: by an autotag.Stage over a snapshot of the 8,000 endpoints, which
// attaches each side's tag.List. Frames of 16,384 rows, beside the JSON
// sink's AppendJSON writing the same records as JSON Lines. Measured on a
// shared 2-core AMD EPYC virtual machine, in CPU time a row of encoding
// alone, the least of the ops, leaving out the building and tagging of
// the records (the same in every case), in two runs (load 10 to 16, 3
// ops; load 7, 5 ops): SmartEncoding (the default: packed columns, zstd
// where it pays) 269 and 198 ns and 55 bytes, 6.4 and 8.5 times faster
// than JSON Lines (1,737 and 1,687 ns, 1,660 bytes) and 30 times smaller;
// with S2 305 and 195 ns (8.7 times) and 54 bytes; with the whole body in
// one zstd frame 377 ns and 50 bytes; with format 1.1's uvarints 451 ns
// and 50 bytes; string-tagged columns with zstd 2,640 ns and 120 bytes.
// The same rows without tags take 166 and 138 ns (10.5 and 12.2 times
// faster than JSON) and 45 bytes; with tags of the records' own (copied,
// so found by hashing their strings: smart-owntags) 398 and 313 ns (4.4
// and 5.4 times).
//
// So with format 1.2 the tags cost 60 to 100 ns a row, down from 175 to
// 230 when every side's strings are hashed: mostly the tag set table,
// which each frame starts empty (of the 16,384 rows of a frame, about
// 3,800 sides are an endpoint's first in the frame, and its 15 ids are
// written again, 3.5 ids a row and a cache miss or two each). Format
// 1.3's tag set ids (TagSetIDs) remove it: once the server has named the
// agent's sets, a side is one id found with one load (a 4-way cache of
// the stage's lists, 256 KiB; 1.3% of the sides miss it and take the
// tag set cache) and the frames carry no tag set table: the tags then
// cost 6 to 9 ns a row (the list cache's load and the two id columns, 4
// bytes a row). On the quiet machine (load 1, one run of 3 x 3 ops, JSON
// 1,613 to 1,699 ns a row and 1,660 bytes): smart-setids 154 to 161 ns
// and 49 bytes a row, 10.2 to 10.4 times faster than JSON; with S2
// (smart-setids-s2, what examples/agent sends) 130 to 140 ns and 48
// bytes, 12.2 to 12.3 times faster and 34 times smaller; the same rows
// without tags 147 to 152 ns (zstd). The library's default stays format
// 1.2 (TagSetIDs false) so that an agent keeps working with a 1.2 server.
// On the capture below in the same quiet hour, smart-setids-s2: l4 warm
// 120 ns, large 260 ns and 44 bytes (JSON 1,571: 6.0 times); l7 warm 156
// ns (JSON 1,461: 9.4 times), large 400 ns and 53 bytes (JSON 1,764: 4.4
// times).
//
// BenchmarkEncodeCapture encodes the records of a real capture
// (ENCODING_BENCH_PCAP: the first 1,000,000 packets of
// ../shared/bench's bench-mixed-5m.pcap give 144,801 l4 and 200,000 l7
// records), tagged by an autotag.Stage over a snapshot of their addresses,
// each one of 5,000 client and 2,000 server endpoints (15 or 16 tags).
// Cache-warm (256 records encoded again and again): l4 161 ns a row
// against JSON's 1,569 (9.8 times; S2 125 ns, 12.6 times), l7 219 against
// 1,581 (7.2 times; S2 172 ns, 9.2 times). Large (every record once, read
// from memory): l4 602 ns and 45 bytes against 1,781 ns and 1,456 bytes
// (3.0 times; S2 403 ns, 47 bytes, 4.4 times), l7 718 ns and 50 bytes
// against 2,009 ns and 1,320 bytes (2.8 times; S2 520 ns, 55 bytes, 3.9
// times): reading the records from memory costs both alike, and those
// replayed sessions compress well, so zstd does more work than on the
// generated rows. With tag set ids (smart-setids, same run; JSON l4 1,394
// warm and 1,604 large, l7 1,477 and 1,867): l4 warm 134 ns (10.4 times,
// default 160: 8.7), large 432 ns and 42 bytes (3.7 times, default 524
// and 48 bytes: 3.1); l7 warm 173 ns (8.5 times, default 197: 7.5),
// large 585 ns and 45 bytes (3.2 times, default 692 and 51 bytes: 2.7).
//
// An agent plugs a Sink into its pipeline (pipeline.SinkConfig): it batches
// the records and hands each frame to a sender.
//
// Concurrency: Dictionary, AgentDict, Labels, Decoder and Sink are safe for
// concurrent use; an Encoder and a Batch belong to one goroutine.
//
// Errors: decoding untrusted bytes (Decode, ParseDelta, ParseLabelDelta)
// never panics; it returns ErrMagic, ErrVersion, ErrFlags, ErrChecksum or
// ErrTooLarge for a bad frame, and a *FormatError (Offset, Err:
// ErrTruncated, ErrCorrupt, ErrTooLarge) for a bad body. Dictionary sync
// errors are *ResyncError (ErrResync), ErrGap and ErrConflict.
package encoding
