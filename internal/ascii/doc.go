// Package ascii holds byte helpers for the ASCII text of protocol headers
// and commands, shared by the L7 decoders.
//
// Concurrency: the functions keep no state and are safe for concurrent
// use. Errors: none; they read their arguments, never retain or modify
// them, and allocate nothing.
package ascii
