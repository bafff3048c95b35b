// Package filter compiles tcpdump filter expressions (the pcap-filter(7)
// language) to classic BPF, in pure Go, and runs them on captured packets.
//
// Compile returns a program for one link type, as the kernel's
// SO_ATTACH_FILTER (or any classic BPF engine) takes it. New parses an
// expression once and compiles it for every link type this module
// understands; (*Filter).Match then runs the program of the packet's link
// type, so a replayed file is filtered with exactly the semantics a kernel
// attached filter has on the same frames.
//
// The language: primitives host, net (CIDR, partial dotted quad, or
// "mask"), port, portrange, each with optional src/dst/"src or dst"/
// "src and dst" and protocol qualifiers (ip, ip6, arp, rarp, ether, tcp,
// udp, sctp); ether host/src/dst/proto/broadcast/multicast; protocol names
// ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp; proto N and
// ip/ip6 proto N (names escaped as \tcp); vlan [id], after which the
// following primitives look inside the tag as in pcap; less N, greater N;
// comparisons of packet data such as tcp[tcpflags] & tcp-syn != 0 or
// ip[2:2] > 576 (with + - * / % & | ^ << >> and len); and, &&, or, ||,
// not, !, parentheses. As in pcap, "and" and "or" have equal precedence
// and associate left to right, and a bare address after and/or/not takes
// the qualifiers of the primitive before it ("host a or b").
//
// Host names and service names other than a small built-in table are not
// resolved; this package never does I/O.
//
// VLAN tags on live Linux sockets: most drivers hand an AF_PACKET socket's
// filter the frame with its outer 802.1Q tag already removed (VLAN
// offload; the tag travels in metadata). A program from Compile looks for
// tags in the frame bytes, as for files, so there "vlan" does not match an
// offloaded tag and primitives after it look 4 bytes too far. libpcap
// covers that case with ancillary loads (SKF_AD_VLAN_TAG_PRESENT); this
// package does not yet. Replay and Match are not affected.
//
// Errors: a malformed expression gives a *SyntaxError naming the offending
// token and its byte offset. A primitive the link type cannot express (vlan
// on Linux cooked capture, say) is a *SyntaxError from Compile; New accepts
// it and Match rejects packets of that link type.
//
// A Filter is immutable after New and safe for concurrent use. Match does
// not allocate.
package filter
