// Package demo runs the AutoTracing demo system and records what it did
// (ground truth) beside what the agent observed (records), so that the
// autotrace package's traces can be measured against the truth.
//
// The system, each part in its own network namespace (names starting
// "mfat"), joined by veth pairs so every hop is real TCP or UDP across
// interfaces that packet capture sees:
//
//	load (Go, N clients) -> nginx (reverse proxy, sets X-Request-ID by configuration)
//	  -> python (ThreadingHTTPServer, thread per connection)
//	       -> dns (UDP A query)  -> redis  -> mariadb
//	       -> go (net/http; two goroutines per request) -> dns, redis, mariadb
//
// Every service writes its own ground truth (Truth, one JSON line per
// inbound request with the outbound calls it made); nginx's is its access
// log, joined to the Python service's lines by X-Request-ID. Observation is
// examples/agent: one -ebpf agent for process spans and one packet agent
// (-i any) in each of the nginx, python, go and db namespaces for network
// spans; Run merges their JSON lines, each stamped with its capture point
// (Record).
//
// Concurrency: Run may be called from one goroutine at a time (the
// namespaces and their names are per run, but the machine's CPU is not);
// the matching functions are pure.
//
// Errors: Run returns errors naming the failed step (a missing program, a
// service that did not start); ReadTruth and ReadRecords report the line
// of a malformed input. Everything live needs Linux and root; elsewhere
// Run returns ErrNotSupported.
package demo
