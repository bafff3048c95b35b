package aggregate

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
)

// RelativeAccuracy is the relative error of every latency percentile: a
// quantile q read from a Sketch is within 1% of the exact q-quantile of the
// values added (the value of rank floor(q·(n-1)) of the sorted values), for
// any distribution, and stays so after any number of merges (DDSketch's
// guarantee, from DataDog's sketches-go).
const RelativeAccuracy = 0.01

// sketchMapping is shared by every sketch: sketches merge only when their
// mappings are equal, and a shared one also saves its memory.
var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(RelativeAccuracy)
	if err != nil {
		panic(err) // a constant accuracy: a programmer error
	}
	return m
}()

// Bounds of the values a Sketch indexes: smaller ones (0 µs) count in
// its zero bucket, larger ones in the top bucket.
var (
	sketchMin = sketchMapping.MinIndexableValue()
	sketchMax = sketchMapping.MaxIndexableValue()
)

// latIndex returns the sketch bucket of a latency in µs (≥ 0): -1 for the
// zero bucket, else the mapping's index (at most about 2,200 for any
// int64, so it fits an int16).
func latIndex(us int64) int16 {
	if float64(us) <= sketchMin {
		return -1
	}
	return int16(sketchMapping.Index(float64(us)))
}

// bin is one bucket of a Sketch: the mapping's index and its count. A
// count past 1<<32-1 continues in a second bin of the same index.
type bin struct {
	idx int32
	n   uint32
}

// Sketch is a mergeable latency distribution in µs: DDSketch (DataDog's
// sketches-go) with its logarithmic index mapping of RelativeAccuracy,
// its buckets held as a sorted sparse list (a few words for a few
// distinct latencies), and DDSketch's quantile rule, so it answers as a
// ddsketch.DDSketch holding the same values would. The zero value is
// empty and ready to use. A Sketch is not safe for concurrent use.
type Sketch struct {
	count uint64 // values added
	zero  uint64 // values ≤ the mapping's smallest indexable value (0 µs)
	bins  []bin  // sorted by idx
}

// Add adds one latency in µs; negative values count as 0, values past
// the mapping's range as its largest value.
func (k *Sketch) Add(us float64) {
	switch {
	case !(us > sketchMin): // NaN, negative, 0
		k.addZero(1)
	case us > sketchMax:
		k.addIndex(int32(sketchMapping.Index(sketchMax)), 1)
	default:
		k.addIndex(int32(sketchMapping.Index(us)), 1)
	}
}

func (k *Sketch) addZero(c uint64) {
	k.zero += c
	k.count += c
}

// addLat adds one value of bucket li (latIndex).
func (k *Sketch) addLat(li int16) {
	if li < 0 {
		k.addZero(1)
		return
	}
	k.addIndex(int32(li), 1)
}

// addIndex adds c values to bucket idx.
func (k *Sketch) addIndex(idx int32, c uint64) {
	k.count += c
	b := k.bins
	// the common cases first: the last bin, or past it
	p := len(b)
	if p == 0 || b[p-1].idx < idx {
		// append
	} else {
		lo, hi := 0, p
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if b[m].idx < idx {
				lo = m + 1
			} else {
				hi = m
			}
		}
		p = lo
	}
	for c > 0 {
		if p < len(b) && b[p].idx == idx {
			d := min(uint64(math.MaxUint32-b[p].n), c)
			b[p].n += uint32(d)
			c -= d
			p++
			continue
		}
		d := min(c, math.MaxUint32)
		b = append(b, bin{})
		copy(b[p+1:], b[p:])
		b[p] = bin{idx: idx, n: uint32(d)}
		c -= d
		p++
	}
	k.bins = b
}

// Count returns the number of values added.
func (k *Sketch) Count() float64 {
	return float64(k.count)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) within RelativeAccuracy, or
// 0 when the sketch is empty: DDSketch's value of rank q·(count-1).
func (k *Sketch) Quantile(q float64) float64 {
	if k.count == 0 || !(q >= 0 && q <= 1) {
		return 0
	}
	rank := float64(q * float64(k.count-1)) // no fused multiply-add, as in DDSketch
	if rank < float64(k.zero) {
		return 0
	}
	rank -= float64(k.zero)
	var cum float64
	for _, b := range k.bins {
		cum += float64(b.n)
		if cum > rank {
			return sketchMapping.Value(int(b.idx))
		}
	}
	if n := len(k.bins); n > 0 {
		return sketchMapping.Value(int(k.bins[n-1].idx))
	}
	return 0
}

