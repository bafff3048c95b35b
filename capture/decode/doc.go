// Package decode decodes captured frames down to L4 into a flat, reusable
// Meta without allocating: Ethernet, 802.1Q/802.1ad/QinQ, MPLS, PPPoE,
// Linux SLL/SLL2, BSD loopback, raw IP, IPv4 (options, fragments), IPv6
// (extension headers, fragments), TCP (options), UDP, ICMP/ICMPv6, and
// tunnels (VXLAN, GENEVE, GRE, TEB, ERSPAN I/II/III, IP-in-IP, 6in4, 6in6),
// which are stripped to the inner packet while the outermost tunnel's
// identity is kept in Meta.Tunnel.
//
//	dec := decode.NewDecoder(decode.Config{})
//	var m decode.Meta
//	for src.ReadPacket(&pkt) == nil {
//		if err := dec.Decode(&pkt, &m); err != nil {
//			continue // counted in dec.Stats(); errors.Is(err, decode.ErrNotIP) for ARP & co.
//		}
//		// use m
//	}
//
// # Concurrency
//
// A Decoder is not safe for concurrent use, Stats included; use one per
// goroutine. Meta and capture.Packet are caller-owned and reused.
//
// # Errors
//
// Decode returns a *DecodeError naming the layer and byte offset, which
// matches one of ErrTruncated, ErrMalformed, ErrUnsupported or ErrNotIP
// with errors.Is; Meta must then not be used. The error value belongs to
// the Decoder until its next Decode. Every error is counted in Stats by
// kind. Decode never panics on any input.
//
// Damage below the IP header does not fail the packet: a capture cut by
// the snap length inside the L4 header gives Meta with L4Decoded false and
// Truncated set; a malformed TCP option list stops option parsing and is
// counted (Stats.TCPBadOptions); an unknown IP protocol, ESP or an
// undecoded GRE payload gives Meta with L4Decoded false and Payload after
// the last decoded header (Stats.OtherProto).
//
// # Truncation
//
// Meta.Payload is what the capture holds of the L4 payload, PayloadLen the
// length the headers announce, and Truncated reports that the first is
// shorter. Link-layer padding after the IP packet is never part of Payload.
//
// # Fragments
//
// With reassembly on (the default) every fragment returns Meta with
// addresses, protocol, IPID, IsFragment and FragOffset set and L4Decoded
// false, except the one that completes its datagram: that one returns Meta
// describing the whole datagram (Reassembled, L4 fields, tunnels inside
// it), with Payload in the Decoder's buffer, valid until the next Decode.
// Reassembly is bounded by Config (datagrams held, bytes per datagram,
// timeout in packet time), and every datagram given up is counted
// (Stats.FragExpired, Stats.FragDropped). With Config.NoReassembly a first
// fragment is decoded down to L4 (IsFragment set, Payload the part it
// carries) and later fragments have L4Decoded false.
//
// # Tunnels
//
// VXLAN and GENEVE are recognised by UDP port (Config.VXLANPorts,
// Config.GENEVEPorts, either port of the datagram) and a sanity check of
// their header; a datagram failing it stays plain UDP. GRE is followed for
// IPv4, IPv6, transparent Ethernet bridging, ERSPAN and Cisco MetaData
// payloads. Nested tunnels are followed down to Config.MaxTunnelDepth
// layers; Meta then describes the innermost packet, Meta.Tunnel the
// outermost tunnel, and VLAN tags from every Ethernet header on the way
// accumulate in Meta.VLANs, outer to inner. An ICMP error is decoded as
// ICMP: the packet it quotes is not decoded as this packet's flow.
package decode
