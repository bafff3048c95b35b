// Package metaflow is a library for zero-instrumentation network and
// application observability. It turns packets (and, later, socket events)
// into flow records, application request logs and metrics without touching
// the observed services.
//
// The pipeline runs downward through these packages:
//
//	capture         sources of packets: pcap/pcapng files, AF_PACKET, libpcap
//	capture/decode  L2–L4 decoding (VLAN, tunnels, IP fragments) into flat metadata
//	flow            the flow table: TCP state, close types, RTT, retransmissions, records
//	l7              stream reassembly, protocol inference, decoder registry, sessions
//	l7/<proto>      protocol decoders (http1, dns, redis, mysql, ...)
//
// Beside the pipeline stand autotag (resource and Kubernetes tags), encoding
// (tag dictionaries and the wire format), autotrace (distributed traces
// without instrumentation) and aggregate (1s and 1min metrics, service map).
// The program in examples/agent wires the pipeline together and is the first
// thing to run: go run ./examples/agent -r testdata/FILE.pcap.
//
// Records follow DeepFlow's l4_flow_log and l7_flow_log column names, so they
// compare directly with other tools.
package metaflow
