// Package decode decodes captured frames down to L4 into a flat, reusable
// Meta without allocating: Ethernet, 802.1Q/802.1ad, Linux SLL/SLL2, BSD
// loopback, raw IP, IPv4 (options, fragments), IPv6 (extension headers,
// fragments), TCP (options), UDP, ICMP/ICMPv6, and tunnels (VXLAN, GENEVE,
// GRE, TEB, ERSPAN, IP-in-IP, 6in4), which are stripped to the inner packet
// while the outer identity is kept in Meta.Tunnel.
//
// A Decoder is not safe for concurrent use; use one per goroutine.
//
// Errors: malformed or truncated headers give a *DecodeError naming the
// layer and offset; the error is counted in Stats, and Meta must then not be
// used. Decode never panics on any input.
package decode
