package aggregate

// NetworkField is one metric of NetworkMetrics under its DeepFlow name.
// Max fields are maxima (gauges when exported), the others counters.
type NetworkField struct {
	Name  string
	Max   bool
	Value func(*NetworkMetrics) uint64
}

// AppField is the same for AppMetrics.
type AppField struct {
	Name  string
	Max   bool
	Value func(*AppMetrics) uint64
}

// NetworkFields lists every network metric with its DeepFlow name
// (METRICS-AND-TAGS.md), the derived failures included, in a fixed order;
// exporters and the service map take their names from it.
var NetworkFields = []NetworkField{
	{"packet_tx", false, func(m *NetworkMetrics) uint64 { return m.PacketTx }},
	{"packet_rx", false, func(m *NetworkMetrics) uint64 { return m.PacketRx }},
	{"byte_tx", false, func(m *NetworkMetrics) uint64 { return m.ByteTx }},
	{"byte_rx", false, func(m *NetworkMetrics) uint64 { return m.ByteRx }},
	{"l4_byte_tx", false, func(m *NetworkMetrics) uint64 { return m.L4ByteTx }},
	{"l4_byte_rx", false, func(m *NetworkMetrics) uint64 { return m.L4ByteRx }},
	{"new_flow", false, func(m *NetworkMetrics) uint64 { return m.NewFlow }},
	{"closed_flow", false, func(m *NetworkMetrics) uint64 { return m.ClosedFlow }},
	{"flow_load", false, func(m *NetworkMetrics) uint64 { return m.FlowLoad }},
	{"rtt_sum", false, func(m *NetworkMetrics) uint64 { return m.RTT.Sum }},
	{"rtt_count", false, func(m *NetworkMetrics) uint64 { return m.RTT.Count }},
	{"rtt_max", true, func(m *NetworkMetrics) uint64 { return m.RTT.Max }},
	{"rtt_client_sum", false, func(m *NetworkMetrics) uint64 { return m.RTTClient.Sum }},
	{"rtt_client_count", false, func(m *NetworkMetrics) uint64 { return m.RTTClient.Count }},
	{"rtt_client_max", true, func(m *NetworkMetrics) uint64 { return m.RTTClient.Max }},
	{"rtt_server_sum", false, func(m *NetworkMetrics) uint64 { return m.RTTServer.Sum }},
	{"rtt_server_count", false, func(m *NetworkMetrics) uint64 { return m.RTTServer.Count }},
	{"rtt_server_max", true, func(m *NetworkMetrics) uint64 { return m.RTTServer.Max }},
	{"srt_sum", false, func(m *NetworkMetrics) uint64 { return m.SRT.Sum }},
	{"srt_count", false, func(m *NetworkMetrics) uint64 { return m.SRT.Count }},
	{"srt_max", true, func(m *NetworkMetrics) uint64 { return m.SRT.Max }},
	{"art_sum", false, func(m *NetworkMetrics) uint64 { return m.ART.Sum }},
	{"art_count", false, func(m *NetworkMetrics) uint64 { return m.ART.Count }},
	{"art_max", true, func(m *NetworkMetrics) uint64 { return m.ART.Max }},
	{"retrans_tx", false, func(m *NetworkMetrics) uint64 { return m.RetransTx }},
	{"retrans_rx", false, func(m *NetworkMetrics) uint64 { return m.RetransRx }},
	{"zero_win_tx", false, func(m *NetworkMetrics) uint64 { return m.ZeroWinTx }},
	{"zero_win_rx", false, func(m *NetworkMetrics) uint64 { return m.ZeroWinRx }},
	{"ooo_tx", false, func(m *NetworkMetrics) uint64 { return m.OOOTx }},
	{"ooo_rx", false, func(m *NetworkMetrics) uint64 { return m.OOORx }},
	{"syn_count", false, func(m *NetworkMetrics) uint64 { return m.SynCount }},
	{"synack_count", false, func(m *NetworkMetrics) uint64 { return m.SynAckCount }},
	{"retrans_syn", false, func(m *NetworkMetrics) uint64 { return m.RetransSyn }},
	{"retrans_synack", false, func(m *NetworkMetrics) uint64 { return m.RetransSynAck }},
	{"l7_request", false, func(m *NetworkMetrics) uint64 { return m.L7Request }},
	{"l7_response", false, func(m *NetworkMetrics) uint64 { return m.L7Response }},
	{"client_rst_flow", false, func(m *NetworkMetrics) uint64 { return m.ClientRstFlow }},
	{"server_rst_flow", false, func(m *NetworkMetrics) uint64 { return m.ServerRstFlow }},
	{"server_syn_miss", false, func(m *NetworkMetrics) uint64 { return m.ServerSynMiss }},
	{"client_ack_miss", false, func(m *NetworkMetrics) uint64 { return m.ClientAckMiss }},
	{"client_half_close_flow", false, func(m *NetworkMetrics) uint64 { return m.ClientHalfCloseFlow }},
	{"server_half_close_flow", false, func(m *NetworkMetrics) uint64 { return m.ServerHalfCloseFlow }},
	{"client_source_port_reuse", false, func(m *NetworkMetrics) uint64 { return m.ClientSourcePortReuse }},
	{"client_establish_other_rst", false, func(m *NetworkMetrics) uint64 { return m.ClientEstablishOtherRst }},
	{"server_establish_other_rst", false, func(m *NetworkMetrics) uint64 { return m.ServerEstablishOtherRst }},
	{"server_reset", false, func(m *NetworkMetrics) uint64 { return m.ServerReset }},
	{"server_queue_lack", false, func(m *NetworkMetrics) uint64 { return m.ServerQueueLack }},
	{"tcp_timeout", false, func(m *NetworkMetrics) uint64 { return m.TCPTimeout }},
	{"client_establish_fail", false, (*NetworkMetrics).ClientEstablishFail},
	{"server_establish_fail", false, (*NetworkMetrics).ServerEstablishFail},
	{"tcp_establish_fail", false, (*NetworkMetrics).TCPEstablishFail},
	{"tcp_transfer_fail", false, (*NetworkMetrics).TCPTransferFail},
	{"tcp_rst_fail", false, (*NetworkMetrics).TCPRstFail},
}

// AppFields lists every application metric with its DeepFlow name; the
// percentiles come from AppMetrics.Latency (AppQuantiles).
var AppFields = []AppField{
	{"request", false, func(m *AppMetrics) uint64 { return m.Request }},
	{"response", false, func(m *AppMetrics) uint64 { return m.Response }},
	{"client_error", false, func(m *AppMetrics) uint64 { return m.ClientError }},
	{"server_error", false, func(m *AppMetrics) uint64 { return m.ServerError }},
	{"timeout", false, func(m *AppMetrics) uint64 { return m.Timeout }},
	{"rrt_sum", false, func(m *AppMetrics) uint64 { return m.RRT.Sum }},
	{"rrt_count", false, func(m *AppMetrics) uint64 { return m.RRT.Count }},
	{"rrt_max", true, func(m *AppMetrics) uint64 { return m.RRT.Max }},
}

// AppQuantiles are the latency quantiles the exporters and the service
// map report from AppMetrics.Latency.
var AppQuantiles = []float64{0.5, 0.9, 0.99}
