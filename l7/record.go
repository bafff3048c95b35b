package l7

import (
	"encoding/binary"
	"net/netip"
	"slices"

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
//
// It grows b once, to a bound of the line's length, and writes the line's
// pieces at offsets (jsonw's PutX); it may use a few bytes of b's capacity
// past the line as scratch. It does not allocate beyond growing b.
func (r *Record) AppendText(b []byte) []byte {
	client, server := r.Client.Addr(), r.Server.Addr()
	size := textMax + len(r.L7Protocol) + zoneLen(client) + zoneLen(server)
	if r.HasRequest {
		size += len(r.RequestType) + len(r.RequestDomain) + len(r.RequestResource)
	}
	if r.HasResponse || r.HasStatus {
		size += len(r.ResponseException) + len(r.ResponseResult)
	}
	eBPF := r.ProcessID0 != 0 || r.ProcessID1 != 0
	if eBPF {
		size += len(r.ProcessKName0) + len(r.ProcessKName1)
	}
	n := len(b)
	b = slices.Grow(b, size)
	b = b[:cap(b)]
	n = jsonw.PutString(b, n, r.L7Protocol)
	b[n] = ' '
	n = jsonw.PutAddrPort(b, n+1, client, r.Client.Port())
	n = jsonw.PutWord(b, n, wTo)
	n = jsonw.PutAddrPort(b, n, server, r.Server.Port())
	if r.HasRequest {
		if len(r.RequestType) > 0 {
			n = putTextField(b, n, r.RequestType)
		}
		if len(r.RequestDomain) > 0 {
			n = putTextField(b, n, r.RequestDomain)
		}
		if len(r.RequestResource) > 0 {
			n = putTextField(b, n, r.RequestResource)
		}
	} else {
		n = jsonw.PutString(b, n, " (no request)")
	}
	if r.HasResponse || r.HasStatus {
		n = jsonw.PutWord(b, n, wArrow)
		if r.HasResponseCode {
			b[n] = ' '
			n = jsonw.PutInt(b, n+1, int64(r.ResponseCode))
		}
		if r.HasStatus {
			if int(r.Status) < len(statusWords) {
				n = jsonw.PutWords(b, n, &statusWords[r.Status])
			} else {
				b[n] = ' '
				n = jsonw.PutString(b, n+1, r.Status.String())
			}
		}
		if len(r.ResponseException) > 0 {
			n = putTextField(b, n, r.ResponseException)
		}
		if len(r.ResponseResult) > 0 {
			n = putTextField(b, n, r.ResponseResult)
		}
	}
	if d, ok := r.ResponseDuration(); ok {
		b[n] = ' '
		n = jsonw.PutInt(b, n+1, d)
		n = jsonw.PutWord(b, n, wUs)
	}
	if eBPF {
		// Which process saw it: [redis-cli/4242 > redis-server/4200].
		n = jsonw.PutWord(b, n, wOpen)
		n = putTextProcess(b, n, r.ProcessKName0, r.ProcessID0)
		n = jsonw.PutWord(b, n, wTo)
		n = putTextProcess(b, n, r.ProcessKName1, r.ProcessID1)
		b[n] = ']'
		n++
	}
	return b[:n]
}

// The constant pieces of a text line.
var (
	wTo    = jsonw.MakeWord(" > ")
	wArrow = jsonw.MakeWord(" ->")
	wUs    = jsonw.MakeWord("us")
	wOpen  = jsonw.MakeWord(" [")
)

// statusWords holds " <status>" of the first statuses.
var statusWords = func() []jsonw.Words {
	var t []jsonw.Words
	for s := range 16 {
		w, ok := jsonw.MakeWords(" " + Status(s).String())
		if !ok {
			break
		}
		t = append(t, w)
	}
	return t
}()

// textMax bounds a text line's length, less its strings (protocol,
// fields, process names, address zones), plus jsonw.PutSlack.
const textMax = len(" ") + 2*jsonw.MaxAddrPortLen + len(" > ") + len(" (no request)") +
	len(" ->") + len(" -2147483648") + len("     ") + // a space before each field
	24 + // the status (jsonw.Words)
	len(" ") + jsonw.MaxIntLen + len("us") +
	len(" [/4294967295 > /4294967295]") + jsonw.PutSlack

// zoneLen returns the length of a's IPv6 zone.
func zoneLen(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return len(a.Zone())
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

// putTextProcess writes name/pid, or "-" when the side is unknown; bytes
// of name up to ' ' and DEL are written as '.'.
func putTextProcess(b []byte, n int, name []byte, pid uint32) int {
	if pid == 0 {
		b[n] = '-'
		return n + 1
	}
	if len(name) > 0 {
		t := b[n : n+len(name)]
		copy(t, name)
		for i, c := range t {
			if c <= 0x20 || c == 0x7f {
				t[i] = '.'
			}
		}
		n += len(name)
		b[n] = '/'
		n++
	}
	return jsonw.PutUint(b, n, uint64(pid))
}

// putTextField writes ' ' and v with its control bytes (below 0x20, and
// DEL) as '.', or nothing when v is empty (which callers check first, to
// spare the call). Up to 16 bytes, v is copied and checked as two
// overlapping words (of 8, 4 or 1 bytes: how memmove copies short
// strings, without its call); a longer v is copied whole and checked 16
// bytes at a time.
func putTextField(b []byte, n int, v []byte) int {
	if len(v) == 0 {
		return n
	}
	b[n] = ' '
	n++
	t := b[n : n+len(v)]
	var ctl uint64
	switch l := len(v); {
	case l > 16:
		copy(t, v)
		ctl = control16(v)
	case l >= 8:
		w0, w1 := binary.LittleEndian.Uint64(v), binary.LittleEndian.Uint64(v[l-8:])
		binary.LittleEndian.PutUint64(t, w0)
		binary.LittleEndian.PutUint64(t[l-8:], w1)
		ctl = control8(w0) | control8(w1)
	case l >= 4:
		w0, w1 := binary.LittleEndian.Uint32(v), binary.LittleEndian.Uint32(v[l-4:])
		binary.LittleEndian.PutUint32(t, w0)
		binary.LittleEndian.PutUint32(t[l-4:], w1)
		ctl = control8(uint64(w0) | uint64(w1)<<32)
	default:
		c0, c1, c2 := v[0], v[l/2], v[l-1]
		t[0], t[l/2], t[l-1] = c0, c1, c2
		ctl = control8(uint64(c0) | uint64(c1)<<8 | uint64(c2)<<16 | 0x41414141_41000000) // 'A's above
	}
	if ctl&hiBits != 0 {
		for i, c := range t {
			if c < 0x20 || c == 0x7f {
				t[i] = '.'
			}
		}
	}
	return n + len(v)
}

// hiBits has the high bit of each byte set.
const hiBits = 0x8080808080808080

// control8 returns a word whose bytes' high bits (hiBits) are not all
// zero when one of w's bytes is a control byte (below 0x20, or DEL): the
// has-less-than and has-zero-byte word tests, their high bits only
// meaningful. Which bytes it flags is not exact past the first, so the
// caller checks them one by one.
func control8(w uint64) uint64 {
	const lo = 0x0101010101010101
	x := w ^ 0x7f*lo
	return (w-0x20*lo)&^w | (x-lo)&^x
}

// control16 is control8 of all of v, which has more than 16 bytes: two
// words at a time, the last 16 bytes (overlapping) at once too.
func control16(v []byte) uint64 {
	var c uint64
	for u := v; len(u) >= 16; u = u[16:] {
		c |= control8(binary.LittleEndian.Uint64(u)) | control8(binary.LittleEndian.Uint64(u[8:16]))
	}
	tail := v[len(v)-16:]
	return c | control8(binary.LittleEndian.Uint64(tail)) | control8(binary.LittleEndian.Uint64(tail[8:16]))
}
