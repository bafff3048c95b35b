// Command agent replays a pcap or pcapng file (or captures live) through the
// metaflow pipeline — decode, flow table, L7 engine — and prints l4_flow_log
// and l7_flow_log records as JSON Lines or as a readable table.
//
//	agent -r FILE [-f FILTER] [-o json|text] [-snapshot 1s]
//	agent -i IFACE [-f FILTER] [-w out.pcap] [-o json|text]
package main
