package l7

import (
	"encoding/binary"
	"net/netip"

	"github.com/metaflow-go/metaflow/internal/jsonw"
	"github.com/metaflow-go/metaflow/tag"
)

// Record is one l7_flow_log record (see RECORDS.md): a request with its
// response, a request without one (Timeout, Unknown, or a request that gets
// no response), or a lone response. The engine owns it and reuses it: it and
// every byte slice in it are valid only during the Config.OnRecord call.
type Record struct {
	FlowID    uint64
	StartTime int64 // unix ns: the request's first byte, or the lone response's
	EndTime   int64 // unix ns: the response's first byte, or StartTime

	Client, Server netip.AddrPort // oriented: client (ip_0) sent the requests
	Transport      Transport      // protocol: TCP or UDP
	L7Protocol     string         // the decoder's name
	IsTLS          bool

	HasRequest  bool // the request fields are valid
	HasResponse bool // the response fields are valid

	Version []byte

	ReqTCPSeq            uint32 // TCP sequence number of the request's first byte
	RespTCPSeq           uint32 // TCP sequence number of the response's first byte
	RequestLength        int    // -1 or 0: unknown
	ResponseLength       int    // -1 or 0: unknown
	CapturedRequestByte  uint32 // bytes the engine handed to the parser for the request
	CapturedResponseByte uint32 // the same for the response

	// Request.
	RequestType     []byte
	RequestDomain   []byte
	RequestResource []byte
	Endpoint        []byte
	RequestID       uint32
	HasRequestID    bool

	// Response. Status is meaningful when HasStatus: a request that gets no
	// response by design (Message.NoResponse) has none.
	Status            Status
	HasStatus         bool
	ResponseCode      int32
	HasResponseCode   bool
	ResponseException []byte
	ResponseResult    []byte

	// Tracing.
	TraceID      []byte
	SpanID       []byte
	ParentSpanID []byte
	XRequestID0  []byte // x_request_id_0: from the request
	XRequestID1  []byte // x_request_id_1: from the response
	UserAgent    []byte // not an l7_flow_log key; kept for callers

	// eBPF only (socket events; zero from packets). ProcessID0 and
	// ProcessKName0 are the client process (pid and command name),
	// ProcessID1 and ProcessKName1 the server's; a socket seen from one
	// process fills one side. SyscallThread0 is the thread of the call
	// that carried the request's first byte and SyscallTraceIDRequest its
	// syscall trace id; SyscallThread1 and SyscallTraceIDResponse the same
	// for the response (CallMeta, Conn.SetCall); SyscallCoroutine0 and
	// SyscallCoroutine1 their Go goroutines, when the tracer knows them.
	ProcessID0, ProcessID1                        uint32
	ProcessKName0, ProcessKName1                  []byte
	SyscallTraceIDRequest, SyscallTraceIDResponse uint64
	SyscallThread0, SyscallThread1                uint32
	SyscallCoroutine0, SyscallCoroutine1          uint64

	// Tags are the resource and service tags of each side, attached by a
	// pipeline's stages (pipeline.Stage); the engine leaves them empty.
	Tags tag.Set
}

// Clone returns a copy of r that shares no memory with it, for keeping a
// record past the callback that lent it. The byte fields are copied into
// one allocation.
func (r *Record) Clone() *Record {
	c := *r
	fields := c.byteFields()
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	buf := make([]byte, 0, n)
	for _, f := range fields {
		if len(*f) == 0 {
			continue
		}
		start := len(buf)
		buf = append(buf, *f...)
		*f = buf[start:len(buf):len(buf)]
	}
	c.Tags = r.Tags.Clone()
	return &c
}

// byteFields lists the byte-slice fields of r, for Clone.
func (r *Record) byteFields() [15]*[]byte {
	return [15]*[]byte{
		&r.Version, &r.RequestType, &r.RequestDomain, &r.RequestResource,
		&r.Endpoint, &r.ResponseException, &r.ResponseResult, &r.TraceID,
		&r.SpanID, &r.ParentSpanID, &r.XRequestID0, &r.XRequestID1,
		&r.UserAgent, &r.ProcessKName0, &r.ProcessKName1,
	}
}

// ResponseDuration returns response_duration in microseconds and whether the
// record has one (a request paired with its response).
func (r *Record) ResponseDuration() (int64, bool) {
	if !r.HasRequest || !r.HasResponse {
		return 0, false
	}
	return (r.EndTime - r.StartTime) / 1e3, true
}

