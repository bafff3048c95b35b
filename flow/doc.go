// Package flow keeps the flow table: bidirectional flows keyed by a
// canonical 5-tuple (plus VLAN and tunnel identity), the TCP state machine
// with DeepFlow's close types, TCP performance (RTT, SRT, ART,
// retransmissions, out-of-order, zero windows), and l4_flow_log records.
//
// Feed decoded packets to Table.Packet in capture order and call Flush at
// the end of input. Each flow yields one Record when it closes: when it
// stays idle past the timeout of its state, when a new SYN reuses the
// 5-tuple of a finished connection, or at Flush. Time comes from packet
// timestamps, so replaying a capture gives the same records at any speed;
// Table.Advance moves the clock without a packet (a live source on a quiet
// link, with the wall clock), closing the flows whose timeout has passed.
// Table.Packets takes a batch of packets and counts them exactly as Packet
// would, one by one, but asks the CPU for the index positions, flow entries
// and list links of 16 packets at a time first, so that on a table larger
// than the caches their memory misses overlap (a pipeline's shards use it).
//
// Orientation: the client is the sender of the SYN (a SYN-ACK names the
// server; an ICMP echo request the client); without a handshake the side
// with the higher port, until the L7 engine calls Flow.Swap.
//
// Timing and counters take the record contract's definitions, DeepFlow's
// (timing.go states them): handshake RTTs only for a handshake seen in
// order from its first SYN, rtt_client only from a pure ACK, ART only for a
// reply that follows the server's previous segment with no client pure ACK
// in between, no zero-µs samples.
//
// Sequence analysis follows tshark's tcp.analysis: a segment that does not
// advance its direction's sequence is a retransmission, or out-of-order
// when it fills a range of possibly missing bytes within the handshake RTT
// (3 ms when unknown) of the highest segment, unless it starts that range
// with two segments' worth of data above it (a fast retransmission). One
// such range is kept per direction; with heavy reordering the split between
// the two counters drifts from tshark's while their sum stays equal.
// Keep-alives are not counted. Retransmissions count only segments with
// more than one byte of payload and repeated SYNs and SYN-ACKs (a repeated
// bare FIN is not one), and none across the 2^32 sequence wrap, as DeepFlow
// counts them. Zero windows are segments advertising window 0 without FIN
// or RST, SYN and SYN-ACK included.
//
// Keys include the VLAN and the tunnel id. A conversation whose directions
// carry different VLAN tags (a trunk seen from one side, the tag stripped on
// the way back) is still one flow: a lookup that misses tries the few VLAN
// ids seen recently for the other direction (mirror copies of one packet on
// two VLANs stay apart). A GRE key that differs per direction still yields
// two flows, where tshark's conversation tables show one.
//
// Flow ids (Flow.ID, Record.FlowID) are unique per Table and carry
// Config.Shard in their top 8 bits, so that the tables of a sharded pipeline
// never hand out the same id.
//
// Memory is bounded by Config.MaxFlows: flows live in fixed chunks of a
// slab (a *Flow stays put while the flow lives) indexed by an
// open-addressing table whose entries carry each key's 32-bit hash beside
// its slot, so that a probe reads a flow only when the hash matches (a
// lookup that misses reads none, and deleting or growing reads none
// either). A flow takes 136 bytes in the slab, 8 of LRU links kept apart
// from it (moving a flow to the tail of its list does not read its
// neighbours' flows) and 16 of index at half load; a TCP flow takes 92
// more in a second slab for its TCP state (sequence analysis, handshake,
// SRT), which flows of other protocols do not carry: about 164 bytes a
// UDP or ICMP flow and 256 a TCP one. Packets of new flows past the cap are
// counted in Stats.DroppedFlows. Steady-state Packet calls do not
// allocate: freed slots are reused.
//
// Past 16K flows, the slabs grow outside the Go heap, in regions mapped
// with huge pages on Linux (a table of a million flows visits its slabs at
// random, and 4 KB pages would make nearly every visit a TLB miss);
// Stats.SlabBytes reports them, as runtime.MemStats does not. Table.Close
// returns them at once; a Table dropped without Close returns them once
// the collector finds it unreachable. Table.Packets prefetches what a
// batch of packets will read (index entries, flows, links, TCP state, and
// the Handler's per-slot state through SlotPrefetcher), and expiry and
// flow creation prefetch the next flows they will close or fill.
//
// Concurrency: a Table is not safe for concurrent use; drive it from one
// goroutine (shard by flow hash for more). Handler and OnRecord are called
// from that goroutine, synchronously.
//
// Errors: Packet takes any input without error or panic; whatever it cannot
// account (not IP, an IP protocol other than TCP/UDP/ICMP, a table full, a
// fragment whose datagram never showed its ports) is counted in Stats, so
// that Stats.Packets == Counted + NotL4 + DroppedFlows + FragUnmatched after
// Flush.
package flow
