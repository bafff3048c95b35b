// Command agent replays a pcap or pcapng file (or captures live) through a
// metaflow pipeline — decode, sharded flow tables and L7 engines — and
// prints l4_flow_log and l7_flow_log records as JSON Lines or as text.
//
//	agent -r FILE [-f FILTER] [-o json|text] [-snapshot 1s] [-shards N] [-stats]
//	agent -i IFACE [-f FILTER] [-w out.pcap] [-o json|text]
//
// It is a thin user of the pipeline package: SIGINT and SIGTERM cancel the
// run in replay and live mode alike, and every record is written before it
// exits; output (and the -w file) is flushed at least every second; -stats
// prints every counter of every stage; a long replay shows its progress when
// stderr is a terminal. -cpuprofile and -memprofile write pprof profiles.
package main
