// Package clickhouse keeps the example server's records in ClickHouse, to
// scale out past one DuckDB file, with the logical schema of package store:
// l4_flow_log and l7_flow_log with integer tag columns "<key>_id_0" and
// "<key>_id_1" (UInt32), the tag dictionary (tag_dict: key, id, value,
// version), tag_keys, labels, meta (the dictionary's epoch) and batches.
// Store implements store.Backend, so the server's ingest and query
// packages run on it (server flag -clickhouse ADDR).
//
// # Tables
//
// The record tables are MergeTree, partitioned by day of end_time, with
// a TTL of Config.Retention, sorted by (batch_seq, row_no) — the batch's
// sequence number and the row's place in it, which are also the paging
// cursor of searches. l7_flow_log has bloom-filter skip indexes on the
// trace search columns (trace_id, x_request_id_0/1, req_tcp_seq,
// resp_tcp_seq, syscall_trace_id_request/response); both have a min/max
// index of start_time. The query package's trace search reads
// l7_flow_log with span ids batch_seq<<32 | row_no, plus one. Open adds
// to tables of an older server the record columns they lack (the eBPF
// and capture-point columns of the wire format) and writes the ones they
// have as Nullable as such. The tag strings are in tag_dict, and in the
// ClickHouse dictionary tag_names over it, for SQL users:
//
//	SELECT dictGet('metaflow.tag_names', 'value', ('pod', pod_id_0)) AS pod, count()
//	FROM metaflow.l7_flow_log GROUP BY pod
//
// The server itself translates tag strings with its in-memory
// encoding.Dictionary, as the DuckDB store does.
//
// # Exactly once without transactions
//
// ClickHouse has no transaction over several tables (an INSERT of one
// block into one table is atomic), so Ingest writes a batch as a
// sequence of inserts whose order makes a resend — after an error, a
// crash or a kill at any point — store it exactly once:
//
//  1. batches (batch_id, seq, state 0): the batch's seq is reserved. A
//     resend finds it on restart and writes its rows under the same seq.
//  2. tag_dict: the ids the batch created, before any row holds them. A
//     crash after this leaves ids no agent was told about; they are
//     restored with the dictionary and stay consistent.
//  3. l4_flow_log, l7_flow_log: one insert a table of the batch, with
//     insert_deduplication_token "<batch id>/<l4|l7>/<n>". The tables
//     keep the tokens of their last Config.DedupBlocks inserts
//     (non_replicated_deduplication_window), so a resend's insert of rows
//     already written is dropped by ClickHouse — every part of it, one a
//     partition the rows span. (The resend's blocks are also identical,
//     same seq and row numbers, so ClickHouse's hash of the data would
//     drop them too; the token does not depend on it.)
//  4. batches (batch_id, seq, state 1): the batch is stored. The state-1
//     row replaces the state-0 one (ReplacingMergeTree(state)); from now
//     on a resend is a duplicate, acknowledged without writing.
//
// Only then is the agent acknowledged. A failure after 1 and before 4
// leaves a reserved batch that the agent's resend completes (a resend
// comes within the dedup window of tokens unless more than DedupBlocks
// inserts come between); a failure after 4 is a duplicate on resend. The
// in-memory state (seen batch ids, the dictionary) is rebuilt from the
// tables on Open. Rows of a batch never completed stay, as in a crash of
// any at-least-once pipeline; they are the rows a resend would write.
// One Store writes a database: two servers need two databases.
//
// With Config.Compat (servers older than 22, such as Debian's 18.16),
// the schema has no TTL, skip indexes, dictionary or tokens: a resend
// after a failure between steps 3 and 4 stores those rows again.
//
// # Conn
//
// Store runs SQL through Conn: Dial connects to a server with
// clickhouse-go's native protocol; the tests also run it in process on
// chDB (module chdbtest). Statements are SQL text whose values the store
// quotes itself (Bind); inserts are column blocks.
//
// Concurrency: Store serialises Ingest and Maintain; queries run
// concurrently on the Conn. Errors: Ingest returns store.ErrSchema for
// a batch that does not fit the schema, the dictionary's errors for ids
// of another epoch, ErrClosed, and the Conn's errors (the agent retries).
package clickhouse
