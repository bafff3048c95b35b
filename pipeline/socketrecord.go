package pipeline

import (
	"net/netip"

	"github.com/metaflow-go/metaflow/capture/socket"
	"github.com/metaflow-go/metaflow/internal/jsonw"
	"github.com/metaflow-go/metaflow/l7"
)

// closeType says why a socket's record was emitted.
type closeType uint8

const (
	closeClosed  closeType = iota + 1 // the process closed the descriptor
	closeState                        // the kernel moved the socket to TCP CLOSE
	closeTimeout                      // no event for SocketConfig.IdleTimeout
	closeForced                       // the input ended
)

func (c closeType) String() string {
	switch c {
	case closeClosed:
		return "Close"
	case closeState:
		return "TcpClose"
	case closeTimeout:
		return "Timeout"
	case closeForced:
		return "ForcedReport"
	}
	return "Unknown"
}

// SocketRecord is one "ebpf_socket_log" record: what one traced socket
// (for UDP, one socket and one peer) amounted to, emitted when it closes,
// idles out or the input ends. The pipeline owns it and reuses it: it is
// valid only during the call that lends it (a queued sink gets a copy).
//
// JSON keys (AppendJSON), in the record contract's style (_0 client, _1
// server; tx client to server, rx server to client; durations in µs):
//
//	type               "ebpf_socket_log"
//	flow_id            the flow id of the socket's l7_flow_log records
//	socket_id          the tracer's socket id
//	start_time         first event (RFC 3339, ns)
//	end_time           last event
//	duration           end_time - start_time, µs
//	ip_0, ip_1, client_port, server_port, protocol (TCP, UDP)
//	tap_side           "c-p" (the traced process is the client: it
//	                   connected) or "s-p" (the server: it accepted), as
//	                   DeepFlow names them; omitted when not seen
//	process_id_0/1, process_kname_0/1   the traced process, on its side
//	cgroup_id          its cgroup v2 id (omitted when 0)
//	l7_protocol, is_tls
//	close_type         Close (descriptor closed), TcpClose (the kernel
//	                   moved it to CLOSE), Timeout (idle), ForcedReport
//	                   (end of input)
//	tcp_state          the last TCP state seen (ESTABLISHED, ...), omitted
//	                   when none
//	byte_tx, byte_rx   payload bytes the calls carried (their results,
//	                   not the captured prefixes)
//	syscall_count_tx, syscall_count_rx   data calls per direction
//	state_changes      TCP state changes seen
//	retrans_tx, retrans_rx   segments the kernel retransmitted (always
//	                   sent by the traced process, so on its side)
//	l7_request, l7_response, l7_client_error, l7_server_error,
//	l7_server_timeout  as in l4_flow_log
//
// Counters are always present.
type SocketRecord struct {
	FlowID             uint64
	SocketID           uint64
	StartTime, EndTime int64 // unix ns
	Client, Server     netip.AddrPort
	Transport          socket.Transport
	Role               socket.Role
	PID                uint32
	Comm               []byte // aliases the pipeline's memory
	CgroupID           uint64
	L7                 l7.ConnSummary
	IsTLS              bool
	CloseType          string
	TCPState           uint8 // 0: none seen
	ByteTx, ByteRx     uint64
	CallsTx, CallsRx   uint32
	StateChanges       uint32
	RetransTx          uint32
	RetransRx          uint32
	// ProcessIsClient says the traced process is the client (its fields
	// are _0), else the server (_1): from Role, or without one from the
	// L7 decoder's judgement or the higher port.
	ProcessIsClient bool
}

// fill writes sc's record into r.
func (sc *sockConn) fill(r *SocketRecord, sum l7.ConnSummary, how closeType) {
	*r = SocketRecord{
		FlowID: sc.flowID, SocketID: sc.key.id, StartTime: sc.start, EndTime: max(sc.last, sc.start),
		Client: sc.client, Server: sc.server, Transport: sc.transport, Role: sc.role,
		PID: sc.pid, Comm: sc.comm[:sc.commLen], CgroupID: sc.cgroup, L7: sum, IsTLS: sc.tls,
		CloseType: how.String(), TCPState: sc.state, StateChanges: sc.states,
	}
	r.ProcessIsClient = sc.client == sc.local
	if r.ProcessIsClient {
		r.ByteTx, r.ByteRx = sc.bytes[0], sc.bytes[1]
		r.CallsTx, r.CallsRx = sc.calls[0], sc.calls[1]
		r.RetransTx = sc.retrans
	} else {
		r.ByteTx, r.ByteRx = sc.bytes[1], sc.bytes[0]
		r.CallsTx, r.CallsRx = sc.calls[1], sc.calls[0]
		r.RetransRx = sc.retrans
	}
}

