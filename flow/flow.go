package flow

import (
	"net/netip"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// key is the canonical identity of a bidirectional flow: the two endpoints
// ordered so that both directions of a conversation produce the same key,
// plus the VLAN and the tunnel identity (type and id). It is comparable.
type key struct {
	a, b   [16]byte // endpoint addresses, 16-byte form (IPv4 mapped); a <= b
	pa, pb uint16   // ports of a and b (ICMP echo: the identifier)
	vlan   uint16
	proto  uint8
	tun    decode.TunnelType
	tunID  uint32
}

// peer is the per-direction traffic of a flow; peers[0] is the client
// side, peers[1] the server side (of the current orientation).
type peer struct {
	bytes   uint64 // frame bytes on the wire
	l4bytes uint64 // L4 payload bytes (announced length)
}

// tcpPeer is the per-direction TCP sequence analysis: the end of the
// highest segment seen, the packet time (µs tick) when it last advanced,
// one hole below it, and the counters it yields.
type tcpPeer struct {
	maxEnd         uint32
	advT           uint32
	holeLo, holeHi uint32
	retrans        uint32
	ooo            uint32
	zeroWin        uint32
}

// tcpState is the part of a flow that only TCP uses. A TCP flow takes one
// from its Table's tcp slab (Flow.tcp) when it starts and gives it back
// when it ends, so that a UDP or ICMP flow is a Flow alone.
type tcpState struct {
	peers [2]tcpPeer // by peer, as Flow.peers
	pflag [2]uint8   // per peer: seq tracking state (pf*)

	// SYNs from the client and SYN-ACKs from the server (saturating); all
	// but the first of each are retransmissions (fRetransSynSat and
	// fRetransSynAckSat mark those counts saturated too).
	syn, synAck, fin uint16

	// Handshake timing, kept only for a handshake seen in order from its
	// first SYN (see timing.go). Until the handshake ACK (fHasAck), synT
	// and synAckT are the ticks (µs, mod 2^32) of the first SYN and the
	// first SYN-ACK answering it; the ACK turns them into durations: rtt
	// (ACK - first SYN) and rtt_client (ACK - first SYN-ACK). rttServer is
	// the latest SYN-ACK answering the SYN before the ACK, minus the
	// first SYN. One field each keeps the state within its size budget.
	synT, synAckT, rttServer uint32

	srtMax, srtSum, srtCount uint32
	srtPendEnd               uint32 // end of client data waiting for the server's ACK (fSrtPend)
}

// Flow is one bidirectional flow in a Table. A *Flow is valid from the first
// packet until the Handler's Close for it returns; after that the Table
// reuses the memory for another flow. Methods are not safe for concurrent
// use (the Table is driven by one goroutine). A Flow must not be copied
// (go vet reports copies): keep a Record, or what the methods return.
type Flow struct {
	_     noCopy
	key   key
	state uint8 // TCP state (st*)
	class uint8 // timeout class (cls*), the LRU list holding the flow
	flags uint16

	gen        uint32 // generation of the slot (low 24 bits) and the table's shard (top 8), for the flow id
	slot       uint32 // index of the flow in the Table
	start, end int64  // first and last packet time, unix ns

	peers   [2]peer
	pkts    [2]uint32 // per peer: packets
	tcpf    [2]uint8  // per peer: OR of TCP flags seen
	altVLAN uint16    // VLAN id of the side that arrives tagged differently (fAltVLAN)
	tcp     uint32    // TCP flows: the index + 1 of their tcpState in the Table's tcp slab

	artMax, artSum, artCount uint32
	artLastT                 uint32 // last client data (request) time; the SRT sample's start too
}

// noCopy makes go vet report copies of a Flow (copylocks): a Flow's
// methods find its Table through the slab chunk it sits in, which a copy
// does not.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Flow flags.
const (
	fClientB          uint16 = 1 << iota // the client is key side b
	fOriented                            // orientation fixed by SYN / SYN-ACK / ICMP echo
	fIPv4                                // endpoints are IPv4
	fHasSyn                              // synT valid: the flow began with this SYN
	fHasSynAck                           // synAckT and synAckLastT valid
	fHasAck                              // ackT valid: a pure ACK completed the handshake
	fHsDone                              // the client spoke after the SYN-ACK: the handshake phase is over
	fSrtPend                             // srtPend* valid
	fArtPend                             // artLastT valid: client data not yet answered
	fLive                                // slot holds a live flow
	fSeen0                               // the client sent a packet
	fSeen1                               // the server sent a packet
	fAltVLAN                             // altVLAN valid: one side's packets carry another VLAN id
	fRetransSynSat                       // retransmitted SYNs past 65535 (syn saturated before the last)
	fRetransSynAckSat                    // the same for SYN-ACKs
	fPayload                             // a packet carried L4 payload
)

// Peer seq-tracking flags.
const (
	pfInit    uint8 = 1 << iota // maxEnd valid
	pfHole                      // hole valid
	pfWinZero                   // the peer's last segment advertised window 0
)

// ID returns the flow_id: the slot + 1 in the low 32 bits, the number of
// earlier flows of the slot (mod 2^24) in the next 24 bits, and the
// Table's Config.Shard in the top 8 bits, so ids are unique across the
// shards of a pipeline.
func (f *Flow) ID() uint64 {
	return uint64(f.gen>>24)<<56 | uint64((f.gen-1)&genMask)<<32 | uint64(f.slot+1)
}

// genMask keeps the generation counter of Flow.gen; its top 8 bits hold
// the Table's shard.
const genMask = 1<<24 - 1

// Slot returns the flow's index in its Table, in [0, MaxFlows). It is stable
// while the flow lives and reused after its Close, so a Handler may keep
// per-flow state in a slice indexed by Slot instead of a map.
func (f *Flow) Slot() uint32 { return f.slot }

// Tunnel returns the tunnel identity the flow was keyed with (type and id).
// The outer addresses are not kept per flow, to keep flows small; they are
// zero here and present in each packet's decode.Meta.Tunnel.
func (f *Flow) Tunnel() decode.Tunnel {
	return decode.Tunnel{Type: f.key.tun, ID: f.key.tunID}
}

func (f *Flow) side(b bool) netip.AddrPort {
	var a [16]byte
	var p uint16
	if b {
		a, p = f.key.b, f.key.pb
	} else {
		a, p = f.key.a, f.key.pa
	}
	return netip.AddrPortFrom(addrFrom(a, f.flags&fIPv4 != 0), p)
}

func addrFrom(a [16]byte, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{a[12], a[13], a[14], a[15]})
	}
	return netip.AddrFrom16(a)
}