// Merge adds the values of o into k. Counts add exactly; quantiles keep
// their relative accuracy.
func (k *Sketch) Merge(o *Sketch) {
	if o.count == 0 {
		return
	}
	k.addZero(o.zero)
	for _, b := range o.bins {
		k.addIndex(b.idx, uint64(b.n))
	}
}

// Clone returns a copy of k that shares nothing with it.
func (k *Sketch) Clone() Sketch {
	c := *k
	c.bins = append([]bin(nil), k.bins...)
	return c
}

// reset empties k, keeping its memory.
func (k *Sketch) reset() {
	k.count, k.zero, k.bins = 0, 0, k.bins[:0]
}

// Latency is a latency metric in µs as DeepFlow keeps it: _sum, _count and
// _max.
type Latency struct {
	Sum, Count, Max uint64
}

// Add adds one value in µs.
func (l *Latency) Add(us uint64) {
	l.Sum += us
	l.Count++
	if us > l.Max {
		l.Max = us
	}
}

// Merge adds o into l.
func (l *Latency) Merge(o *Latency) {
	l.Sum += o.Sum
	l.Count += o.Count
	if o.Max > l.Max {
		l.Max = o.Max
	}
}

// Mean returns Sum/Count, or 0.
func (l *Latency) Mean() float64 {
	if l.Count == 0 {
		return 0
	}
	return float64(l.Sum) / float64(l.Count)
}

// NetworkMetrics are the L4 metrics of one series in one window, with
// DeepFlow's names (METRICS-AND-TAGS.md) in the comments. Tx is client to
// server, Rx server to client.
type NetworkMetrics struct {
	Records uint64 // flow records (snapshots and final records) counted

	PacketTx, PacketRx uint64 // packet_tx, packet_rx
	ByteTx, ByteRx     uint64 // byte_tx, byte_rx: frame bytes
	L4ByteTx, L4ByteRx uint64 // l4_byte_tx, l4_byte_rx: payload bytes
	NewFlow            uint64 // new_flow: flows first reported in the window
	ClosedFlow         uint64 // closed_flow: flows that ended in the window
	FlowLoad           uint64 // flow_load: flow reports (live flows, once per snapshot interval)

	RTT, RTTClient, RTTServer Latency // rtt, rtt_client, rtt_server: handshake, once per flow
	SRT, ART                  Latency // srt, art: per flow record's own sum/count/max

	RetransTx, RetransRx      uint64 // retrans_tx, retrans_rx
	ZeroWinTx, ZeroWinRx      uint64 // zero_win_tx, zero_win_rx
	OOOTx, OOORx              uint64 // ooo_tx, ooo_rx
	SynCount, SynAckCount     uint64 // syn_count, synack_count
	RetransSyn, RetransSynAck uint64 // retrans_syn, retrans_synack

	L7Request, L7Response uint64 // l7_request, l7_response (from the flow records)

	// Anomalies: flows by close type.
	ClientRstFlow           uint64 // client_rst_flow: TcpClientRst, TcpFinClientRst
	ServerRstFlow           uint64 // server_rst_flow: TcpServerRst
	ServerSynMiss           uint64 // server_syn_miss: ClientSynRepeat (SYN never answered)
	ClientAckMiss           uint64 // client_ack_miss: ServerSynAckRepeat
	ClientHalfCloseFlow     uint64 // client_half_close_flow: ClientHalfClose
	ServerHalfCloseFlow     uint64 // server_half_close_flow: ServerHalfClose
	ClientSourcePortReuse   uint64 // client_source_port_reuse
	ClientEstablishOtherRst uint64 // client_establish_other_rst: ClientEstablishReset
	ServerEstablishOtherRst uint64 // server_establish_other_rst: ServerEstablishReset
	ServerReset             uint64 // server_reset: SYN answered by RST
	ServerQueueLack         uint64 // server_queue_lack
	TCPTimeout              uint64 // tcp_timeout: TCP flows closed by Timeout
}

// ClientEstablishFail is client_establish_fail: client_ack_miss +
// client_source_port_reuse + client_establish_other_rst.
func (m *NetworkMetrics) ClientEstablishFail() uint64 {
	return m.ClientAckMiss + m.ClientSourcePortReuse + m.ClientEstablishOtherRst
}

// ServerEstablishFail is server_establish_fail: server_syn_miss +
// server_reset + server_queue_lack + server_establish_other_rst.
func (m *NetworkMetrics) ServerEstablishFail() uint64 {
	return m.ServerSynMiss + m.ServerReset + m.ServerQueueLack + m.ServerEstablishOtherRst
}

