// Command server is metaflow's example server: it receives the batches of
// agents (examples/agent -server URL), stores them in DuckDB with integer
// tags and the dictionary that names them, and answers a JSON query API.
//
//	go run ./examples/server -listen 127.0.0.1:26700 -db metaflow.duckdb -token secret
//
// Endpoints: POST /api/v1/batches (package ingest), GET /api/v1/l7,
// /api/v1/l4, /api/v1/servicemap, /api/v1/red (package query), GET
// /api/v1/stats (counters of ingest, queries and the store). Every one
// requires the token when -token is set. It listens on localhost unless
// told otherwise.
package main
