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
// agent was told about but the store lost. The dictionary is restored from
// tag_dict on Open, keeping its epoch: agents' ids stay valid across
// restarts.
//
// Rows carry batch_seq, the sequence number of their batch in the batches
// table. l7_flow_log has ART indexes on the trace search columns
// (trace_id, x_request_id_0/1, req_tcp_seq, resp_tcp_seq and the
// syscall_trace_id columns, NULL until the wire format carries them).
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
// BenchmarkStore_TagColumns writes 1,000,000 l7 rows with 15 tags a side:
// integer tag columns 250,000 to 296,000 rows/s, string columns 70,000 to
// 93,000 (3.2 to 4 times slower); on disk 46.2 against 47.7 MB (DuckDB's
// dictionary compression stores repeated strings about as compactly);
// a filtered GROUP BY took 5 to 6 ms either way.
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
// samples of 8 labels). A resource's tags are assigned in the same
// dictionary as agents' (so one id names pod web-1 everywhere); the keys it
// leaves out take the ids that the latest agent record with its address
// carried (looked up in l4_flow_log and l7_flow_log, cached for
// AddrCacheTTL).
//
// Only this package imports DuckDB (cgo): it builds with cgo on linux
// and darwin; the rest of the server is plain Go.
package store
