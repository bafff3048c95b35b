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
//
// It grows b once, to a bound of the line's length, and writes the line's
// pieces at offsets (jsonw's PutX); it may use a few bytes of b's capacity
// past the line as scratch. It does not allocate beyond growing b.
func (r *Record) AppendText(b []byte) []byte {
	tunnel := ""
	if r.TunnelType != decode.TunnelNone {
		tunnel = r.TunnelType.String()
	}
	closeType := "" // the close type's name, when closeWords lacks it
	if int(r.CloseType) >= len(closeWords) {
		closeType = r.CloseType.String()
	}
	n := len(b)
	b = slices.Grow(b, textMax+len(tunnel)+len(r.L7Protocol)+len(closeType)+zoneLen(r.IP0)+zoneLen(r.IP1))
	b = b[:cap(b)]
	n = jsonw.PutWord(b, n, wFlow)
	n = jsonw.PutUint(b, n, r.FlowID)
	n = jsonw.PutWord(b, n, protoWords[r.Protocol])
	n = jsonw.PutAddrPort(b, n, r.IP0, r.ClientPort)
	n = jsonw.PutWord(b, n, wArrow)
	n = jsonw.PutAddrPort(b, n, r.IP1, r.ServerPort)
	if r.VLAN != 0 {
		n = jsonw.PutWord(b, n, wVLAN)
		n = jsonw.PutUint(b, n, uint64(r.VLAN))
	}
	if r.TunnelType != decode.TunnelNone {
		b[n] = ' '
		n = jsonw.PutString(b, n+1, tunnel)
	}
	if r.L7Protocol != "" {
		b[n] = ' '
		n = jsonw.PutString(b, n+1, r.L7Protocol)
	}
	if int(r.CloseType) < len(closeWords) {
		n = jsonw.PutWords(b, n, &closeWords[r.CloseType])
	} else {
		b[n] = ' '
		n = jsonw.PutString(b, n+1, closeType)
		b[n] = ' '
		n++
	}
	n = putMicros(b, n, r.Duration)
	n = jsonw.PutWord(b, n, wTx)
	n = jsonw.PutUint(b, n, r.PacketTx)
	b[n] = '/'
	n = jsonw.PutUint(b, n+1, r.ByteTx)
	n = jsonw.PutWord(b, n, wRx)
	n = jsonw.PutUint(b, n, r.PacketRx)
	b[n] = '/'
	n = jsonw.PutUint(b, n+1, r.ByteRx)
	b[n] = 'B'
	n++
	if r.HasRTT {
		n = jsonw.PutWord(b, n, wRTT)
		n = putMicros(b, n, int64(r.RTT))
	}
	if m := r.RetransTx + r.RetransRx; m > 0 {
		n = jsonw.PutWord(b, n, wRetrans)
		n = jsonw.PutWord(b, n, wS)
		n = jsonw.PutUint(b, n, uint64(m))
	}
	return b[:n]
}

// The constant pieces of a text line.
var (
	wFlow    = jsonw.MakeWord("flow ")
	wArrow   = jsonw.MakeWord(" -> ")
	wVLAN    = jsonw.MakeWord(" vlan ")
	wTx      = jsonw.MakeWord(" tx ")
	wRx      = jsonw.MakeWord("B rx ")
	wRTT     = jsonw.MakeWord(" rtt ")
	wRetrans = jsonw.MakeWord(" retrans")
	wS       = jsonw.MakeWord(" ")
)

// protoWords holds " <ProtocolName(p)> " of each protocol number p.
var protoWords = func() (t [256]jsonw.Word) {
	for p := range t {
		t[p] = jsonw.MakeWord(" " + ProtocolName(uint8(p)) + " ")
	}
	return
}()

// closeWords holds " <close type> " of the first close types.
var closeWords = func() []jsonw.Words {
	var t []jsonw.Words
	for c := range 64 {
		w, ok := jsonw.MakeWords(" " + CloseType(c).String() + " ")
		if !ok {
			break
		}
		t = append(t, w)
	}
	return t
}()

