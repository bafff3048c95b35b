package autotrace

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/tag"
)

// recordJSON holds the keys of an l7_flow_log JSON line that Span does not
// need but an l7.Record has.
type recordJSON struct {
	jsonRecord
	Version        string  `json:"version"`
	IsTLS          bool    `json:"is_tls"`
	RequestLength  int     `json:"request_length"`
	ResponseLength int     `json:"response_length"`
	CapturedReq    *uint32 `json:"captured_request_byte"`
	CapturedResp   *uint32 `json:"captured_response_byte"`
	Exception      string  `json:"response_exception"`
	Result         string  `json:"response_result"`
	UserAgent      string  `json:"user_agent"`
}

// tagKeys are the RECORDS.md tag keys RecordJSON reads as "<key>_0" and
// "<key>_1".
var tagKeys = []string{
	"region", "az", "host", "chost", "l3_epc", "subnet", "natgw", "lb", "pod_cluster", "pod_node",
	"pod_ns", "pod_group", "pod", "service", "ingress", "gprocess", "container_id",
}

var statusNames = map[string]l7.Status{
	"Ok": l7.StatusOk, "ClientError": l7.StatusClientError, "ServerError": l7.StatusServerError,
	"Timeout": l7.StatusTimeout, "Unknown": l7.StatusUnknown, "ParseFailed": l7.StatusParseFailed,
}

// RecordJSON reads one l7_flow_log record as examples/agent -o json prints
// it (RECORDS.md keys) into r, to send recorded records as an agent would
// (encoding.Encoder.AddL7): the byte fields are new slices, the tags of
// the RECORDS.md keys ("pod_0", "service_1", ...) go to r.Tags. The JSON
// has no has_request / has_response: a record has a request when it has
// captured_request_byte, a response when it has captured_response_byte,
// as the agent writes them. It returns the capture point and tap side a
// recording stamped ("tap", "tap_side"; "" when absent). Errors: ErrNotL7
// for another record type, a *FieldError (a time, address, status or tap
// side that does not parse) or an error wrapping ErrRecord.
func RecordJSON(line []byte, r *l7.Record) (tap, tapSide string, err error) {
	var j recordJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if j.Type != "l7_flow_log" {
		return "", "", ErrNotL7
	}
	if _, err := ParseTapSide(j.TapSide); err != nil {
		return "", "", err
	}
	tags := r.Tags
	tags.Reset()
	*r = l7.Record{Tags: tags, FlowID: j.FlowID, L7Protocol: j.L7Protocol, IsTLS: j.IsTLS,
		ReqTCPSeq: j.ReqTCPSeq, RespTCPSeq: j.RespTCPSeq, RequestLength: j.RequestLength, ResponseLength: j.ResponseLength,
		ProcessID0: j.PID0, ProcessID1: j.PID1, SyscallTraceIDRequest: j.SysReq, SyscallTraceIDResponse: j.SysResp,
		SyscallThread0: j.Thread0, SyscallThread1: j.Thread1, SyscallCoroutine0: j.Coroutine0, SyscallCoroutine1: j.Coroutine1}
	if r.StartTime, err = parseTime("start_time", j.StartTime); err != nil {
		return "", "", err
	}
	if r.EndTime, err = parseTime("end_time", j.EndTime); err != nil {
		return "", "", err
	}
	var a netip.AddrPort
	if a, err = addrPort("ip_0", j.IP0, j.ClientPort); err != nil {
		return "", "", err
	}
	r.Client = a
	if a, err = addrPort("ip_1", j.IP1, j.ServerPort); err != nil {
		return "", "", err
	}
	r.Server = a
	switch j.Protocol {
	case "TCP":
		r.Transport = l7.TCP
	case "UDP":
		r.Transport = l7.UDP
	case "":
	default:
		return "", "", &FieldError{Field: "protocol", Value: j.Protocol, Err: ErrRecord}
	}
	if j.CapturedReq != nil {
		r.HasRequest, r.CapturedRequestByte = true, *j.CapturedReq
	}
	if j.CapturedResp != nil {
		r.HasResponse, r.CapturedResponseByte = true, *j.CapturedResp
	}
	if j.RequestID != nil {
		r.RequestID, r.HasRequestID = *j.RequestID, true
	}
	if j.Status != "" {
		st, ok := statusNames[j.Status]
		if !ok {
			return "", "", &FieldError{Field: "response_status", Value: j.Status, Err: ErrRecord}
		}
		r.Status, r.HasStatus = st, true
	}
	if j.Code != nil {
		r.ResponseCode, r.HasResponseCode = *j.Code, true
	}
	for _, f := range []struct {
		dst *[]byte
		v   string
	}{
		{&r.Version, j.Version}, {&r.RequestType, j.RequestType}, {&r.RequestDomain, j.RequestDomain},
		{&r.RequestResource, j.Resource}, {&r.Endpoint, j.Endpoint}, {&r.ResponseException, j.Exception},
		{&r.ResponseResult, j.Result}, {&r.TraceID, j.TraceID}, {&r.SpanID, j.SpanID}, {&r.ParentSpanID, j.ParentSpanID},
		{&r.XRequestID0, j.XReq0}, {&r.XRequestID1, j.XReq1}, {&r.UserAgent, j.UserAgent},
		{&r.ProcessKName0, j.KName0}, {&r.ProcessKName1, j.KName1},
	} {
		if f.v != "" {
			*f.dst = []byte(f.v)
		}
	}
	// Tags: only when the line may hold some ("_0" or "_1" keys beyond
	// the record's own).
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrRecord, err)
	}
	for _, k := range tagKeys {
		for side, sfx := range [2]string{"_0", "_1"} {
			raw, ok := m[k+sfx]
			if !ok {
				continue
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", "", &FieldError{Field: k + sfx, Value: string(raw), Err: ErrRecord}
			}
			if v != "" {
				r.Tags.Set(tag.Side(side), k, v)
			}
		}
	}
	return j.Tap, j.TapSide, nil
}
