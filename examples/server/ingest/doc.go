// Package ingest is the example server's agent endpoint: POST
// /api/v1/batches with one SmartEncoding frame (encoding's wire format) as
// the body, "Authorization: Bearer <token>" and "X-Batch-ID: <id>" (unique
// per batch, chosen by the agent, kept when the batch is resent).
//
// The answer to a stored (or already stored) batch is 200 with the
// dictionary delta for the agent (encoding.Delta's binary form,
// Content-Type application/x-metaflow-delta), which the agent applies to
// its AgentDict; "X-Duplicate: true" marks a batch stored before. Errors,
// counted in Stats, store nothing and carry a one-line text message:
//   - 401: missing or wrong token;
//   - 400: no or bad X-Batch-ID, a frame that does not decode (bad magic,
//     checksum, truncated or corrupt body), an unknown major version or
//     required flag, a column of the wrong type or a bad tag key;
//   - 413: a body larger than MaxBytes (or a frame that inflates past the
//     decoder's limits);
//   - 409: the batch's ids belong to another dictionary epoch or are ids
//     the server never assigned: the body is the whole dictionary (a delta
//     from 0); the agent replaces its dictionary and drops the batch, which
//     cannot be read;
//   - 405 for another method, 500 when the store fails (the agent retries).
//
// Concurrency: a Handler serves any number of requests at once (as an
// http.Handler must); the store serialises the writes, and Stats may be read
// from any goroutine.
package ingest
