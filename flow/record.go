package flow

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/internal/jsonw"
	"github.com/metaflow-go/metaflow/tag"
)

// Record is one l4_flow_log record (RECORDS.md). _0/Tx is the client side,
// _1/Rx the server side. Times are unix nanoseconds; durations and RTT-like
// fields are microseconds. The Table owns the Record passed to
// Config.OnRecord and reuses it: it is valid only during the call.
type Record struct {
	// Snapshot marks a periodic report of a live flow (Config.
	// SnapshotInterval): CloseType is CloseForcedReport and the counters
	// (packets, bytes, retransmissions, SRT/ART, SYN/FIN counts) cover only
	// the time since the flow's previous record, so summing a flow's
	// records gives its totals. Times and RTTs are those of the whole flow.
	Snapshot bool

	FlowID     uint64
	StartTime  int64 // unix ns: first packet of the flow
	EndTime    int64 // unix ns: last packet
	Duration   int64 // µs, EndTime - first packet of the flow
	IP0, IP1   netip.Addr
	ClientPort uint16
	ServerPort uint16
	Protocol   uint8 // decode.ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6
	VLAN       uint16
	TunnelType decode.TunnelType
	L7Protocol string // filled by the Handler; "" is written as "unknown"
	CloseType  CloseType

	PacketTx, PacketRx uint64
	ByteTx, ByteRx     uint64 // frame bytes on the wire
	L4ByteTx, L4ByteRx uint64 // TCP/UDP payload bytes (announced lengths)

	// Handshake RTT seen at the capture point, µs; valid when HasRTT...
	RTT, RTTClient, RTTServer          uint32
	HasRTT, HasRTTClient, HasRTTServer bool

	SRTMax, SRTSum, SRTCount uint32 // µs: client data to the server's ACK
	ARTMax, ARTSum, ARTCount uint32 // µs: client data to the server's data

	RetransTx, RetransRx uint32
	ZeroWinTx, ZeroWinRx uint32
	OOOTx, OOORx         uint32
	SynCount             uint32
	SynAckCount          uint32
	RetransSyn           uint32
	RetransSynAck        uint32
	FinCount             uint32

	L7Request, L7Response, L7ClientError, L7ServerError, L7ServerTimeout uint32

	// Tags are the resource and service tags of each side, attached by a
	// pipeline's stages (pipeline.Stage); the Table leaves them empty.
	Tags tag.Set
}

// Clone returns a copy of r that shares no memory with it, for keeping a
// record past the callback that lent it.
func (r *Record) Clone() *Record {
	c := *r
	c.Tags = r.Tags.Clone()
	return &c
}

// ProtocolName returns the record value of a protocol number: "TCP", "UDP",
// "ICMP" (ICMPv6 too), or the number in decimal.
func ProtocolName(p uint8) string {
	switch p {
	case decode.ProtoTCP:
		return "TCP"
	case decode.ProtoUDP:
		return "UDP"
	case decode.ProtoICMP, decode.ProtoICMPv6:
		return "ICMP"
	}
	return strconv.Itoa(int(p))
}