// textMax bounds a text line's length, less its strings (tunnel, l7
// protocol, close type, address zones), plus jsonw.PutSlack.
const textMax = len("flow ") + jsonw.MaxUintLen + len(" ICMP ") +
	2*jsonw.MaxAddrPortLen + len(" -> ") + len(" vlan 65535") + len("   ") + 24 +
	len(" ") + maxMicrosLen + len(" tx /B rx /B") + 4*jsonw.MaxUintLen +
	len(" rtt ") + maxMicrosLen + len(" retrans 4294967295") + jsonw.PutSlack

// zoneLen returns the length of a's IPv6 zone.
func zoneLen(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return len(a.Zone())
}

// maxMicrosLen bounds putMicros' text: '-', 20 digits and a point, a unit.
const maxMicrosLen = 1 + jsonw.MaxScaledLen + 2

// putMicros writes a µs duration with a unit: "850us", "2.5ms", "3.2s".
// The value is v's digits with the point moved (jsonw.PutScaled), which
// is strconv.AppendFloat's shortest decimal of the value in ms or s while
// v has at most 15 digits; larger magnitudes go through AppendFloat.
func putMicros(b []byte, n int, us int64) int {
	u := uint64(us)
	if us < 0 {
		b[n] = '-'
		n++
		u = -u
	}
	switch {
	case u < 1000:
		n = jsonw.PutUint(b, n, u)
		b[n], b[n+1] = 'u', 's'
		return n + 2
	case u < 1e6:
		n = jsonw.PutScaled(b, n, u, 3)
		b[n], b[n+1] = 'm', 's'
		return n + 2
	case u < 1e15:
		n = jsonw.PutScaled(b, n, u, 6)
	default:
		// In place: b[n:] has room for it (maxMicrosLen).
		s := strconv.AppendFloat(b[n:n], float64(u)/1e6, 'f', -1, 64)
		n += copy(b[n:], s)
	}
	b[n] = 's'
	return n + 1
}

// appendMicros appends what putMicros writes (TestAppendMicros_MatchesFloat
// holds it to strconv).
func appendMicros(b []byte, us int64) []byte {
	n := len(b)
	b = slices.Grow(b, maxMicrosLen+jsonw.PutSlack)
	return b[:putMicros(b[:cap(b)], n, us)]
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
	r.PacketTx, r.PacketRx = uint64(f.pkts[0]), uint64(f.pkts[1])
	r.ByteTx, r.ByteRx = tx.bytes, rx.bytes
	r.L4ByteTx, r.L4ByteRx = tx.l4bytes, rx.l4bytes
	r.ARTMax, r.ARTSum, r.ARTCount = f.artMax, f.artSum, f.artCount
	if f.tcp == nilSlot {
		return
	}
	st := t.tcpAt(f.tcp - 1)
	r.RTTServer, r.RTTClient, r.RTT, r.HasRTTServer, r.HasRTTClient, r.HasRTT = f.handshakeRTTs(st)
	r.SRTMax, r.SRTSum, r.SRTCount = st.srtMax, st.srtSum, st.srtCount
	stx, srx := &st.peers[0], &st.peers[1]
	r.RetransTx, r.RetransRx = stx.retrans, srx.retrans
	r.ZeroWinTx, r.ZeroWinRx = stx.zeroWin, srx.zeroWin
	r.OOOTx, r.OOORx = stx.ooo, srx.ooo
	r.SynCount, r.SynAckCount = uint32(st.syn), uint32(st.synAck)
	r.RetransSyn = retrans(st.syn, f.flags&fRetransSynSat != 0)
	r.RetransSynAck = retrans(st.synAck, f.flags&fRetransSynAckSat != 0)
	r.FinCount = uint32(st.fin)
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
