package autotrace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// jsonRecord is an l7_flow_log JSON record (RECORDS.md keys), plus
// tap_side and the tags that name services and agents.
type jsonRecord struct {
	Type          string  `json:"type"`
	FlowID        uint64  `json:"flow_id"`
	StartTime     string  `json:"start_time"`
	EndTime       string  `json:"end_time"`
	IP0           string  `json:"ip_0"`
	IP1           string  `json:"ip_1"`
	ClientPort    uint16  `json:"client_port"`
	ServerPort    uint16  `json:"server_port"`
	Protocol      string  `json:"protocol"`
	L7Protocol    string  `json:"l7_protocol"`
	ReqTCPSeq     uint32  `json:"req_tcp_seq"`
	RespTCPSeq    uint32  `json:"resp_tcp_seq"`
	RequestType   string  `json:"request_type"`
	RequestDomain string  `json:"request_domain"`
	Resource      string  `json:"request_resource"`
	Endpoint      string  `json:"endpoint"`
	RequestID     *uint32 `json:"request_id"`
	Status        string  `json:"response_status"`
	Code          *int32  `json:"response_code"`
	TraceID       string  `json:"trace_id"`
	SpanID        string  `json:"span_id"`
	ParentSpanID  string  `json:"parent_span_id"`
	XReq0         string  `json:"x_request_id_0"`
	XReq1         string  `json:"x_request_id_1"`
	PID0          uint32  `json:"process_id_0"`
	PID1          uint32  `json:"process_id_1"`
	KName0        string  `json:"process_kname_0"`
	KName1        string  `json:"process_kname_1"`
	SysReq        uint64  `json:"syscall_trace_id_request"`
	SysResp       uint64  `json:"syscall_trace_id_response"`
	Thread0       uint32  `json:"syscall_thread_0"`
	Thread1       uint32  `json:"syscall_thread_1"`
	Coroutine0    uint64  `json:"syscall_coroutine_0"`
	Coroutine1    uint64  `json:"syscall_coroutine_1"`
	TapSide       string  `json:"tap_side"`
	Service0      string  `json:"service_0"`
	Service1      string  `json:"service_1"`
	Pod0          string  `json:"pod_0"`
	Pod1          string  `json:"pod_1"`
	Host0         string  `json:"host_0"`
	Host1         string  `json:"host_1"`
	Name          string  `json:"name"`
	Tap           string  `json:"tap"`
}

// ParseRecordJSON reads one l7_flow_log record as examples/agent -o json
// prints it (RECORDS.md keys; "tap_side" when present, else inferred as
// FromRecord does; service_0/1 or pod_0/1 name the sides, host_0/1, else
// "tap" (the capture point a recording stamped), the agent of a process
// span) into a span with the given id. A record of
// another type returns ErrNotL7; a record that cannot be read a
// *FieldError or an error wrapping ErrRecord.
func ParseRecordJSON(line []byte, id uint64) (Span, error) {
	var r jsonRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return Span{}, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if r.Type != "l7_flow_log" {
		return Span{}, ErrNotL7
	}
	s := Span{
		ID: id, FlowID: r.FlowID, L7Protocol: r.L7Protocol, Transport: r.Protocol,
		ReqTCPSeq: r.ReqTCPSeq, RespTCPSeq: r.RespTCPSeq,
		RequestType: r.RequestType, RequestDomain: r.RequestDomain, RequestResource: r.Resource,
		Endpoint: r.Endpoint, ResponseStatus: r.Status,
		TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID,
		XRequestID0: r.XReq0, XRequestID1: r.XReq1,
		ProcessID0: r.PID0, ProcessID1: r.PID1, ProcessKName0: r.KName0, ProcessKName1: r.KName1,
		SyscallTraceIDRequest: r.SysReq, SyscallTraceIDResponse: r.SysResp,
		SyscallThread0: r.Thread0, SyscallThread1: r.Thread1,
		SyscallCoroutine0: r.Coroutine0, SyscallCoroutine1: r.Coroutine1,
		Service0: first(r.Service0, r.Pod0), Service1: first(r.Service1, r.Pod1), Name: r.Name,
	}
	if r.RequestID != nil {
		s.RequestID, s.HasRequestID = *r.RequestID, true
	}
	if r.Code != nil {
		s.ResponseCode, s.HasResponseCode = *r.Code, true
	}
	var err error
	if s.Start, err = parseTime("start_time", r.StartTime); err != nil {
		return Span{}, err
	}
	if s.End, err = parseTime("end_time", r.EndTime); err != nil {
		return Span{}, err
	}
	if s.Client, err = addrPort("ip_0", r.IP0, r.ClientPort); err != nil {
		return Span{}, err
	}
	if s.Server, err = addrPort("ip_1", r.IP1, r.ServerPort); err != nil {
		return Span{}, err
	}
	if s.TapSide, err = ParseTapSide(r.TapSide); err != nil {
		return Span{}, err
	}
	if s.TapSide == TapUnknown {
		s.TapSide = InferTapSide(s.ProcessID0, s.ProcessID1)
	}
	switch s.TapSide {
	case ClientProcess:
		s.Agent = first(r.Host0, r.Tap)
	case ServerProcess:
		s.Agent = first(r.Host1, r.Tap)
	}
	return s, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func parseTime(field, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, &FieldError{Field: field, Value: v, Err: ErrRecord}
	}
	return t.UnixNano(), nil
}

func addrPort(field, ip string, port uint16) (netip.AddrPort, error) {
	if ip == "" {
		return netip.AddrPortFrom(netip.Addr{}, port), nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.AddrPort{}, &FieldError{Field: field, Value: ip, Err: ErrRecord}
	}
	return netip.AddrPortFrom(a, port), nil
}

// ReadRecords reads JSON lines (one record a line) and returns the spans
// of the l7_flow_log records, skipping other record types and blank
// lines. Spans get the ids firstID, firstID+1, ... in line order. An unreadable line stops the read
// with an error naming its line number.
func ReadRecords(r io.Reader, firstID uint64) ([]Span, error) {
	var out []Span
	id := firstID
	err := eachLine(r, func(b []byte) error {
		s, err := ParseRecordJSON(b, id)
		if err == ErrNotL7 {
			return nil
		}
		if err != nil {
			return err
		}
		id++
		out = append(out, s)
		return nil
	})
	return out, err
}

// eachLine calls fn with each non-blank line of r (trimmed, up to 16 MiB).
// An error from fn stops the read and is returned naming the line number.
func eachLine(r io.Reader, fn func(b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(b); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return sc.Err()
}
