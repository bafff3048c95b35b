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
//
// # Ecosystem endpoints
//
// Ext serves what open-source agents send, each request decoded into a
// store.ExtBatch and stored by Store.IngestExt in one transaction:
//   - OTLP (OTLPTracesPath, OTLPMetricsPath over HTTP with protobuf or
//     JSON bodies, gzip allowed; the collector's TraceService and
//     MetricsService over gRPC with RegisterGRPC or NewGRPCServer),
//     decoded with go.opentelemetry.io/collector/pdata. A span becomes an
//     l7_flow_log row (TracesToBatch): trace_id, span_id, parent_span_id
//     in lower-case hex; tap_side s-app, c-app or app by span kind;
//     l7_protocol, request_type, request_domain, request_resource,
//     endpoint, response_code and response_status from the HTTP, RPC,
//     database and messaging semantic conventions (old and new names),
//     else the span name as endpoint and request_resource; addresses and
//     ports from client.*, server.*, network.* and net.* attributes; the
//     other attributes in the attributes map. Data points become samples
//     (MetricsToBatch): histograms and summaries the Prometheus way.
//     Resource attributes give the tags (ResourceOf): k8s.pod.name pod,
//     k8s.namespace.name pod_ns, k8s.node.name pod_node, k8s.cluster.name
//     pod_cluster, k8s.deployment.name (statefulset, daemonset, job)
//     pod_group, host.name host, service.name service, cloud.region region,
//     cloud.availability_zone az, container.id container_id; k8s.pod.ip,
//     host.ip or net.host.ip the address whose agent-seen tags fill the
//     rest.
//   - Prometheus remote write 1.0 (RemoteWritePath), read by hand
//     (DecodeWriteRequest, protowire and snappy): samples with the series'
//     labels; the instance label's IP (or host name, as host) and the pod,
//     namespace and node labels (and kubernetes_* forms) give the tags.
//     Staleness markers and native histograms are counted as skipped.
//   - Influx line protocol (InfluxV2Path, InfluxV1Path; ParseInfluxLine,
//     DecodeInflux): one sample per field named <measurement>_<field>,
//     booleans as 1 and 0, strings as text; precision ns, us, ms, s (and
//     v1's n, u, m, h); lines without a timestamp take the time of
//     arrival; the tags are labels, and tags as for remote write.
//
// Answers: 200 with an empty ExportResponse (OTLP), 204 (remote write,
// Influx). Refusals, counted in ExtStats, store nothing: 401 for a missing
// or wrong token, 400 for a body that does not decode (the message says
// where: a line and column of line protocol, a protobuf field) or a tag
// value the dictionary refuses, 413 for a body over MaxBytes before or
// after decompression, 415 for an unknown Content-Type or
// Content-Encoding (remote write 2.0 included), 405 for another method;
// 500 when the store fails. Over gRPC: Unauthenticated, InvalidArgument,
// ResourceExhausted (gRPC's size limit, counted as TooLarge), Internal.
package ingest
