package autotrace

import (
	"net/netip"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// TapSide is where a span was observed, with DeepFlow's names. The values
// are ordered along a call's path, from the caller's application to the
// callee's: the order in which spans of one call are chained.
type TapSide uint8

// Tap sides, in path order.
const (
	TapUnknown    TapSide = iota // "": not known (treated as Rest)
	ClientApp                    // "c-app": an application span of the caller (OTel kind client or producer)
	ClientProcess                // "c-p": the client process's socket (eBPF)
	ClientNIC                    // "c": the client's network interface (packets)
	ClientNode                   // "c-nd": the client's node (host interface)
	ClientGateway                // "c-gw": a gateway on the client's side
	Local                        // "local": client and server on one interface
	Rest                         // "rest": a capture point of unknown side
	ServerGateway                // "s-gw": a gateway on the server's side
	ServerNode                   // "s-nd": the server's node
	ServerNIC                    // "s": the server's network interface
	ServerProcess                // "s-p": the server process's socket (eBPF)
	ServerApp                    // "s-app": an application span of the callee (OTel kind server or consumer)
	App                          // "app": an application span of another kind (internal)
)

var tapNames = [...]string{
	TapUnknown: "", ClientApp: "c-app", ClientProcess: "c-p", ClientNIC: "c", ClientNode: "c-nd",
	ClientGateway: "c-gw", Local: "local", Rest: "rest", ServerGateway: "s-gw", ServerNode: "s-nd",
	ServerNIC: "s", ServerProcess: "s-p", ServerApp: "s-app", App: "app",
}

// String returns DeepFlow's name of t ("c-p", "s", ...).
func (t TapSide) String() string {
	if int(t) < len(tapNames) {
		return tapNames[t]
	}
	return "invalid"
}

// ParseTapSide returns the tap side named s; "" is TapUnknown. An unknown
// name returns ErrTapSide.
func ParseTapSide(s string) (TapSide, error) {
	for i, n := range tapNames {
		if n == s {
			return TapSide(i), nil
		}
	}
	return TapUnknown, &FieldError{Field: "tap_side", Value: s, Err: ErrTapSide}
}

// IsApp reports whether t is an application span's side (c-app, s-app,
// app).
func (t TapSide) IsApp() bool { return t == ClientApp || t == ServerApp || t == App }

// IsProcess reports whether t is an eBPF process side (c-p, s-p).
func (t TapSide) IsProcess() bool { return t == ClientProcess || t == ServerProcess }

// order is t's position on a call's path; TapUnknown counts as Rest.
func (t TapSide) order() int {
	if t == TapUnknown {
		return int(Rest)
	}
	return int(t)
}

// Span is one observation of one call: an l7_flow_log record seen at a
// tap side, or an application span. It is plain data: build it from a
// record (FromRecord, ParseRecordJSON) or fill the fields (a store's rows).
// Empty strings and zero numbers mean "not known"; association keys that
// are zero are never matched.
type Span struct {
	// ID identifies the span in its store (a record or row id). Spans with
	// the same ID are the same span (Assemble keeps one). Never 0 in a
	// store's answer.
	ID uint64
	// TapSide is where the span was observed.
	TapSide TapSide
	// Agent names the agent (host) that observed the span: syscall trace
	// ids are compared only between spans of one agent. "" is one agent.
	Agent string

	FlowID     uint64
	Start, End int64 // unix ns: request's first byte, response's first byte (or Start)

	Client, Server netip.AddrPort // ip_0:client_port, ip_1:server_port
	Transport      string         // "TCP", "UDP", "" when unknown
	L7Protocol     string

	// Request and response, for display and for conflict checks.
	RequestType, RequestDomain, RequestResource, Endpoint string
	RequestID                                             uint32 // request_id (DNS id, stream id, ...) when HasRequestID
	HasRequestID                                          bool
	ResponseStatus                                        string // "Ok", "ServerError", ...
	ResponseCode                                          int32
	HasResponseCode                                       bool

	// TCP sequence numbers of the request's and the response's first
	// byte; 0 when unknown.
	ReqTCPSeq, RespTCPSeq uint32

	// eBPF: the processes (pid, command) of each side, the syscall trace
	// ids of the calls carrying the request and the response, and their
	// threads. A client-process span fills the _0 fields, a server-process
	// span the _1 fields (see l7.Record).
	ProcessID0, ProcessID1                        uint32
	ProcessKName0, ProcessKName1                  string
	SyscallTraceIDRequest, SyscallTraceIDResponse uint64
	SyscallThread0, SyscallThread1                uint32
	// SyscallCoroutine0 and SyscallCoroutine1 are the Go goroutines of
	// those calls, when the tracer tracks them (for display: the syscall
	// trace ids already follow goroutines then).
	SyscallCoroutine0, SyscallCoroutine1 uint64

	// Ids an application propagates (W3C traceparent, B3, sw8, OTel) and
	// X-Request-ID, as RECORDS.md maps them: in a network span SpanID is
	// the caller's span (the id the request header carries).
	TraceID, SpanID, ParentSpanID string
	XRequestID0, XRequestID1      string

	// Service0 and Service1 name each side (AutoTagging's service, else
	// pod, else process); Name is an application span's operation name.
	Service0, Service1 string
	Name               string
}

// FromRecord returns the span of r with the given id. tap is where r was
// observed; TapUnknown infers it: a record with only the client's process
// (process_id_0) is c-p, with only the server's s-p, any other Rest. The
// strings are copied: r may be reused afterwards.
func FromRecord(r *l7.Record, id uint64, tap TapSide) Span {
	s := Span{
		ID: id, TapSide: tap, FlowID: r.FlowID, Start: r.StartTime, End: r.EndTime,
		Client: r.Client, Server: r.Server, L7Protocol: r.L7Protocol,
		RequestType: string(r.RequestType), RequestDomain: string(r.RequestDomain),
		RequestResource: string(r.RequestResource), Endpoint: string(r.Endpoint),
		RequestID: r.RequestID, HasRequestID: r.HasRequestID,
		ResponseCode: r.ResponseCode, HasResponseCode: r.HasResponseCode,
		ProcessID0: r.ProcessID0, ProcessID1: r.ProcessID1,
		ProcessKName0: string(r.ProcessKName0), ProcessKName1: string(r.ProcessKName1),
		SyscallTraceIDRequest: r.SyscallTraceIDRequest, SyscallTraceIDResponse: r.SyscallTraceIDResponse,
		SyscallThread0: r.SyscallThread0, SyscallThread1: r.SyscallThread1,
		SyscallCoroutine0: r.SyscallCoroutine0, SyscallCoroutine1: r.SyscallCoroutine1,
		TraceID: string(r.TraceID), SpanID: string(r.SpanID), ParentSpanID: string(r.ParentSpanID),
		XRequestID0: string(r.XRequestID0), XRequestID1: string(r.XRequestID1),
	}
	switch r.Transport {
	case l7.TCP:
		s.Transport = "TCP"
		if r.HasRequest {
			s.ReqTCPSeq = r.ReqTCPSeq
		}
		if r.HasResponse {
			s.RespTCPSeq = r.RespTCPSeq
		}
	case l7.UDP:
		s.Transport = "UDP"
	}
	if r.HasStatus {
		s.ResponseStatus = r.Status.String()
	}
	s.Service0 = serviceOf(&r.Tags, tag.Client)
	s.Service1 = serviceOf(&r.Tags, tag.Server)
	if h, ok := r.Tags.Get(tag.Client, "host"); ok && r.ProcessID0 != 0 {
		s.Agent = h
	} else if h, ok := r.Tags.Get(tag.Server, "host"); ok && r.ProcessID1 != 0 {
		s.Agent = h
	}
	if s.TapSide == TapUnknown {
		s.TapSide = InferTapSide(r.ProcessID0, r.ProcessID1)
	}
	return s
}

// InferTapSide returns the tap side of a record without one: c-p when only
// the client's process is known, s-p when only the server's, else Rest.
func InferTapSide(processID0, processID1 uint32) TapSide {
	switch {
	case processID0 != 0 && processID1 == 0:
		return ClientProcess
	case processID1 != 0 && processID0 == 0:
		return ServerProcess
	}
	return Rest
}

// serviceOf names side s by its service, pod or process tag.
func serviceOf(t *tag.Set, s tag.Side) string {
	for _, k := range [...]string{"service", "pod", "gprocess"} {
		if v, ok := t.Get(s, k); ok && v != "" {
			return v
		}
	}
	return ""
}

// Service names the service that observed or produced the span: the
// client's for the client's sides (c-app to c-gw), the server's otherwise,
// falling back to the process name, then the address, then "unknown".
func (s *Span) Service() string {
	if s.TapSide.order() < int(Local) {
		switch {
		case s.Service0 != "":
			return s.Service0
		case s.ProcessKName0 != "":
			return s.ProcessKName0
		case s.Client.Addr().IsValid():
			return s.Client.Addr().String()
		}
		return "unknown"
	}
	switch {
	case s.Service1 != "":
		return s.Service1
	case s.ProcessKName1 != "":
		return s.ProcessKName1
	case s.Server.IsValid():
		return s.Server.String()
	}
	return "unknown"
}

// process returns the pid of the process that observed a process span:
// the client's for c-p, the server's for s-p, 0 otherwise.
func (s *Span) process() uint32 {
	switch s.TapSide {
	case ClientProcess:
		return s.ProcessID0
	case ServerProcess:
		return s.ProcessID1
	}
	return 0
}
