// Package l7test holds test helpers for the L7 decoder tests: reading a
// capture's TCP and UDP packets, replaying its TCP connections through one
// decoder's parsers, running it through capture, decode, flow.Table and
// l7.Engine, reading goldens, comparing line sets and driving a parser
// with arbitrary bytes under the parser contract.
//
// It imports capture, capture/decode, flow, l7 and internal/testutil, and
// never a decoder package or l7/builtin, so that a decoder's in-package
// tests may use it; callers that want the built-in decoders pass
// builtin.Registry() in the engine's Config.
//
// Concurrency: the helpers keep no state between calls; values they return
// belong to the caller. Errors: a capture or golden that cannot be read
// fails the test at once (tb.Fatalf); a missing shared corpus is reported,
// never skipped, so each test chooses whether to skip.
package l7test
