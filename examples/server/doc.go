// Command server is metaflow's example server: it receives the batches of
// agents (examples/agent -server URL), stores them in DuckDB with integer
// tags and the dictionary that names them, and answers a JSON query API.
//
//	go run ./examples/server -listen 127.0.0.1:26700 -db metaflow.duckdb -token secret
//
// Endpoints: POST /api/v1/batches (package ingest), GET /api/v1/l7,
// /api/v1/l4, /api/v1/servicemap, /api/v1/red, /api/v1/metrics/network,
// /api/v1/metrics/application (package query), GET /api/v1/stats
// (counters of ingest, queries, the page and the store). It listens on
// localhost unless told otherwise; with no flags it serves plaintext HTTP
// on 127.0.0.1:26700 with no token. One agent's sustained ingest of full
// l4 records reaches 239,000 rows/s on two cores with the metric tables
// (package store, Cost), its batches written compressed at their commit
// in the file's row groups of 4096 rows (-row-group-size).
//
// Tokens: -token sets one token for every surface; -ingest-token,
// -query-token and -page-token set each surface's own, each defaulting to
// -token. Agent ingest and the ecosystem endpoints take the ingest token,
// the query API and /api/v1/stats the query token, the page's files the
// page token (package web: a sign-in page, POST /login, sets an HttpOnly
// SameSite=Strict cookie, Secure over TLS; the page opened as
// /#page_token=P&token=Q signs in by itself). A surface refuses the others'
// tokens with 401, counted in /api/v1/stats (ingest, ecosystem, query and
// page "unauthorized").
//
// TLS: -tls-cert FILE -tls-key FILE (PEM) serve HTTPS on -listen and
// OTLP/gRPC over TLS on -otlp-grpc (TLS 1.2 at least); -demo stays
// plaintext on localhost. TLS costs little beside the store:
// BenchmarkServer_IngestTLS measured 768 and 848 CPU ms per 100,000 full
// l4 rows in plaintext against 782 and 879 over TLS (two runs, frames of
// 16,000 rows, a keep-alive connection; 2 to 4 %). The agent trusts a private CA with -server-ca
// FILE, checks another name with -server-name, and refuses to send its
// token over http:// to a host that is not loopback unless given
// -insecure-plaintext:
//
//	go run ./examples/server -listen 0.0.0.0:26700 -tls-cert server.pem -tls-key server-key.pem -ingest-token I -query-token Q -page-token P
//	go run ./examples/agent -r testdata/l7/redis.pcap -server https://collector.example:26700 -server-ca ca.pem -server-token I
//
// To scale out, -clickhouse ADDR (native protocol; -clickhouse-db,
// -clickhouse-user, $CLICKHOUSE_PASSWORD) keeps the records in ClickHouse
// instead (package clickhouse, clickhouse.go here): agent ingest, the l7
// and l4 search, service map, RED, stats and the page; the metric tables,
// the ecosystem ingest and the demo stay DuckDB's. Servers before 22.2
// (Debian's 18.16) get the compatibility schema.
//
// The store also keeps the 1 s and 1 min network and application metric
// tables (network.1s ... application_map.1m), computed from the stored
// records with the aggregate package; -metrics-flush sets how often their
// windows are written (default 10 s), -metrics-retention-1s,
// -metrics-retention-1m and -metrics-retention table=duration,... their
// retention (default: keep).
//
// GET / serves the web page (package web: service map, RED, metrics over
// time, request and flow search, trace flame graph), behind the page token
// when set, which reads the query API with the token it is given
// (#token=... or a prompt). With -demo the
// server runs on a temporary store and fills it with the captures shipped
// under testdata/l7, replayed through an in-process agent (demo.go), then
// logs the page's URL:
//
//	go run ./examples/server -demo
//
// Open-source agents write to the same server (package ingest, Ext), their
// data tagged through the same dictionary as the agents' (a resource's
// k8s.pod.name, a series' pod label or its instance's IP resolve to the
// pod ids of agent records, so pod_1=web-1 finds both):
//   - POST /v1/traces, /v1/metrics: OTLP/HTTP, protobuf or JSON, gzip
//     allowed (an OpenTelemetry SDK's otlptracehttp/otlpmetrichttp
//     exporter, a collector's otlphttp exporter); spans go to l7_flow_log
//     with signal_source OTel, data points to ext_metrics;
//   - -otlp-grpc ADDR: OTLP/gRPC TraceService and MetricsService on their
//     own listener (otlptracegrpc, the collector's otlp exporter);
//   - POST /api/v1/write: Prometheus remote write 1.0 (protobuf, snappy),
//     into ext_metrics;
//   - POST /api/v2/write and /write: Influx line protocol as Telegraf's
//     influxdb_v2 and influxdb outputs send it (gzip allowed, precision
//     parameter), one ext_metrics row per field.
//
// Their token (the ingest token) comes as "Authorization: Bearer" (or Influx's "Token", basic
// authentication's password, the v1 "p" parameter, gRPC "authorization"
// metadata); -max-ext bounds a request, compressed and inflated (default
// 16 MiB). Prometheus's remote_write takes the token as
//
//	remote_write:
//	  - url: http://127.0.0.1:26700/api/v1/write
//	    authorization: {credentials: secret}
package main