// TCPEstablishFail is tcp_establish_fail: both establishment failures.
func (m *NetworkMetrics) TCPEstablishFail() uint64 {
	return m.ClientEstablishFail() + m.ServerEstablishFail()
}

// TCPTransferFail is tcp_transfer_fail: resets, half-closes and timeouts
// of established connections.
func (m *NetworkMetrics) TCPTransferFail() uint64 {
	return m.ClientRstFlow + m.ServerRstFlow + m.ClientHalfCloseFlow + m.ServerHalfCloseFlow + m.TCPTimeout
}

// TCPRstFail is tcp_rst_fail: every flow that ended in a reset.
func (m *NetworkMetrics) TCPRstFail() uint64 {
	return m.ClientRstFlow + m.ServerRstFlow + m.ClientEstablishOtherRst + m.ServerEstablishOtherRst + m.ServerReset
}

// Merge adds o into m: counters add, maxima take the larger.
func (m *NetworkMetrics) Merge(o *NetworkMetrics) {
	m.Records += o.Records
	m.PacketTx += o.PacketTx
	m.PacketRx += o.PacketRx
	m.ByteTx += o.ByteTx
	m.ByteRx += o.ByteRx
	m.L4ByteTx += o.L4ByteTx
	m.L4ByteRx += o.L4ByteRx
	m.NewFlow += o.NewFlow
	m.ClosedFlow += o.ClosedFlow
	m.FlowLoad += o.FlowLoad
	m.RTT.Merge(&o.RTT)
	m.RTTClient.Merge(&o.RTTClient)
	m.RTTServer.Merge(&o.RTTServer)
	m.SRT.Merge(&o.SRT)
	m.ART.Merge(&o.ART)
	m.RetransTx += o.RetransTx
	m.RetransRx += o.RetransRx
	m.ZeroWinTx += o.ZeroWinTx
	m.ZeroWinRx += o.ZeroWinRx
	m.OOOTx += o.OOOTx
	m.OOORx += o.OOORx
	m.SynCount += o.SynCount
	m.SynAckCount += o.SynAckCount
	m.RetransSyn += o.RetransSyn
	m.RetransSynAck += o.RetransSynAck
	m.L7Request += o.L7Request
	m.L7Response += o.L7Response
	m.ClientRstFlow += o.ClientRstFlow
	m.ServerRstFlow += o.ServerRstFlow
	m.ServerSynMiss += o.ServerSynMiss
	m.ClientAckMiss += o.ClientAckMiss
	m.ClientHalfCloseFlow += o.ClientHalfCloseFlow
	m.ServerHalfCloseFlow += o.ServerHalfCloseFlow
	m.ClientSourcePortReuse += o.ClientSourcePortReuse
	m.ClientEstablishOtherRst += o.ClientEstablishOtherRst
	m.ServerEstablishOtherRst += o.ServerEstablishOtherRst
	m.ServerReset += o.ServerReset
	m.ServerQueueLack += o.ServerQueueLack
	m.TCPTimeout += o.TCPTimeout
}

// AppMetrics are the application (RED) metrics of one series in one
// window, DeepFlow's names in the comments.
type AppMetrics struct {
	Request     uint64  // request: records with a request
	Response    uint64  // response: records with a response
	ClientError uint64  // client_error: status ClientError
	ServerError uint64  // server_error: status ServerError
	Timeout     uint64  // timeout: status Timeout
	RRT         Latency // rrt_sum, rrt_count, rrt_max: response_duration, µs
	// Latency holds the same response durations as RRT, for percentiles,
	// in 1 min windows and the late-minute bucket only: 1 s windows (and
	// the late-second bucket) leave it empty, which saves a sketch per
	// series and second.
	Latency Sketch
}

// Merge adds o into m; the sketches merge.
func (m *AppMetrics) Merge(o *AppMetrics) {
	m.Request += o.Request
	m.Response += o.Response
	m.ClientError += o.ClientError
	m.ServerError += o.ServerError
	m.Timeout += o.Timeout
	m.RRT.Merge(&o.RRT)
	m.Latency.Merge(&o.Latency)
}

// Clone returns a copy of m that shares nothing with it.
func (m *AppMetrics) Clone() AppMetrics {
	c := *m
	c.Latency = m.Latency.Clone()
	return c
}

// reset zeroes m, keeping its sketch's memory.
func (m *AppMetrics) reset() {
	s := m.Latency
	s.reset()
	*m = AppMetrics{Latency: s}
}