// tcpStateNames are the kernel's TCP state names, by number.
var tcpStateNames = [...]string{1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV"}

func tcpStateName(s uint8) string {
	if int(s) < len(tcpStateNames) && tcpStateNames[s] != "" {
		return tcpStateNames[s]
	}
	return "UNKNOWN"
}

// Duration returns duration in microseconds.
func (r *SocketRecord) Duration() int64 { return (r.EndTime - r.StartTime) / 1e3 }

// AppendJSON appends r as one JSON object, "type":"ebpf_socket_log" first
// (keys in SocketRecord's documentation). It does not allocate beyond
// growing b.
func (r *SocketRecord) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"ebpf_socket_log","flow_id":`...)
	b = jsonw.AppendUint(b, r.FlowID)
	b = jsonw.Uint(b, "socket_id", r.SocketID)
	b = jsonw.Time(b, "start_time", r.StartTime)
	b = jsonw.Time(b, "end_time", r.EndTime)
	b = jsonw.Int(b, "duration", r.Duration())
	if r.Client.Addr().IsValid() {
		b = append(jsonw.AppendAddr(append(b, `,"ip_0":"`...), r.Client.Addr()), '"')
	}
	if r.Server.Addr().IsValid() {
		b = append(jsonw.AppendAddr(append(b, `,"ip_1":"`...), r.Server.Addr()), '"')
	}
	b = jsonw.Uint(b, "client_port", uint64(r.Client.Port()))
	b = jsonw.Uint(b, "server_port", uint64(r.Server.Port()))
	if r.Transport == socket.UDP {
		b = append(b, `,"protocol":"UDP"`...)
	} else {
		b = append(b, `,"protocol":"TCP"`...)
	}
	switch r.Role {
	case socket.RoleClient:
		b = append(b, `,"tap_side":"c-p"`...)
	case socket.RoleServer:
		b = append(b, `,"tap_side":"s-p"`...)
	}
	if r.ProcessIsClient {
		if r.PID != 0 {
			b = jsonw.Uint(b, "process_id_0", uint64(r.PID))
		}
		b = jsonw.OmitEmpty(b, "process_kname_0", r.Comm)
	} else {
		if r.PID != 0 {
			b = jsonw.Uint(b, "process_id_1", uint64(r.PID))
		}
		b = jsonw.OmitEmpty(b, "process_kname_1", r.Comm)
	}
	if r.CgroupID != 0 {
		b = jsonw.Uint(b, "cgroup_id", r.CgroupID)
	}
	proto := r.L7.L7Protocol
	if proto == "" {
		proto = "unknown"
	}
	b = jsonw.String(b, "l7_protocol", proto)
	b = jsonw.Bool(b, "is_tls", r.IsTLS)
	b = jsonw.String(b, "close_type", r.CloseType)
	if r.TCPState != 0 {
		b = jsonw.String(b, "tcp_state", tcpStateName(r.TCPState))
	}
	b = jsonw.Uint(b, "byte_tx", r.ByteTx)
	b = jsonw.Uint(b, "byte_rx", r.ByteRx)
	b = jsonw.Uint(b, "syscall_count_tx", uint64(r.CallsTx))
	b = jsonw.Uint(b, "syscall_count_rx", uint64(r.CallsRx))
	b = jsonw.Uint(b, "state_changes", uint64(r.StateChanges))
	b = jsonw.Uint(b, "retrans_tx", uint64(r.RetransTx))
	b = jsonw.Uint(b, "retrans_rx", uint64(r.RetransRx))
	b = jsonw.Uint(b, "l7_request", uint64(r.L7.Requests))
	b = jsonw.Uint(b, "l7_response", uint64(r.L7.Responses))
	b = jsonw.Uint(b, "l7_client_error", uint64(r.L7.ClientErrors))
	b = jsonw.Uint(b, "l7_server_error", uint64(r.L7.ServerErrors))
	b = jsonw.Uint(b, "l7_server_timeout", uint64(r.L7.Timeouts))
	return append(b, '}')
}

// AppendText appends r as one readable line, e.g.
//
//	socket 2147483649 TCP 127.0.0.1:40000 -> 127.0.0.1:6379 Redis redis-cli/4242 Close 1523us tx 120 rx 42 retrans 0
func (r *SocketRecord) AppendText(b []byte) []byte {
	b = append(b, "socket "...)
	b = jsonw.AppendUint(b, r.FlowID)
	if r.Transport == socket.UDP {
		b = append(b, " UDP "...)
	} else {
		b = append(b, " TCP "...)
	}
	b = r.Client.AppendTo(b)
	b = append(b, " -> "...)
	b = r.Server.AppendTo(b)
	if r.L7.L7Protocol != "" {
		b = append(b, ' ')
		b = append(b, r.L7.L7Protocol...)
	}
	if r.IsTLS {
		b = append(b, " TLS"...)
	}
	b = append(b, ' ')
	for _, c := range r.Comm {
		if c <= 0x20 || c == 0x7f {
			c = '.'
		}
		b = append(b, c)
	}
	b = append(b, '/')
	b = jsonw.AppendUint(b, uint64(r.PID))
	b = append(b, ' ')
	b = append(b, r.CloseType...)
	b = append(b, ' ')
	b = jsonw.AppendInt(b, r.Duration())
	b = append(b, "us tx "...)
	b = jsonw.AppendUint(b, r.ByteTx)
	b = append(b, " rx "...)
	b = jsonw.AppendUint(b, r.ByteRx)
	b = append(b, " retrans "...)
	b = jsonw.AppendUint(b, uint64(r.RetransTx+r.RetransRx))
	return b
}
