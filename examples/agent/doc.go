// Command agent replays a pcap or pcapng file (or captures live) through a
// metaflow pipeline — decode, sharded flow tables and L7 engines — and
// prints l4_flow_log and l7_flow_log records as JSON Lines or as text.
//
//	agent -r FILE [-f FILTER] [-o json|text] [-snapshot 1s] [-shards N] [-protocols LIST] [-stats]
//	agent -i IFACE [-f FILTER] [-w out.pcap] [-o json|text] [-shards N] [-fanout]
//	agent -ebpf [-pid PID,...] [-comm NAME,...] [-ebpf-payload BYTES] [-ebpf-tls] [-ebpf-goroutines] [-i IFACE] [-o json|text]
//
// -protocols HTTP,DNS decodes only the named L7 protocols (the built-in
// decoders' names, l7/builtin.Named; "none" reports flows only); by default
// every built-in decoder runs. -port-hint PORT=NAME tries a decoder first on
// a port.
//
// -fanout, with -i, opens one AF_PACKET socket per shard in a kernel
// fan-out group (capture.OpenAFPacketFanout, pipeline.Config.Sources):
// each shard reads its own ring, with no hand-off between goroutines. The
// kernel's flow hash keeps both directions of a TCP or UDP conversation
// together and reassembles IPv4 fragments first; flows in VXLAN or Geneve
// tunnels and IPv6 fragments may be split between shards. Without it one
// goroutine reads and hands packets to the shards (with one shard, the
// shard reads the socket itself).
//
// -ebpf traces the machine's sockets with eBPF (capture/ebpf) and decodes
// what processes read and write: l7_flow_log records with process_id,
// process_kname, syscall_thread and syscall_trace_id, and one
// ebpf_socket_log record per socket (pipeline.SocketRecord). With -i it
// runs beside packet capture. It needs Linux, root (or CAP_BPF and
// CAP_PERFMON) and kernel BTF; when one is missing the agent exits with a
// message naming it. -pid and -comm filter in the tracer; -ebpf-tls adds
// the TLS plaintext of OpenSSL and Go crypto/tls (is_tls records);
// -ebpf-goroutines tracks the goroutines of Go programs (those of -pid when
// given), so that their syscall_trace_id follows a request's goroutine and
// the goroutines it starts rather than the threads.
//
// -tags FILE tags both sides of every record (pod_0, service_1, az_0, ...)
// from a JSON file of CIDRs and addresses per VPC (autotag/file), reloaded
// when it changes; -vpc names the VPC of the captured addresses;
// -tags-proc adds the local processes and their sockets from /proc
// (gprocess, container_id, and the pod through the file's pods).
//
// -server URL sends the records to examples/server as SmartEncoding
// batches (package sender): -server-token is its ingest token, -spool DIR
// keeps unacknowledged batches across restarts, -server-wait bounds the
// final wait for acknowledgements. An https:// URL is verified against
// the system's roots or -server-ca FILE (PEM), with -server-name as the
// name to check (SNI); the token is not sent over plaintext http:// to a
// host that is not loopback unless -insecure-plaintext is given.
//
// It is a thin user of the pipeline package: SIGINT and SIGTERM cancel the
// run in replay and live mode alike, and every record is written before it
// exits; output (and the -w file) is flushed at least every second; -stats
// prints every counter of every stage; a long replay shows its progress when
// stderr is a terminal. -cpuprofile and -memprofile write pprof profiles;
// the heap profile is the one of the largest live heap (a collection is
// forced each time the heap has grown by a tenth), not of the end, when the
// final flush has emptied the tables.
package main
