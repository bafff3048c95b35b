package autotrace

import (
	"encoding/hex"
	"hash/fnv"
	"strconv"

	"github.com/metaflow-go/metaflow/internal/jsonw"
)

// OTLP span kinds (opentelemetry.proto.trace.v1.Span.SpanKind).
const (
	otlpInternal = 1
	otlpServer   = 2
	otlpClient   = 3
)

// AppendOTLP appends t as an OTLP/JSON traces document (the body of an
// OTLP/HTTP ExportTraceServiceRequest in JSON):
// {"resourceSpans":[{"resource":{"attributes":[service.name]},
// "scopeSpans":[{"scope":{"name":"metaflow.autotrace"},"spans":[...]}]}]},
// one resourceSpans per service, in order of first appearance. Ids are
// hex: the trace id is the first 32-hex-digit trace_id of the trace's
// spans, else one derived from its first root; an application span keeps
// a 16-hex-digit span_id of its own, other spans get one derived from
// their ID. Each span carries its tap side, the rule linking it to its
// parent, and its request as attributes ("metaflow.tap_side",
// "metaflow.rule", "metaflow.call", "l7.protocol", "net.peer", ...).
func (t *Trace) AppendOTLP(b []byte) []byte {
	traceID := t.otlpTraceID()
	ids := make([]string, len(t.Nodes))
	used := make(map[string]bool, len(t.Nodes))
	for i := range t.Nodes {
		n := &t.Nodes[i]
		id := ""
		if n.TapSide.IsApp() && isHex(n.SpanID, 16) && !used[n.SpanID] {
			id = n.SpanID
		}
		for salt := uint64(0); id == "" || used[id]; salt++ {
			id = derivedID(n.ID, salt)
		}
		used[id] = true
		ids[i] = id
	}
	// Services in order of first appearance.
	var services []string
	bySvc := map[string][]int{}
	for i := range t.Nodes {
		svc := t.Nodes[i].Service()
		if _, ok := bySvc[svc]; !ok {
			services = append(services, svc)
		}
		bySvc[svc] = append(bySvc[svc], i)
	}
	b = append(b, `{"resourceSpans":[`...)
	for k, svc := range services {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"resource":{"attributes":[`...)
		b = attr(b, "service.name", svc, true)
		b = append(b, `]},"scopeSpans":[{"scope":{"name":"metaflow.autotrace"},"spans":[`...)
		for j, i := range bySvc[svc] {
			if j > 0 {
				b = append(b, ',')
			}
			b = t.appendOTLPSpan(b, i, traceID, ids)
		}
		b = append(b, `]}]}`...)
	}
	return append(b, `]}`...)
}

func (t *Trace) appendOTLPSpan(b []byte, i int, traceID string, ids []string) []byte {
	n := &t.Nodes[i]
	b = append(b, `{"traceId":"`...)
	b = append(b, traceID...)
	b = append(b, `","spanId":"`...)
	b = append(b, ids[i]...)
	b = append(b, '"')
	if n.Parent >= 0 {
		b = append(b, `,"parentSpanId":"`...)
		b = append(b, ids[n.Parent]...)
		b = append(b, '"')
	}
	b = append(b, `,"name":`...)
	b = jsonw.Quote(b, n.Label())
	kind := otlpInternal
	switch {
	case n.TapSide.order() < int(Local):
		kind = otlpClient
	case n.TapSide != App && n.TapSide.order() > int(Rest):
		kind = otlpServer
	}
	b = append(b, `,"kind":`...)
	b = strconv.AppendInt(b, int64(kind), 10)
	b = append(b, `,"startTimeUnixNano":"`...)
	b = strconv.AppendUint(b, uint64(max(n.Start, 0)), 10)
	b = append(b, `","endTimeUnixNano":"`...)
	b = strconv.AppendUint(b, uint64(max(n.End, n.Start, 0)), 10)
	b = append(b, `","attributes":[`...)
	b = attr(b, "metaflow.tap_side", first(n.TapSide.String(), "unknown"), true)
	if n.Rule != RuleNone {
		b = attr(b, "metaflow.rule", n.Rule.String(), false)
	}
	b = append(b, `,{"key":"metaflow.call","value":{"intValue":"`...)
	b = strconv.AppendInt(b, int64(n.Call), 10)
	b = append(b, `"}},{"key":"metaflow.span","value":{"intValue":"`...)
	b = strconv.AppendUint(b, n.ID, 10)
	b = append(b, `"}}`...)
	b = attr(b, "l7.protocol", n.L7Protocol, false)
	if n.Client.Addr().IsValid() {
		b = attr(b, "net.client", n.Client.String(), false)
	}
	if n.Server.Addr().IsValid() {
		b = attr(b, "net.server", n.Server.String(), false)
	}
	b = attr(b, "request.type", n.RequestType, false)
	b = attr(b, "request.domain", n.RequestDomain, false)
	b = attr(b, "request.resource", n.RequestResource, false)
	b = attr(b, "response.status", n.ResponseStatus, false)
	if n.HasResponseCode {
		b = append(b, `,{"key":"response.code","value":{"intValue":"`...)
		b = strconv.AppendInt(b, int64(n.ResponseCode), 10)
		b = append(b, `"}}`...)
	}
	b = attr(b, "x_request_id", first(n.XRequestID0, n.XRequestID1), false)
	b = append(b, ']')
	if n.ResponseStatus == "ServerError" || n.ResponseStatus == "Timeout" {
		b = append(b, `,"status":{"code":2}`...)
	}
	return append(b, '}')
}

// Label is the span's display name: an application span's own, else the
// protocol, the request type and the endpoint or resource (at most 128
// bytes of it): "HTTP GET /api", "Redis GET".
func (s *Span) Label() string {
	if s.Name != "" {
		return s.Name
	}
	what := first(s.Endpoint, s.RequestResource)
	if len(what) > 128 {
		what = what[:128]
	}
	name := first(s.L7Protocol, "unknown")
	if s.RequestType != "" {
		name += " " + s.RequestType
	}
	if what != "" {
		name += " " + what
	}
	return name
}

// attr appends one string attribute; empty values are left out.
func attr(b []byte, key, v string, firstAttr bool) []byte {
	if v == "" {
		return b
	}
	if !firstAttr {
		b = append(b, ',')
	}
	b = append(b, `{"key":`...)
	b = jsonw.Quote(b, key)
	b = append(b, `,"value":{"stringValue":`...)
	b = jsonw.Quote(b, v)
	return append(b, `}}`...)
}

// otlpTraceID is the trace's OTLP trace id.
func (t *Trace) otlpTraceID() string {
	for i := range t.Nodes {
		if id := t.Nodes[i].TraceID; isHex(id, 32) && id != "00000000000000000000000000000000" {
			return id
		}
	}
	var seed uint64
	if len(t.Nodes) > 0 {
		seed = t.Nodes[0].ID
	}
	return derivedID(seed, 1<<62) + derivedID(seed, 1<<63)
}

// derivedID returns a non-zero 16-hex-digit id from a span ID and a salt.
func derivedID(id, salt uint64) string {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(id >> (8 * i))
		b[8+i] = byte(salt >> (8 * i))
	}
	h.Write(b[:])
	v := h.Sum64()
	if v == 0 {
		v = 1
	}
	var out [8]byte
	for i := range 8 {
		out[i] = byte(v >> (56 - 8*i))
	}
	return hex.EncodeToString(out[:])
}

// isHex reports whether s is n lower-case hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