// AppendJSON appends r as one JSON object with the RECORDS.md keys,
// "type":"l7_flow_log" first; unknown fields are omitted. It does not
// allocate beyond growing b.
func (r *Record) AppendJSON(b []byte) []byte {
	// Keys are written with their punctuation as literals: one append a
	// member.
	b = append(b, `{"type":"l7_flow_log","flow_id":`...)
	b = jsonw.AppendUint(b, r.FlowID)
	b = append(jsonw.AppendTime(append(b, `,"start_time":"`...), r.StartTime), '"')
	b = append(jsonw.AppendTime(append(b, `,"end_time":"`...), r.EndTime), '"')
	if d, ok := r.ResponseDuration(); ok {
		b = jsonw.AppendInt(append(b, `,"response_duration":`...), d)
	}
	if a := r.Client.Addr(); a.IsValid() {
		b = append(jsonw.AppendAddr(append(b, `,"ip_0":"`...), a), '"')
	}
	if a := r.Server.Addr(); a.IsValid() {
		b = append(jsonw.AppendAddr(append(b, `,"ip_1":"`...), a), '"')
	}
	b = jsonw.AppendUint(append(b, `,"client_port":`...), uint64(r.Client.Port()))
	b = jsonw.AppendUint(append(b, `,"server_port":`...), uint64(r.Server.Port()))
	switch r.Transport {
	case TCP:
		b = append(b, `,"protocol":"TCP"`...)
	case UDP:
		b = append(b, `,"protocol":"UDP"`...)
	}
	if r.L7Protocol != "" {
		b = jsonw.Quote(append(b, `,"l7_protocol":`...), r.L7Protocol)
	}
	if len(r.Version) > 0 {
		b = jsonw.Quote(append(b, `,"version":`...), r.Version)
	}
	if r.IsTLS {
		b = append(b, `,"is_tls":true`...)
	} else {
		b = append(b, `,"is_tls":false`...)
	}
	if r.Transport == TCP {
		if r.HasRequest {
			b = jsonw.AppendUint(append(b, `,"req_tcp_seq":`...), uint64(r.ReqTCPSeq))
		}
		if r.HasResponse {
			b = jsonw.AppendUint(append(b, `,"resp_tcp_seq":`...), uint64(r.RespTCPSeq))
		}
	}
	if r.HasRequest && r.RequestLength > 0 {
		b = jsonw.AppendUint(append(b, `,"request_length":`...), uint64(r.RequestLength))
	}
	if r.HasResponse && r.ResponseLength > 0 {
		b = jsonw.AppendUint(append(b, `,"response_length":`...), uint64(r.ResponseLength))
	}
	if r.HasRequest {
		b = jsonw.AppendUint(append(b, `,"captured_request_byte":`...), uint64(r.CapturedRequestByte))
	}
	if r.HasResponse {
		b = jsonw.AppendUint(append(b, `,"captured_response_byte":`...), uint64(r.CapturedResponseByte))
	}
	if len(r.RequestType) > 0 {
		b = jsonw.Quote(append(b, `,"request_type":`...), r.RequestType)
	}
	if len(r.RequestDomain) > 0 {
		b = jsonw.Quote(append(b, `,"request_domain":`...), r.RequestDomain)
	}
	if len(r.RequestResource) > 0 {
		b = jsonw.Quote(append(b, `,"request_resource":`...), r.RequestResource)
	}
	if len(r.Endpoint) > 0 {
		b = jsonw.Quote(append(b, `,"endpoint":`...), r.Endpoint)
	}
	if r.HasRequestID {
		b = jsonw.AppendUint(append(b, `,"request_id":`...), uint64(r.RequestID))
	}
	if r.HasStatus {
		// Status names need no escaping.
		b = append(append(b, `,"response_status":"`...), r.Status.String()...)
		b = append(b, '"')
	}
	if r.HasResponseCode {
		b = jsonw.AppendInt(append(b, `,"response_code":`...), int64(r.ResponseCode))
	}
	if len(r.ResponseException) > 0 {
		b = jsonw.Quote(append(b, `,"response_exception":`...), r.ResponseException)
	}
	if len(r.ResponseResult) > 0 {
		b = jsonw.Quote(append(b, `,"response_result":`...), r.ResponseResult)
	}
	if len(r.TraceID) > 0 {
		b = jsonw.Quote(append(b, `,"trace_id":`...), r.TraceID)
	}
	if len(r.SpanID) > 0 {
		b = jsonw.Quote(append(b, `,"span_id":`...), r.SpanID)
	}
	if len(r.ParentSpanID) > 0 {
		b = jsonw.Quote(append(b, `,"parent_span_id":`...), r.ParentSpanID)
	}
	if len(r.XRequestID0) > 0 {
		b = jsonw.Quote(append(b, `,"x_request_id_0":`...), r.XRequestID0)
	}
	if len(r.XRequestID1) > 0 {
		b = jsonw.Quote(append(b, `,"x_request_id_1":`...), r.XRequestID1)
	}
	if r.ProcessID0|r.ProcessID1|r.SyscallThread0|r.SyscallThread1 != 0 || len(r.ProcessKName0)|len(r.ProcessKName1) != 0 ||
		r.SyscallTraceIDRequest|r.SyscallTraceIDResponse|r.SyscallCoroutine0|r.SyscallCoroutine1 != 0 {
		b = r.appendEBPF(b)
	}
	b = jsonw.Tags(b, &r.Tags)
	return append(b, '}')
}

