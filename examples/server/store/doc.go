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
// Only this package imports DuckDB (cgo): it builds with cgo on linux
// and darwin; the rest of the server is plain Go.
package store
