// Package flow keeps the flow table: bidirectional flows keyed by a
// canonical 5-tuple (plus VLAN and tunnel identity), the TCP state machine
// with DeepFlow's close types, TCP performance (RTT, SRT, ART,
// retransmissions, out-of-order, zero windows), and l4_flow_log records.
//
// A Table is not safe for concurrent use; drive it from one goroutine (shard
// by flow hash for more). Time comes only from packet timestamps.
//
// Errors: a full table counts new flows as dropped in Stats; input never
// causes a panic.
package flow
