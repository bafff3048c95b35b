package autotrace

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// otlpRequest is an OTLP/JSON ExportTraceServiceRequest, the parts read.
type otlpRequest struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []otlpAttr `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []struct {
				TraceID      string     `json:"traceId"`
				SpanID       string     `json:"spanId"`
				ParentSpanID string     `json:"parentSpanId"`
				Name         string     `json:"name"`
				Kind         int        `json:"kind"`
				Start        jsonInt    `json:"startTimeUnixNano"`
				End          jsonInt    `json:"endTimeUnixNano"`
				Attributes   []otlpAttr `json:"attributes"`
				Status       struct {
					Code int `json:"code"`
				} `json:"status"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpAttr struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string `json:"stringValue"`
		IntValue    jsonInt `json:"intValue"`
	} `json:"value"`
}

// jsonInt is an OTLP/JSON 64-bit integer: a string of digits, or a number.
type jsonInt int64

func (j *jsonInt) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return err
	}
	*j = jsonInt(v)
	return nil
}

// ParseOTLPJSON reads one OTLP/JSON ExportTraceServiceRequest (the body
// of an OTLP/HTTP JSON export) into application spans, numbered from
// firstID. Kinds map to tap sides as DeepFlow's: SERVER and CONSUMER
// s-app, CLIENT and PRODUCER c-app, others app. The semantic conventions'
// socket attributes (network.local.address / .port and
// network.peer.address / .port, or the older net.sock.host.addr /
// net.sock.peer.addr and ports) give the span's client and server: the
// peer is the client of a server span, the server of a client span. The
// resource's service.name names the span's side. Errors wrap ErrRecord.
func ParseOTLPJSON(b []byte, firstID uint64) ([]Span, error) {
	var req otlpRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("%w: OTLP JSON: %v", ErrRecord, err)
	}
	var out []Span
	id := firstID
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" && a.Value.StringValue != nil {
				service = *a.Value.StringValue
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s := Span{ID: id, TraceID: sp.TraceID, SpanID: sp.SpanID, ParentSpanID: sp.ParentSpanID,
					Name: sp.Name, Start: int64(sp.Start), End: int64(sp.End), TapSide: App}
				id++
				var local, peer netip.Addr
				var localPort, peerPort uint16
				for _, a := range sp.Attributes {
					str := ""
					if a.Value.StringValue != nil {
						str = *a.Value.StringValue
					}
					port := uint16(0)
					if a.Value.IntValue > 0 && a.Value.IntValue < 65536 {
						port = uint16(a.Value.IntValue)
					}
					switch a.Key {
					case "network.local.address", "net.sock.host.addr":
						local, _ = netip.ParseAddr(str)
					case "network.peer.address", "net.sock.peer.addr":
						peer, _ = netip.ParseAddr(str)
					case "network.local.port", "net.sock.host.port":
						localPort = port
					case "network.peer.port", "net.sock.peer.port":
						peerPort = port
					case "db.system":
						s.L7Protocol = dbProtocol(str)
					case "http.request.method", "http.method":
						s.RequestType = str
						if s.L7Protocol == "" {
							s.L7Protocol = "HTTP"
						}
					case "url.path", "http.target":
						s.Endpoint = str
					case "db.statement":
						s.RequestResource = str
					}
				}
				lo, pe := netip.AddrPortFrom(local, localPort), netip.AddrPortFrom(peer, peerPort)
				switch sp.Kind {
				case 2, 5: // SERVER, CONSUMER
					s.TapSide, s.Client, s.Server, s.Service1 = ServerApp, pe, lo, service
				case 3, 4: // CLIENT, PRODUCER
					s.TapSide, s.Client, s.Server, s.Service0 = ClientApp, lo, pe, service
				default:
					s.Service1 = service
				}
				if sp.Status.Code == 2 {
					s.ResponseStatus = "ServerError"
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func dbProtocol(system string) string {
	switch system {
	case "redis":
		return "Redis"
	case "mysql", "mariadb":
		return "MySQL"
	case "kafka":
		return "Kafka"
	}
	return ""
}

// ReadOTLPJSON reads OTLP/JSON export requests, one a line (blank lines
// skipped), into spans numbered from firstID. An unreadable line stops the
// read with an error naming it.
func ReadOTLPJSON(r io.Reader, firstID uint64) ([]Span, error) {
	var out []Span
	id := firstID
	err := eachLine(r, func(b []byte) error {
		spans, err := ParseOTLPJSON(b, id)
		if err != nil {
			return err
		}
		id += uint64(len(spans))
		out = append(out, spans...)
		return nil
	})
	return out, err
}
