package flow

// TCP: the state machine's inputs, handshake times and sequence analysis
// (retransmissions, out-of-order segments, zero windows).

import "github.com/metaflow-go/metaflow/capture/decode"

// tick converts packet time to the µs clock (mod 2^32) used for samples.
func tick(ns int64) uint32 { return uint32(ns / 1000) }

func sat16(v uint16) uint16 {
	if v == ^uint16(0) {
		return v
	}
	return v + 1
}

// seqLT reports a < b in TCP sequence space (RFC 1982 style).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// oooThreshold is how soon after the highest segment a segment that fills a
// hole must arrive to count as out-of-order rather than a retransmission,
// when the handshake RTT is unknown.
const oooThreshold = 3000 // µs

// The quarters of the sequence space that tell a wrap (DeepFlow's
// thresholds).
const (
	seqLow  = 0x40000000
	seqHigh = 0xc0000000
)

// tcp runs the state machine and the TCP performance counters for a segment
// sent by peer d (0 client, 1 server). It returns the timeout class.
func (t *Table) tcp(f *Flow, m *decode.Meta, d int, now uint32) uint8 {
	flags := m.TCPFlags
	f.tcpf[d] |= flags
	g := flagGroup(flags)
	fromServer := d == 1
	st, class := transition(f.state, g, fromServer)
	f.state = st
	s := t.tcpAt(f.tcp - 1)

	switch g {
	case gSyn:
		if !fromServer {
			if s.syn == ^uint16(0) {
				f.flags |= fRetransSynSat
			}
			s.syn = sat16(s.syn)
		}
	case gSynAck:
		if fromServer {
			if s.synAck == ^uint16(0) {
				f.flags |= fRetransSynAckSat
			}
			s.synAck = sat16(s.synAck)
		}
	}
	if f.flags&fHsDone == 0 {
		f.handshake(s, m, g, d, now)
	}
	if flags&decode.TCPFin != 0 {
		s.fin = sat16(s.fin)
	}
	p := &s.peers[d]
	// Zero windows: every segment but FIN and RST ones, the handshake's
	// SYN and SYN-ACK included (DeepFlow's definition; tshark's
	// tcp.analysis.zero_window leaves SYNs out).
	if m.Window == 0 && flags&(decode.TCPFin|decode.TCPRst) == 0 {
		p.zeroWin++
	}
	if m.Window == 0 && flags&decode.TCPRst == 0 {
		s.pflag[d] |= pfWinZero
	} else if flags&decode.TCPRst == 0 {
		s.pflag[d] &^= pfWinZero
	}

	// Sequence analysis: retransmissions and out-of-order segments.
	seglen := uint32(m.PayloadLen)
	if flags&decode.TCPSyn != 0 {
		seglen++
	}
	if flags&decode.TCPFin != 0 {
		seglen++
	}
	// The server's data follows its previous segment in sequence (judged
	// before the segment moves the sequence): the condition of an ART
	// sample.
	inSeq := fromServer && s.pflag[1]&pfInit != 0 && m.Seq == s.peers[1].maxEnd
	if seglen > 0 && flags&decode.TCPRst == 0 {
		s.seq(f, d, m.Seq, seglen, m.PayloadLen, flags, now)
	}
	f.turnaround(s, m, fromServer, inSeq, now)
	return class
}

// seq classifies one segment of peer d occupying [seq, seq+seglen) and
// carrying payload bytes of data.
//
// Retransmissions count, as DeepFlow's agent counts them, only segments
// with more than one byte of payload, and SYNs and SYN-ACKs sent again (a
// repeated bare FIN or a one-byte probe is not one); segments near the 2^32
// wrap are judged as DeepFlow does: one that crosses it, or one from the
// top quarter of the sequence space while the highest segment ends in the
// bottom quarter (data from before the wrap), is not counted. The sequence
// still advances as usual; out-of-order segments are counted whatever their
// size.
func (s *tcpState) seq(f *Flow, d int, seq, seglen uint32, payload int, flags uint8, now uint32) {
	p := &s.peers[d]
	end := seq + seglen
	if s.pflag[d]&pfInit == 0 {
		s.pflag[d] |= pfInit
		p.maxEnd, p.advT = end, now
		return
	}
	countable := (payload > 1 || flags&decode.TCPSyn != 0) && !(end < seq) &&
		!(seq >= seqHigh && p.maxEnd < seqLow)
	// Zero-window probe: one byte at the next sequence while the other
	// side advertises a zero window. It neither advances the sequence nor
	// counts as a retransmission when it is sent again.
	if seglen == 1 && seq == p.maxEnd && s.pflag[1-d]&pfWinZero != 0 && flags&(decode.TCPSyn|decode.TCPFin) == 0 {
		return
	}
	if seqLT(seq, p.maxEnd) {
		// Keep-alive: one byte (or none) just below the next sequence.
		if seglen <= 1 && seq+1 == p.maxEnd && flags&(decode.TCPSyn|decode.TCPFin) == 0 {
			return
		}
		inHole := s.pflag[d]&pfHole != 0 && seqLT(seq, p.holeHi) && seqLT(p.holeLo, end)
		if inHole {
			thr := uint32(oooThreshold)
			if rtt, ok := s.rtt(f); ok {
				thr = rtt
			}
			// A segment that starts the missing range while at least two
			// segments' worth of data sits above it answers the receiver's
			// duplicate ACKs: a fast retransmission, not reordering.
			fast := seq == p.holeLo && p.maxEnd-p.holeHi >= 2*seglen
			if !fast && now-p.advT < thr && end != p.maxEnd {
				p.ooo++
			} else if countable {
				p.retrans++
			}
			// Shrink the hole by what this segment filled.
			switch {
			case !seqLT(p.holeLo, seq) && !seqLT(end, p.holeHi):
				s.pflag[d] &^= pfHole
			case !seqLT(p.holeLo, seq):
				p.holeLo = end
			case !seqLT(end, p.holeHi):
				p.holeHi = seq
			default:
				p.holeHi = seq // keep the lower part
			}
		} else if countable {
			p.retrans++
		}
	} else if seq != p.maxEnd {
		// A gap: the bytes between were lost before the capture point or
		// are still on their way. One range per direction tracks where
		// bytes may be missing: a second gap widens it to span both (the
		// bytes seen in between are then judged like missing ones).
		if s.pflag[d]&pfHole == 0 {
			p.holeLo = p.maxEnd
		}
		p.holeHi = seq
		s.pflag[d] |= pfHole
	}
	if seqLT(p.maxEnd, end) {
		p.maxEnd, p.advT = end, now
	}
}