// AppendJSON appends r as one JSON object with exactly the RECORDS.md keys,
// "type":"l4_flow_log" first. Fields that are unknown or do not apply
// (vlan 0, no tunnel, RTT not measured) are omitted; counters are always
// present. It does not allocate beyond growing b.
func (r *Record) AppendJSON(b []byte) []byte {
	// Keys are written with their punctuation as literals: one append a
	// member.
	b = slices.Grow(b, 1024)
	b = append(b, `{"type":"l4_flow_log"`...)
	b = jsonw.AppendUint(append(b, `,"flow_id":`...), r.FlowID)
	b = append(jsonw.AppendTime(append(b, `,"start_time":"`...), r.StartTime), '"')
	b = append(jsonw.AppendTime(append(b, `,"end_time":"`...), r.EndTime), '"')
	b = jsonw.AppendInt(append(b, `,"duration":`...), r.Duration)
	b = append(jsonw.AppendAddr(append(b, `,"ip_0":"`...), r.IP0), '"')
	b = append(jsonw.AppendAddr(append(b, `,"ip_1":"`...), r.IP1), '"')
	b = jsonw.AppendUint(append(b, `,"client_port":`...), uint64(r.ClientPort))
	b = jsonw.AppendUint(append(b, `,"server_port":`...), uint64(r.ServerPort))
	b = append(append(b, `,"protocol":"`...), ProtocolName(r.Protocol)...)
	b = append(b, '"')
	if r.VLAN != 0 {
		b = jsonw.AppendUint(append(b, `,"vlan":`...), uint64(r.VLAN))
	}
	if r.TunnelType != decode.TunnelNone {
		b = jsonw.Quote(append(b, `,"tunnel_type":`...), r.TunnelType.String())
	}
	l7 := r.L7Protocol
	if l7 == "" {
		l7 = "unknown"
	}
	b = jsonw.Quote(append(b, `,"l7_protocol":`...), l7)
	b = append(append(b, `,"close_type":"`...), r.CloseType.String()...)
	b = append(b, '"')
	b = jsonw.AppendUint(append(b, `,"packet_tx":`...), r.PacketTx)
	b = jsonw.AppendUint(append(b, `,"packet_rx":`...), r.PacketRx)
	b = jsonw.AppendUint(append(b, `,"byte_tx":`...), r.ByteTx)
	b = jsonw.AppendUint(append(b, `,"byte_rx":`...), r.ByteRx)
	b = jsonw.AppendUint(append(b, `,"l4_byte_tx":`...), r.L4ByteTx)
	b = jsonw.AppendUint(append(b, `,"l4_byte_rx":`...), r.L4ByteRx)
	if r.HasRTT {
		b = jsonw.AppendUint(append(b, `,"rtt":`...), uint64(r.RTT))
	}
	if r.HasRTTClient {
		b = jsonw.AppendUint(append(b, `,"rtt_client":`...), uint64(r.RTTClient))
	}
	if r.HasRTTServer {
		b = jsonw.AppendUint(append(b, `,"rtt_server":`...), uint64(r.RTTServer))
	}
	b = jsonw.AppendUint(append(b, `,"srt_max":`...), uint64(r.SRTMax))
	b = jsonw.AppendUint(append(b, `,"srt_sum":`...), uint64(r.SRTSum))
	b = jsonw.AppendUint(append(b, `,"srt_count":`...), uint64(r.SRTCount))
	b = jsonw.AppendUint(append(b, `,"art_max":`...), uint64(r.ARTMax))
	b = jsonw.AppendUint(append(b, `,"art_sum":`...), uint64(r.ARTSum))
	b = jsonw.AppendUint(append(b, `,"art_count":`...), uint64(r.ARTCount))
	b = jsonw.AppendUint(append(b, `,"retrans_tx":`...), uint64(r.RetransTx))
	b = jsonw.AppendUint(append(b, `,"retrans_rx":`...), uint64(r.RetransRx))
	b = jsonw.AppendUint(append(b, `,"zero_win_tx":`...), uint64(r.ZeroWinTx))
	b = jsonw.AppendUint(append(b, `,"zero_win_rx":`...), uint64(r.ZeroWinRx))
	b = jsonw.AppendUint(append(b, `,"ooo_tx":`...), uint64(r.OOOTx))
	b = jsonw.AppendUint(append(b, `,"ooo_rx":`...), uint64(r.OOORx))
	b = jsonw.AppendUint(append(b, `,"syn_count":`...), uint64(r.SynCount))
	b = jsonw.AppendUint(append(b, `,"synack_count":`...), uint64(r.SynAckCount))
	b = jsonw.AppendUint(append(b, `,"retrans_syn":`...), uint64(r.RetransSyn))
	b = jsonw.AppendUint(append(b, `,"retrans_synack":`...), uint64(r.RetransSynAck))
	b = jsonw.AppendUint(append(b, `,"fin_count":`...), uint64(r.FinCount))
	b = jsonw.AppendUint(append(b, `,"l7_request":`...), uint64(r.L7Request))
	b = jsonw.AppendUint(append(b, `,"l7_response":`...), uint64(r.L7Response))
	b = jsonw.AppendUint(append(b, `,"l7_client_error":`...), uint64(r.L7ClientError))
	b = jsonw.AppendUint(append(b, `,"l7_server_error":`...), uint64(r.L7ServerError))
	b = jsonw.AppendUint(append(b, `,"l7_server_timeout":`...), uint64(r.L7ServerTimeout))
	b = jsonw.Tags(b, &r.Tags)
	return append(b, '}')
}

// AppendText appends a one-line human-readable summary of r (no newline):
//
//	flow 1 TCP 10.0.0.1:51000 -> 10.0.0.2:80 Finish 2.5ms tx 5/400B rx 4/1200B rtt 120us
func (r *Record) AppendText(b []byte) []byte {
	b = append(b, "flow "...)
	b = jsonw.AppendUint(b, r.FlowID)
	b = append(b, ' ')
	b = append(b, ProtocolName(r.Protocol)...)
	b = append(b, ' ')
	b = jsonw.AppendAddrPort(b, r.IP0, r.ClientPort)
	b = append(b, " -> "...)
	b = jsonw.AppendAddrPort(b, r.IP1, r.ServerPort)
	if r.VLAN != 0 {
		b = append(b, " vlan "...)
		b = jsonw.AppendUint(b, uint64(r.VLAN))
	}
	if r.TunnelType != decode.TunnelNone {
		b = append(b, ' ')
		b = append(b, r.TunnelType.String()...)
	}
	if r.L7Protocol != "" {
		b = append(b, ' ')
		b = append(b, r.L7Protocol...)
	}
	b = append(b, ' ')
	b = append(b, r.CloseType.String()...)
	b = append(b, ' ')
	b = appendMicros(b, r.Duration)
	b = append(b, " tx "...)
	b = jsonw.AppendUint(b, r.PacketTx)
	b = append(b, '/')
	b = jsonw.AppendUint(b, r.ByteTx)
	b = append(b, "B rx "...)
	b = jsonw.AppendUint(b, r.PacketRx)
	b = append(b, '/')
	b = jsonw.AppendUint(b, r.ByteRx)
	b = append(b, 'B')
	if r.HasRTT {
		b = append(b, " rtt "...)
		b = appendMicros(b, int64(r.RTT))
	}
	if n := r.RetransTx + r.RetransRx; n > 0 {
		b = append(b, " retrans "...)
		b = jsonw.AppendUint(b, uint64(n))
	}
	return b
}

