package encoding

// colSpec names a fixed column of a table and its encoding.
type colSpec struct {
	name string
	typ  ColumnType
}

// Columns of an l4_flow_log table, RECORDS.md names. The order is the
// encoder's; a decoder finds columns by name.
const (
	l4FlowID = iota
	l4StartTime
	l4EndTime
	l4Duration
	l4IP0
	l4IP1
	l4ClientPort
	l4ServerPort
	l4Protocol
	l4VLAN
	l4TunnelType
	l4L7Protocol
	l4CloseType
	l4Snapshot
	l4PacketTx
	l4PacketRx
	l4ByteTx
	l4ByteRx
	l4L4ByteTx
	l4L4ByteRx
	l4RTT
	l4RTTClient
	l4RTTServer
	l4SRTMax
	l4SRTSum
	l4SRTCount
	l4ARTMax
	l4ARTSum
	l4ARTCount
	l4RetransTx
	l4RetransRx
	l4ZeroWinTx
	l4ZeroWinRx
	l4OOOTx
	l4OOORx
	l4SynCount
	l4SynAckCount
	l4RetransSyn
	l4RetransSynAck
	l4FinCount
	l4L7Request
	l4L7Response
	l4L7ClientError
	l4L7ServerError
	l4L7ServerTimeout
	l4NumColumns
)

var l4Columns = []colSpec{
	l4FlowID:          {"flow_id", ColDelta},
	l4StartTime:       {"start_time", ColDelta},
	l4EndTime:         {"end_time", ColDelta},
	l4Duration:        {"duration", ColVarint},
	l4IP0:             {"ip_0", ColAddr},
	l4IP1:             {"ip_1", ColAddr},
	l4ClientPort:      {"client_port", ColUvarint},
	l4ServerPort:      {"server_port", ColUvarint},
	l4Protocol:        {"protocol", ColUvarint},
	l4VLAN:            {"vlan", ColUvarint},
	l4TunnelType:      {"tunnel_type", ColUvarint},
	l4L7Protocol:      {"l7_protocol", ColString},
	l4CloseType:       {"close_type", ColUvarint},
	l4Snapshot:        {"snapshot", ColUvarint},
	l4PacketTx:        {"packet_tx", ColUvarint},
	l4PacketRx:        {"packet_rx", ColUvarint},
	l4ByteTx:          {"byte_tx", ColUvarint},
	l4ByteRx:          {"byte_rx", ColUvarint},
	l4L4ByteTx:        {"l4_byte_tx", ColUvarint},
	l4L4ByteRx:        {"l4_byte_rx", ColUvarint},
	l4RTT:             {"rtt", ColOptUvarint},
	l4RTTClient:       {"rtt_client", ColOptUvarint},
	l4RTTServer:       {"rtt_server", ColOptUvarint},
	l4SRTMax:          {"srt_max", ColUvarint},
	l4SRTSum:          {"srt_sum", ColUvarint},
	l4SRTCount:        {"srt_count", ColUvarint},
	l4ARTMax:          {"art_max", ColUvarint},
	l4ARTSum:          {"art_sum", ColUvarint},
	l4ARTCount:        {"art_count", ColUvarint},
	l4RetransTx:       {"retrans_tx", ColUvarint},
	l4RetransRx:       {"retrans_rx", ColUvarint},
	l4ZeroWinTx:       {"zero_win_tx", ColUvarint},
	l4ZeroWinRx:       {"zero_win_rx", ColUvarint},
	l4OOOTx:           {"ooo_tx", ColUvarint},
	l4OOORx:           {"ooo_rx", ColUvarint},
	l4SynCount:        {"syn_count", ColUvarint},
	l4SynAckCount:     {"synack_count", ColUvarint},
	l4RetransSyn:      {"retrans_syn", ColUvarint},
	l4RetransSynAck:   {"retrans_synack", ColUvarint},
	l4FinCount:        {"fin_count", ColUvarint},
	l4L7Request:       {"l7_request", ColUvarint},
	l4L7Response:      {"l7_response", ColUvarint},
	l4L7ClientError:   {"l7_client_error", ColUvarint},
	l4L7ServerError:   {"l7_server_error", ColUvarint},
	l4L7ServerTimeout: {"l7_server_timeout", ColUvarint},
}