// AppendText appends r as one readable line, e.g.
//
//	HTTP 10.0.0.1:40000 > 10.0.0.2:80 GET example.com /index.html -> 200 Ok 1523us
func (r *Record) AppendText(b []byte) []byte {
	b = append(b, r.L7Protocol...)
	b = append(b, ' ')
	b = jsonw.AppendAddrPort(b, r.Client.Addr(), r.Client.Port())
	b = append(b, " > "...)
	b = jsonw.AppendAddrPort(b, r.Server.Addr(), r.Server.Port())
	if r.HasRequest {
		b = appendTextField(b, r.RequestType)
		b = appendTextField(b, r.RequestDomain)
		b = appendTextField(b, r.RequestResource)
	} else {
		b = append(b, " (no request)"...)
	}
	if r.HasResponse || r.HasStatus {
		b = append(b, " ->"...)
		if r.HasResponseCode {
			b = append(b, ' ')
			b = jsonw.AppendInt(b, int64(r.ResponseCode))
		}
		if r.HasStatus {
			b = append(b, ' ')
			b = append(b, r.Status.String()...)
		}
		b = appendTextField(b, r.ResponseException)
		b = appendTextField(b, r.ResponseResult)
	}
	if d, ok := r.ResponseDuration(); ok {
		b = append(b, ' ')
		b = jsonw.AppendInt(b, d)
		b = append(b, "us"...)
	}
	if r.ProcessID0 != 0 || r.ProcessID1 != 0 {
		// Which process saw it: [redis-cli/4242 > redis-server/4200].
		b = append(b, " ["...)
		b = appendTextProcess(b, r.ProcessKName0, r.ProcessID0)
		b = append(b, " > "...)
		b = appendTextProcess(b, r.ProcessKName1, r.ProcessID1)
		b = append(b, ']')
	}
	return b
}

// appendEBPF appends the eBPF-only keys that are set.
func (r *Record) appendEBPF(b []byte) []byte {
	if r.ProcessID0 != 0 {
		b = jsonw.Uint(b, "process_id_0", uint64(r.ProcessID0))
	}
	if r.ProcessID1 != 0 {
		b = jsonw.Uint(b, "process_id_1", uint64(r.ProcessID1))
	}
	b = jsonw.OmitEmpty(b, "process_kname_0", r.ProcessKName0)
	b = jsonw.OmitEmpty(b, "process_kname_1", r.ProcessKName1)
	if r.SyscallTraceIDRequest != 0 {
		b = jsonw.Uint(b, "syscall_trace_id_request", r.SyscallTraceIDRequest)
	}
	if r.SyscallTraceIDResponse != 0 {
		b = jsonw.Uint(b, "syscall_trace_id_response", r.SyscallTraceIDResponse)
	}
	if r.SyscallThread0 != 0 {
		b = jsonw.Uint(b, "syscall_thread_0", uint64(r.SyscallThread0))
	}
	if r.SyscallThread1 != 0 {
		b = jsonw.Uint(b, "syscall_thread_1", uint64(r.SyscallThread1))
	}
	if r.SyscallCoroutine0 != 0 {
		b = jsonw.Uint(b, "syscall_coroutine_0", r.SyscallCoroutine0)
	}
	if r.SyscallCoroutine1 != 0 {
		b = jsonw.Uint(b, "syscall_coroutine_1", r.SyscallCoroutine1)
	}
	return b
}

// appendTextProcess appends name/pid, or "-" when the side is unknown.
func appendTextProcess(b, name []byte, pid uint32) []byte {
	if pid == 0 {
		return append(b, '-')
	}
	for _, c := range name {
		if c <= 0x20 || c == 0x7f {
			c = '.'
		}
		b = append(b, c)
	}
	if len(name) > 0 {
		b = append(b, '/')
	}
	return jsonw.AppendUint(b, uint64(pid))
}

func appendTextField(b, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, ' ')
	if !hasControl(v) {
		return append(b, v...)
	}
	start := 0
	for i, c := range v {
		if c < 0x20 || c == 0x7f {
			b = append(append(b, v[start:i]...), '.')
			start = i + 1
		}
	}
	return append(b, v[start:]...)
}

// hasControl reports whether v holds a control character (below 0x20, or
// DEL): eight bytes at a time, the last eight (overlapping) at once too.
func hasControl(v []byte) bool {
	if len(v) < 8 {
		for _, c := range v {
			if c < 0x20 || c == 0x7f {
				return true
			}
		}
		return false
	}
	ctl := func(w uint64) bool {
		const lo, hi = 0x0101010101010101, 0x8080808080808080
		return ((w-0x20*lo)&^w|(w^0x7f*lo-lo)&^(w^0x7f*lo))&hi != 0
	}
	for i := 0; i+8 <= len(v); i += 8 {
		if ctl(binary.LittleEndian.Uint64(v[i:])) {
			return true
		}
	}
	return ctl(binary.LittleEndian.Uint64(v[len(v)-8:]))
}
