package flow

// Handshake RTTs and SRT and ART samples, by DeepFlow's definitions (its
// agent's flow_generator/perf/tcp.rs), so values compare across tools:
//
//   - The handshake counts only when seen in order from its beginning: the
//     flow's first packet is the client's SYN. rtt_server is the latest
//     SYN-ACK answering that SYN (acknowledging its sequence number) before
//     the handshake ends, minus the first SYN; rtt_client is the client's
//     pure ACK of the SYN-ACK (no payload, acknowledging the server's
//     SYN) minus the first SYN-ACK; rtt is that ACK minus the first SYN.
//     The handshake ends with the client's first segment after a SYN-ACK;
//     when that is data standing in for a lost ACK, there is no rtt_client
//     (nor rtt): the data's time adds the client's own wait. SYN-ACKs sent
//     after the end (retransmissions) change nothing.
//   - SRT: the client's data, then the server's pure ACK covering it.
//   - ART: the client's data, then the server's next data, when that data
//     follows the server's previous segment in sequence (server data the
//     capture missed gives no sample); a client pure ACK in between cancels
//     the sample.
//   - A sample of zero µs is not taken; handshake RTTs over 30 s, SRTs over
//     10 s and ARTs over 30 s are not taken either (DeepFlow's bounds).

import (
	"math/bits"

	"github.com/metaflow-go/metaflow/capture/decode"
)

// Bounds of the samples, µs.
const (
	rttMax = 30_000_000
	srtMax = 10_000_000
	artMax = 30_000_000
)

// handshake follows the handshake of f for a segment of peer d in group g
// (called until fHsDone).
func (f *Flow) handshake(s *tcpState, m *decode.Meta, g uint8, d int, now uint32) {
	switch {
	case g == gSyn && d == 0:
		// Only the flow's first packet starts the timing.
		if f.flags&(fHasSyn|fHasSynAck) == 0 && f.pkts[0] == 1 && f.pkts[1] == 0 {
			s.synT = now
			f.flags |= fHasSyn
		}
	case g == gSynAck && d == 1:
		// A SYN-ACK answering the SYN: it acknowledges the SYN's sequence
		// number (the client's highest sequence, the SYN alone so far).
		if f.flags&fHasSyn == 0 || s.pflag[0]&pfInit == 0 || m.Ack != s.peers[0].maxEnd {
			return
		}
		if f.flags&fHasSynAck == 0 {
			s.synAckT = now
			f.flags |= fHasSynAck
		}
		s.rttServer = now - s.synT
	case d == 0 && f.flags&fHasSynAck != 0:
		// The client's first segment after the SYN-ACK ends the handshake.
		f.flags |= fHsDone
		if g == gAck && m.PayloadLen == 0 && s.pflag[1]&pfInit != 0 && m.Ack == s.peers[1].maxEnd {
			s.synT = now - s.synT       // rtt
			s.synAckT = now - s.synAckT // rtt_client
			f.flags |= fHasAck
		}
	case d == 0 && g != gSyn:
		// Client data or an ACK with no SYN-ACK seen: no handshake timing.
		f.flags |= fHsDone
	}
}

// rtt returns the handshake RTT (ACK - first SYN) of f, whose TCP state
// s is.
func (s *tcpState) rtt(f *Flow) (uint32, bool) {
	if f.flags&fHasAck == 0 {
		return 0, false
	}
	return s.synT, true
}

// handshakeRTTs returns rtt_server, rtt_client and rtt with their validity
// (none for a flow without TCP state).
func (f *Flow) handshakeRTTs(s *tcpState) (srv, cli, rtt uint32, okSrv, okCli, okRTT bool) {
	if s == nil {
		return
	}
	ok := func(v uint32) bool { return v != 0 && v <= rttMax }
	if f.flags&fHasSynAck != 0 {
		srv, okSrv = s.rttServer, ok(s.rttServer)
	}
	if f.flags&fHasAck != 0 {
		cli, okCli = s.synAckT, ok(s.synAckT)
		rtt, okRTT = s.synT, ok(s.synT)
	}
	return
}

// turnaround takes SRT and ART samples for a segment (inSeq: server data
// that follows the server's previous segment).
func (f *Flow) turnaround(s *tcpState, m *decode.Meta, fromServer, inSeq bool, now uint32) {
	switch {
	case m.PayloadLen == 0 && m.TCPFlags&decode.TCPSyn != 0:
		// The handshake.
	case m.PayloadLen > 0 && fromServer:
		if f.flags&fArtPend != 0 && inSeq {
			f.sampleART(now - f.artLastT)
		}
		f.flags &^= fSrtPend | fArtPend
	case m.PayloadLen > 0:
		s.srtPendEnd = m.Seq + uint32(m.PayloadLen)
		f.artLastT = now
		f.flags |= fSrtPend | fArtPend
	case fromServer:
		if m.TCPFlags&decode.TCPAck != 0 && f.flags&fSrtPend != 0 && !seqLT(m.Ack, s.srtPendEnd) {
			f.flags &^= fSrtPend
			sample(&s.srtMax, &s.srtSum, &s.srtCount, now-f.artLastT, srtMax)
		}
	case m.TCPFlags&(decode.TCPFin|decode.TCPRst) == 0:
		// A client pure ACK between the request and the reply: the reply
		// no longer measures the server alone.
		f.flags &^= fArtPend
	}
}

func (f *Flow) sampleART(d uint32) {
	f.flags &^= fArtPend
	sample(&f.artMax, &f.artSum, &f.artCount, d, artMax)
}

// sample adds d to a max/sum/count triple unless it is zero or above bound.
func sample(most, sum, count *uint32, d, bound uint32) {
	if d == 0 || d > bound {
		return
	}
	if d > *most {
		*most = d
	}
	*sum = satAdd(*sum, d)
	*count++
}

func satAdd(a, b uint32) uint32 {
	s, c := bits.Add32(a, b, 0)
	if c != 0 {
		return ^uint32(0)
	}
	return s
}