// Client returns the client address and port under the current orientation.
func (f *Flow) Client() netip.AddrPort { return f.side(f.flags&fClientB != 0) }

// Server returns the server address and port under the current orientation.
func (f *Flow) Server() netip.AddrPort { return f.side(f.flags&fClientB == 0) }

// Protocol returns the IP protocol: decode.ProtoTCP, ProtoUDP, ProtoICMP or
// ProtoICMPv6.
func (f *Flow) Protocol() uint8 { return f.key.proto }

// VLAN returns the innermost VLAN id the flow was keyed with (0: untagged).
func (f *Flow) VLAN() uint16 { return f.key.vlan }

// SawSYN reports whether a segment of direction d carried SYN (a SYN from
// the client, DirTx; a SYN-ACK from the server, DirRx).
func (f *Flow) SawSYN(d Dir) bool { return f.tcpf[d&1]&decode.TCPSyn != 0 }

// NextSeq returns the sequence number that follows the highest TCP segment
// direction d sent (its sequence number plus its length, a SYN and a FIN
// counting one), and whether d sent one. Until d sends data it is the
// number after d's SYN: the start of d's byte stream.
func (f *Flow) NextSeq(d Dir) (uint32, bool) {
	s := f.tcpState()
	if s == nil {
		return 0, false
	}
	return s.peers[d&1].maxEnd, s.pflag[d&1]&pfInit != 0
}

// SeqGap returns the range [lo, hi) of sequence numbers below NextSeq(d)
// that direction d has not sent (yet), and whether there is one. The
// flow tracks one range: a second gap widens it to span both. When d's
// first data segment arrives ahead of earlier data, the gap starts at
// the number after d's SYN.
func (f *Flow) SeqGap(d Dir) (lo, hi uint32, ok bool) {
	s := f.tcpState()
	if s == nil || s.pflag[d&1]&pfHole == 0 {
		return 0, 0, false
	}
	p := &s.peers[d&1]
	return p.holeLo, p.holeHi, true
}

// CarriedPayload reports whether a packet of the flow (the current one
// included, in a Handler's Packet) carried L4 payload. A Handler that keeps
// state only for flows with payload can skip its lookup for a flow's
// packets before the first that carries some (handshakes, scans, bare
// ACKs of flows without data).
func (f *Flow) CarriedPayload() bool { return f.flags&fPayload != 0 }

// Oriented reports whether the orientation was fixed by a handshake (a SYN
// or SYN-ACK seen) or an ICMP echo; Swap does nothing then.
func (f *Flow) Oriented() bool { return f.flags&fOriented != 0 }

// StartTime returns the time of the flow's first packet, unix ns.
func (f *Flow) StartTime() int64 { return f.start }

// Swap exchanges client and server, with all per-direction state, unless
// the flow is Oriented. It reports whether it swapped. The L7 engine calls
// it when the first message it recognises shows the other side is the
// client.
func (f *Flow) Swap() bool {
	if f.flags&fOriented != 0 {
		return false
	}
	f.swap()
	return true
}

func (f *Flow) swap() {
	f.flags ^= fClientB
	if s := f.flags & (fSeen0 | fSeen1); s == fSeen0 || s == fSeen1 {
		f.flags ^= fSeen0 | fSeen1
	}
	f.peers[0], f.peers[1] = f.peers[1], f.peers[0]
	f.pkts[0], f.pkts[1] = f.pkts[1], f.pkts[0]
	f.tcpf[0], f.tcpf[1] = f.tcpf[1], f.tcpf[0]
	if s := f.tcpState(); s != nil {
		s.peers[0], s.peers[1] = s.peers[1], s.peers[0]
		s.pflag[0], s.pflag[1] = s.pflag[1], s.pflag[0]
	}
	// Direction-dependent pending samples no longer make sense.
	f.flags &^= fSrtPend | fArtPend
	f.state = swapState(f.state)
}
