// Package l7test is a kit for testing l7 decoders, the built-in ones and
// one's own, with the checks the built-in decoders pass.
//
// Contract. CheckContract (from a test) and FuzzDecoder (from a fuzz
// target) run scripted conversations through the real pipeline —
// capture/decode, flow.Table and l7.Engine — as scripted and in random
// variants: segments cut down to single bytes, retransmitted, overlapping,
// reordered, dropped, and frames cut at a snaplen. Every call into the
// decoder is checked against the l7.Decoder and l7.Parser contracts as it
// happens (no panic, bytes consumed within the input, errors the engine
// can skip, progress, no response before its request, ...), and lossless
// variants must give the records the conversation gives as scripted. See
// Contract for the list.
//
//	func TestContract(t *testing.T) {
//		c := l7test.NewConversation(client, server, l7.TCP).
//			Request([]byte("PING 1\n")).
//			Response([]byte("+PONG 1\n"))
//		l7test.CheckContract(t, mydec.New(nil), c)
//	}
//
//	func FuzzDecoder(f *testing.F) {
//		l7test.FuzzDecoder(f, mydec.New(nil), conversations()...)
//	}
//
// Allocations. CheckZeroAlloc fails a test when Check, or Parse on a warm
// parser, allocates; AllocsPerMessage measures; BenchmarkParse runs one
// sub-benchmark per input.
//
// Conversations and captures. A Conversation renders a script of requests,
// responses, gaps and waits as Ethernet frames with a TCP handshake,
// consistent sequence and acknowledgement numbers and a FIN exchange (or
// as UDP datagrams), which WritePcap writes as a pcap file that tcpdump,
// Wireshark and capture.OpenFile read. Run, RunFrames and RunConversation
// run a capture file, frames or a conversation through the pipeline and
// return owned copies of the l7_flow_log and l4_flow_log records and the
// engine's counters. EachPacket and Packets read a capture's decoded
// packets.
//
// Parsers alone. Feed and FuzzPieces drive one Parser directly with a
// stream cut into pieces, as the engine would, and check the contract on
// each call; ReplayTCP replays the TCP connections of a capture through
// one decoder's parsers with a small reassembly of its own, independent of
// the engine; StreamSeeds turns captures into fuzz seeds; InOrder is that
// reassembly for one direction; CompareMessages and CompareMultiset compare
// results. Idling wraps a parser so that FuzzPieces tells it it is idle
// (l7.Idler) whenever it asks for more bytes.
//
// Memory and cost on real connections. Conns returns the TCP connections
// of a capture as in-order payloads, ConnSegments one of them, and
// IdleBytesPerConn replays those on thousands of connections left open in
// an engine and returns the heap each idle connection holds, l7.Conn
// included: the bound a decoder's idle-memory test asserts.
// IdleBytesPerParser measures a parser alone: the heap each of thousands
// of idle parsers holds.
// BenchmarkFlows replays a capture's connections through one reused
// parser told it is idle after every segment, as on a busy link.
//
// The package imports capture, capture/decode, flow and l7, and never a
// decoder package, so that a decoder's in-package tests may use it.
//
// Concurrency: the functions keep no state between calls and may run in
// parallel tests; a Conversation is not safe for concurrent use while it
// is being scripted. Values returned belong to the caller.
//
// Errors: the functions report through the testing.TB they are given. A
// capture or file that cannot be read fails the test at once (Fatalf); a
// contract violation fails it at once with a description of the variant,
// the bytes involved and the path of a pcap file that reproduces it.
package l7test
