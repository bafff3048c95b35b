// Command goservice is the Go side of the AutoTracing demo system
// (package autotrace/demo): one binary, three roles, each writing its own
// ground truth as JSON Lines (demo.Truth), independent of any observation.
//
//	goservice api  -listen ADDR -redis ADDR -mysql ADDR -truth FILE [-otel FILE]
//	goservice dns  -listen ADDR -answer IP -truth FILE
//	goservice load -url URL -clients N -duration D [-rate R] [-max M] [-go FILE] -truth FILE
//
// api is a net/http service (a goroutine per connection): each request
// reads a Redis key and runs a MariaDB query in two goroutines it starts,
// then increments a Redis counter in its own goroutine. Its Redis and MySQL
// clients are written here on the standard library, over pooled
// connections, so every call's local and remote address is known exactly.
// With -otel it also writes the OpenTelemetry spans an instrumented
// handler would export (OTLP/JSON; a SERVER span per request, a CLIENT
// span per call), for traces that mix application spans with zero-code
// ones.
//
// dns answers A queries for any name with one address (a UDP responder).
//
// load runs N clients, each on its own keep-alive connection, for a bounded
// time, at most R requests a second each (0: as fast as answers come), and
// at most M requests in all; with -go it first waits for FILE to exist (so
// it can be started, and its pid known, before the observers).
//
// It uses only the standard library, so it builds in the root module.
package main