// Columns of an l7_flow_log table.
const (
	l7FlowID = iota
	l7StartTime
	l7EndTime
	l7IP0
	l7IP1
	l7ClientPort
	l7ServerPort
	l7Protocol
	l7L7Protocol
	l7IsTLS
	l7HasRequest
	l7HasResponse
	l7Version
	l7ReqTCPSeq
	l7RespTCPSeq
	l7RequestLength
	l7ResponseLength
	l7CapturedRequestByte
	l7CapturedResponseByte
	l7RequestType
	l7RequestDomain
	l7RequestResource
	l7Endpoint
	l7RequestID
	l7ResponseStatus
	l7ResponseCode
	l7ResponseException
	l7ResponseResult
	l7TraceID
	l7SpanID
	l7ParentSpanID
	l7XRequestID0
	l7XRequestID1
	l7UserAgent
	// Since 1.2 (new names only): the eBPF fields, the tap side and the
	// capture point (FORMAT.md).
	l7ProcessID0
	l7ProcessID1
	l7ProcessKName0
	l7ProcessKName1
	l7SyscallTraceIDRequest
	l7SyscallTraceIDResponse
	l7SyscallThread0
	l7SyscallThread1
	l7TapSide
	l7AgentID
	l7SyscallCoroutine0
	l7SyscallCoroutine1
	l7NumColumns
)

var l7Columns = []colSpec{
	l7FlowID:               {"flow_id", ColDelta},
	l7StartTime:            {"start_time", ColDelta},
	l7EndTime:              {"end_time", ColDelta},
	l7IP0:                  {"ip_0", ColAddr},
	l7IP1:                  {"ip_1", ColAddr},
	l7ClientPort:           {"client_port", ColUvarint},
	l7ServerPort:           {"server_port", ColUvarint},
	l7Protocol:             {"protocol", ColUvarint},
	l7L7Protocol:           {"l7_protocol", ColString},
	l7IsTLS:                {"is_tls", ColUvarint},
	l7HasRequest:           {"has_request", ColUvarint},
	l7HasResponse:          {"has_response", ColUvarint},
	l7Version:              {"version", ColString},
	l7ReqTCPSeq:            {"req_tcp_seq", ColUvarint},
	l7RespTCPSeq:           {"resp_tcp_seq", ColUvarint},
	l7RequestLength:        {"request_length", ColVarint},
	l7ResponseLength:       {"response_length", ColVarint},
	l7CapturedRequestByte:  {"captured_request_byte", ColUvarint},
	l7CapturedResponseByte: {"captured_response_byte", ColUvarint},
	l7RequestType:          {"request_type", ColString},
	l7RequestDomain:        {"request_domain", ColString},
	l7RequestResource:      {"request_resource", ColString},
	l7Endpoint:             {"endpoint", ColString},
	l7RequestID:            {"request_id", ColOptUvarint},
	l7ResponseStatus:       {"response_status", ColOptUvarint},
	l7ResponseCode:         {"response_code", ColOptVarint},
	l7ResponseException:    {"response_exception", ColString},
	l7ResponseResult:       {"response_result", ColString},
	l7TraceID:              {"trace_id", ColString},
	l7SpanID:               {"span_id", ColString},
	l7ParentSpanID:         {"parent_span_id", ColString},
	l7XRequestID0:          {"x_request_id_0", ColString},
	l7XRequestID1:          {"x_request_id_1", ColString},
	l7UserAgent:            {"user_agent", ColString},

	l7ProcessID0:             {"process_id_0", ColUvarint},
	l7ProcessID1:             {"process_id_1", ColUvarint},
	l7ProcessKName0:          {"process_kname_0", ColString},
	l7ProcessKName1:          {"process_kname_1", ColString},
	l7SyscallTraceIDRequest:  {"syscall_trace_id_request", ColUvarint},
	l7SyscallTraceIDResponse: {"syscall_trace_id_response", ColUvarint},
	l7SyscallThread0:         {"syscall_thread_0", ColUvarint},
	l7SyscallThread1:         {"syscall_thread_1", ColUvarint},
	l7TapSide:                {"tap_side", ColString},
	l7AgentID:                {"agent_id", ColString},
	l7SyscallCoroutine0:      {"syscall_coroutine_0", ColUvarint},
	l7SyscallCoroutine1:      {"syscall_coroutine_1", ColUvarint},
}
