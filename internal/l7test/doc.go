// Package l7test holds the project's own corpus helpers for the L7 decoder
// tests: where the committed and shared captures of a protocol are, and
// their goldens (testdata/l7/<proto>/<name>.golden, derived by the
// scripts/l7-<proto>-goldens.* scripts from tshark). Everything a decoder
// author outside the project needs (replaying captures, contract checks,
// allocation checks, conversations, the pipeline harness) is in the public
// kit l7/l7test, which this package builds on.
//
// Concurrency: the helpers keep no state between calls. Errors: a golden
// that cannot be read fails the test at once (tb.Fatalf); a missing shared
// corpus is reported, never skipped, so each test chooses whether to skip.
package l7test
