// Package store keeps the example server's records in DuckDB, in one file:
// l4_flow_log and l7_flow_log with integer tag columns "<key>_id_0" and
// "<key>_id_1" (RECORDS.md and METRICS-AND-TAGS.md names), the tag
// dictionary that gives them meaning (tag_dict: key, id, value, version),
// the tag keys (tag_keys), Kubernetes labels (labels) and the ids of the
// batches stored (batches), which make a resent batch a no-op.
//
// Ingest writes a decoded batch (encoding.Batch) with DuckDB's appender:
// the rows, the dictionary entries the batch created and its batch id go
// in one transaction, so a crash never leaves part of a batch, nor ids an
// agent was told about but the store lost. The file's row groups are of
// 4096 rows (Config.RowGroupSize): a batch of at least that many rows of a
// table is written compressed to the file when it commits (DuckDB's
// optimistic write; the WAL only points at it), not to the WAL to be
// compressed by a checkpoint (see Cost). The dictionary is restored from
// tag_dict on Open, keeping its epoch: agents' ids stay valid across
// restarts.
//
// Rows carry batch_seq, the sequence number of their batch in the batches
// table. l7_flow_log has ART indexes on the trace search columns
// (trace_id, x_request_id_0/1, req_tcp_seq, resp_tcp_seq and the
// syscall_trace_id columns, which agents fill from eBPF records; 0 for
// records captured from packets).
//
// # Metric tables
//
// The store computes DeepFlow's metric tables from the records it stores,
// with the aggregate package (DefaultViews): "network.1s", "network.1m",
// "network_map.1s", "network_map.1m", "application.1s",
// "application.1m", "application_map.1s", "application_map.1m" (the
// names need quoting in SQL; MetricTables lists them). A row is one
// window (time: its start, unix nanoseconds) of one key: the view's fields
// (ip_0, ip_1, server_port, protocol, l7_protocol, endpoint), overflow,
// the tag columns of the server side ("<key>_id_1"; the _map tables also
// "<key>_id_0"), ids of the same dictionary as the flow logs, and the
// metrics under their METRICS-AND-TAGS.md names (aggregate.NetworkFields
// but the five *_fail sums derived at query time; aggregate.AppFields).
// The percentile sketches are not stored.
//
// Exactly once, and nothing lost by a crash: a batch is counted only
// after its transaction committed (a resent batch is a duplicate and never
// counted), into an Aggregator in memory whose windows take every record
// of their time however late it comes (the store's windows never close:
// late records add to them). Every FlushInterval (30 s), when the windows
// grow large, on Maintain, Close, and for the metric queries (at most
// once in 5 s), the windows are written with the number of the last batch
// they count (meta metrics_seq) in one transaction, on a connection of
// their own while ingest goes on, and another Aggregator takes the next
// batches. A write that fails is recomputed from the store before the
// next. After a crash, Open recomputes the
// windows of the batches after metrics_seq from l4_flow_log and
// l7_flow_log (same records, same order: the same windows) and writes
// them. So a window may have several rows per key, one per flush that
// counted records of it: read the tables with sum() (max() for the *_max
// columns) grouped by time and key, as the query API does.
//
// How: the rows of a batch are decoded (encoding.Table.L4 and L7) by a
// goroutine while its transaction is written (and dropped if it fails),
// under the batch's lock, their tag ids packed into one tag per
// side (so every tag column keeps its id, beyond aggregate.MaxTags), and
// a worker goroutine counts them (Aggregator.WriteL4, WriteL7) while the
// next batch is stored. A flush appends the 1 s windows and computes the
// 1 min rows from them in DuckDB (sums and maxima of the flush's 1 s rows:
// the aggregate package's minute windows, whose records all land in their
// seconds here).
//
// Differences from one Aggregator over all records: the Aggregator counts
// 60 flush periods, then a new one takes over (its string table stays
// bounded), as after a crash; a flow reported by snapshots before and
// after that counts new_flow and its handshake RTT twice. A flow record
// without packets lands at the watermark the Aggregator had (kept in meta
// metrics_watermark, so the recomputation after a crash matches). Retention: Retention1s,
// Retention1m and per table (MetricsConfig.Retention), applied by
// Maintain.
//
// # Cost
//
// Measured on a shared 2-core machine (load average 1 to 6), DuckDB
// 2.0 on a file: BenchmarkServer_IngestL4 (package main), sustained
// agent -> server ingest of full l4_flow_log records (45 columns, 3 tags),
// frames of 16,000 rows posted one at a time: 160,000 to 207,000 rows/s,
// 540 to 720 ms of CPU (all threads, HTTP, decoding, DuckDB) per 100,000
// rows; frames of 131,072 rows (FRAME_ROWS=131072): 235,000 rows/s, 505
// ms. A second agent adds nothing: the single writer is the limit, its
// time split between the appender (about a third), DuckDB's flush of the
// appended chunks and the commit (the WAL). DuckDB's default checkpoint
// threshold (16 MB) cost more than the appends; it is 1 GiB here.
//
// With the metric tables on and frames as examples/agent sends them (S2,
// tag set ids), on the quiet machine (load 1 to 2), with DuckDB's row
// groups of 122,880 rows: 960,000 rows, 217,000 to 237,000 rows/s;
// 8,000,000 rows, 174,000 to 190,000. The long run fell behind because
// every batch went through the WAL (about 500 bytes a row, uncompressed,
// 8 MB a frame written at its commit) and, each 1 GiB of WAL (2,080,000
// rows), the COMMIT that crossed checkpoint_threshold compressed it all
// before returning: 2.5 to 8 s with the writer stopped, 12 s of a 58 s
// run. A checkpoint on a connection of its own did not help: DuckDB 2.0
// lets commits go on during a checkpoint, but appends to a table wait
// while the checkpoint writes that table.
//
// With row groups of 4096 rows (the default now), a batch's full row
// groups are compressed and written to the file by its commit and the
// WAL keeps a pointer (100 KB for a batch of 16,000 l4 and l7 rows
// against 16.6 MB; TestStore_RowGroupSize): little WAL to replay or
// checkpoint. BenchmarkServer_IngestL4Sustained, quiet machine (load 1.3
// to 2), medians of three runs, against the same runs with 122,880-row
// groups (BenchmarkServer_IngestL4/agents=1 on the commit before):
//
//	                              rows/s                CPU ms per 100,000 rows
//	1,008,000 rows, metrics on    206,000 -> 251,000    610 -> 576
//	1,008,000 rows, metrics off   238,000 -> 268,000    469 -> 495
//	8,000,000 rows, metrics on    190,000 -> 239,000    688 -> 616
//	8,000,000 rows, metrics off   200,000 -> 267,000    597 -> 497
//
// Two agents at once (BenchmarkServer_IngestL4/agents=2, 8,000,000
// rows, two runs): 169,000 and 189,000 -> 219,000 and 254,000 rows/s.
// Sustained ingest no longer falls with the database's size (the metric
// flush of the 8M run, 144,000 series, is most of the difference of 1M
// and 8M with the metrics on); the compression that the checkpoint did is now
// in the commit, so short runs cost a little more CPU with the metrics
// off. What it costs: the file is about twice as large (35 against 17
// bytes a row on the benchmark's records, after a checkpoint); GROUP BY
// scans of 2,000,000 rows took as long or less (31 to 54 ms), a filter
// that the zone maps cannot prune (flow_id of repeated frames) 26 against
// 2.6 ms. Of the CPU of the 8M run, about 30% is the appender's flush
// (DuckDB's append, compression and write of the row groups), 12% the Go
// side of the appender, 7% the statements and commit, 11% the metric
// decoding and counting.
// Appending a batch with several appenders of the connection in a
// pipeline (a goroutine filling the next part's chunks while DuckDB
// flushed the last) cost more CPU than it saved and was left out.
// Config.RowGroupSize (server flag -row-group-size) 122880 gives back
// the smaller file.
//
// BenchmarkStore_TagColumns writes 1,000,000 l7 rows with 15 tags a side:
// integer tag columns 250,000 to 296,000 rows/s, string columns 70,000 to
// 93,000 (3.2 to 4 times slower); on disk 46.2 against 47.7 MB (DuckDB's
// dictionary compression stores repeated strings about as compactly);
// a filtered GROUP BY took 5 to 6 ms either way.
//
// # Ecosystem data
//
// IngestExt stores what OpenTelemetry, Prometheus and Telegraf send (an
// ExtBatch, one transaction): spans as l7_flow_log rows with signal_source
// 'OTel' (NULL in agent records), tap_side, span_kind, app_service,
// app_instance and attributes (MAP(VARCHAR, VARCHAR)); span_id and
// parent_span_id are indexed with the trace columns. Samples go to
// ext_metrics (batch_seq, time in unix ns, source, measurement, metric,
// value DOUBLE, text for Influx strings, series_id, and a "<key>_id" column
// per tag key); a series' labels are written once, to ext_series
// (series_id, metric, labels MAP(VARCHAR, VARCHAR)), and the view
// ext_samples joins them back (labels['job']). Keeping the labels apart
// halved the CPU of remote write ingest (a MAP a row cost 1.2 s per 100,000
// samples of 8 labels).
//
// BenchmarkServer_Ecosystem (package main; same machine, load average 10
// to 18), over HTTP into a DuckDB file, one transaction a request: remote
// write requests of 2,000 samples (8 labels, series known) 73,000 to
// 84,000 samples/s, 0.95 to 1.06 s of CPU per 100,000; OTLP/HTTP requests
// of 1,000 server spans (9 attributes) 16,800 to 20,600 spans/s, 3.2 to
// 3.8 s of CPU per 100,000, most of it DuckDB's (appending 40 columns and
// the attributes map, commit); decoding and mapping the spans is under a
// tenth. The ART indexes of the span and trace ids cost nothing measurable
// at this rate. A resource's tags are assigned in the same
// dictionary as agents' (so one id names pod web-1 everywhere); the keys it
// leaves out take the ids that the latest agent record with its address
// carried (looked up in l4_flow_log and l7_flow_log, cached for
// AddrCacheTTL).
//
// The metric tables' cost, BenchmarkServer_IngestL4 (frames of 16,000
// full l4 records, each of a client address of its own: 144,000
// network_map series) with the tables on and off in one binary, agents=1:
// on a quiet moment (load 2) 30 frames: off 241,000 rows/s and 455 to 463
// ms of CPU per 100,000 rows, on 194,000 to 197,000 rows/s and 644 to 666
// ms (decoding under the lock, 0.3 µs a row; the worker's
// Aggregator.WriteL4, 1.4 µs a row on the other core; no flush within the
// run); 150 frames: off 197,000 rows/s (613 ms), on 177,000 (737 ms). A
// flush of those 150,000 series costs about 1.5 s of CPU (closing the
// Aggregator's windows, appending the 1 s rows, the 1 min roll-up in
// DuckDB), since written on its own connection; forced every 5 s under
// load 13 it took throughput from 64,000 to 70,000 rows/s (off) to 27,000
// to 50,000. The cost of a flush grows with the series of a period, not
// with its records: fewer flushes (FlushInterval) amortise it.
//
// Only this package imports DuckDB (cgo): it builds with cgo on linux
// and darwin; the rest of the server is plain Go.
package store
