// Package metaflow is a library for zero-instrumentation network and
// application observability. It turns packets into flow records and
// application request logs without touching the observed services.
//
// The packages, from the top of the path down:
//
//	aggregate       1 s and 1 min network and RED metrics, the service map (a pipeline sink)
//	pipeline        source -> decode -> N shards (flow table + L7 engine) -> stages -> sinks, Run(ctx)
//	l7/builtin      the built-in decoders as a registry
//	l7/<proto>      protocol decoders (http1, dns, redis, mysql, ...), one shape for all
//	l7/l7test       the kit a decoder author tests a decoder with: contract fuzzing, allocations, pcaps
//	l7              stream reassembly, protocol inference, decoder registry, sessions, l7_flow_log
//	flow            the flow table: TCP state, close types, RTT, SRT/ART, retransmissions, l4_flow_log
//	capture/decode  L2-L4 decoding (VLAN, tunnels, IP fragments) into flat metadata
//	capture         sources of packets: pcap/pcapng files, AF_PACKET, libpcap; tcpdump filters
//	tag             the tags that stages attach to records, per side
//
// An agent embeds the pipeline package: it opens a capture.Source, chooses
// the number of shards, adds its stages and sinks, and calls Run. The
// program in examples/agent does exactly that and is the first thing to
// run: go run ./examples/agent -r testdata/l7/http-nginx.pcap -o text.
//
// # Records
//
// Records (flow.Record, l7.Record) follow DeepFlow's l4_flow_log and
// l7_flow_log column names and units (the record contract), so they compare
// directly with other tools. Stability: the JSON keys and the Go field names
// of both record types are not renamed or removed, and their meanings do not
// change, except to fix a value that disagrees with the record contract;
// fields and keys may be added. A record handed to a callback or a
// synchronous sink is borrowed; Clone gives an owned copy.
package metaflow
