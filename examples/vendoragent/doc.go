// Command vendoragent is a small agent built the way an embedder builds
// one: it imports only the library's public packages, registers a decoder
// of its own (the memcached decoder of examples/memcached) after the
// built-in ones, runs four shards, stops on SIGINT or SIGTERM, and keeps
// its records in a typed sink of its own that prints a summary per
// protocol at the end.
//
//	vendoragent -r FILE [-shards 4]
//
// Concurrency: the Summary sink is queued (it gets owned copies on a
// goroutine of its own) and guards its maps with a mutex, so it may be read
// while Run goes on. Errors: a file that cannot be opened exits with status
// 2, a failed run with status 1; cancellation by a signal is a normal end.
package main