// appendMicros writes a µs duration with a unit: "850us", "2.5ms", "3.2s".
func appendMicros(b []byte, us int64) []byte {
	switch {
	case us < 1000 && us > -1000:
		b = jsonw.AppendInt(b, us)
		return append(b, "us"...)
	case us < 1000000 && us > -1000000:
		return append(appendScaled(b, us, 3), "ms"...)
	}
	return append(appendScaled(b, us, 6), 's')
}

// digits100 holds the two decimal digits of 0..99.
const digits100 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendScaled writes v/10^k in decimal with no trailing zeros, as
// strconv.AppendFloat(b, float64(v)/10^k, 'f', -1, 64) would: with at most
// 15 significant digits, v's digits with the point moved are that float's
// shortest decimal (decimals of up to 15 digits map to distinct floats and
// back). Larger magnitudes go through AppendFloat.
func appendScaled(b []byte, v int64, k int) []byte {
	pow := int64(1000)
	if k == 6 {
		pow = 1000000
	}
	if v >= 1e15 || v <= -1e15 {
		return strconv.AppendFloat(b, float64(v)/float64(pow), 'f', -1, 64)
	}
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	// Constant divisors: a multiplication each, not a division.
	var q, frac int64
	if k == 6 {
		q, frac = v/1000000, v%1000000
	} else {
		q, frac = v/1000, v%1000
	}
	b = jsonw.AppendInt(b, q)
	if frac == 0 {
		return b
	}
	var d [8]byte
	put3 := func(i int, v int64) {
		d[i] = byte('0' + v/100)
		r := v % 100 * 2
		d[i+1], d[i+2] = digits100[r], digits100[r+1]
	}
	if k == 3 {
		put3(1, frac)
	} else {
		put3(1, frac/1000)
		put3(4, frac%1000)
	}
	d[0] = '.'
	n := k + 1
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

// fill writes f's record.
func (t *Table) fill(r *Record, f *Flow, ct CloseType) {
	tags := r.Tags
	*r = Record{Tags: tags}
	r.Tags.Reset()
	r.FlowID = f.ID()
	r.StartTime = f.start
	r.EndTime = f.end
	r.Duration = (f.end - f.start) / 1000
	c, s := f.Client(), f.Server()
	r.IP0, r.ClientPort = c.Addr(), c.Port()
	r.IP1, r.ServerPort = s.Addr(), s.Port()
	r.Protocol = f.key.proto
	r.VLAN = f.key.vlan
	r.TunnelType = f.key.tun
	r.CloseType = ct
	tx, rx := &f.peers[0], &f.peers[1]
	r.PacketTx, r.PacketRx = uint64(tx.pkts), uint64(rx.pkts)
	r.ByteTx, r.ByteRx = tx.bytes, rx.bytes
	r.L4ByteTx, r.L4ByteRx = tx.l4bytes, rx.l4bytes
	r.RTTServer, r.RTTClient, r.RTT, r.HasRTTServer, r.HasRTTClient, r.HasRTT = f.handshakeRTTs()
	r.SRTMax, r.SRTSum, r.SRTCount = f.srtMax, f.srtSum, f.srtCount
	r.ARTMax, r.ARTSum, r.ARTCount = f.artMax, f.artSum, f.artCount
	r.RetransTx, r.RetransRx = tx.retrans, rx.retrans
	r.ZeroWinTx, r.ZeroWinRx = tx.zeroWin, rx.zeroWin
	r.OOOTx, r.OOORx = tx.ooo, rx.ooo
	r.SynCount, r.SynAckCount = uint32(f.syn), uint32(f.synAck)
	r.RetransSyn = retrans(f.syn, f.flags&fRetransSynSat != 0)
	r.RetransSynAck = retrans(f.synAck, f.flags&fRetransSynAckSat != 0)
	r.FinCount = uint32(f.fin)
}

// retrans returns the retransmissions among n handshake segments: all but
// the first, as a saturating counter would have counted them.
func retrans(n uint16, sat bool) uint32 {
	if sat {
		return uint32(^uint16(0))
	}
	if n == 0 {
		return 0
	}
	return uint32(n - 1)
}
