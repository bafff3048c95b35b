package autotrace

import (
	"encoding/json"
	"testing"
)

type otlpDoc struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []struct {
				Key   string `json:"key"`
				Value struct {
					StringValue string `json:"stringValue"`
				} `json:"value"`
			} `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Scope struct {
				Name string `json:"name"`
			} `json:"scope"`
			Spans []struct {
				TraceID      string `json:"traceId"`
				SpanID       string `json:"spanId"`
				ParentSpanID string `json:"parentSpanId"`
				Name         string `json:"name"`
				Kind         int    `json:"kind"`
				Start        string `json:"startTimeUnixNano"`
				End          string `json:"endTimeUnixNano"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

func TestTrace_AppendOTLP(t *testing.T) {
	tr := Assemble(appTrace(), Config{})
	b := tr.AppendOTLP(nil)
	var doc otlpDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	spans := map[string]string{} // span id -> parent id
	services := map[string]int{}
	kinds := map[string]int{}
	for _, rs := range doc.ResourceSpans {
		svc := rs.Resource.Attributes[0].Value.StringValue
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if s.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || !isHex(s.SpanID, 16) {
					t.Fatalf("ids %q %q", s.TraceID, s.SpanID)
				}
				if _, dup := spans[s.SpanID]; dup {
					t.Fatalf("span id %s twice", s.SpanID)
				}
				spans[s.SpanID] = s.ParentSpanID
				services[svc]++
				kinds[s.Name] = s.Kind
			}
		}
	}
	if len(spans) != len(tr.Nodes) {
		t.Fatalf("%d spans, want %d", len(spans), len(tr.Nodes))
	}
	roots := 0
	for id, p := range spans {
		if p == "" {
			roots++
			continue
		}
		if _, ok := spans[p]; !ok {
			t.Fatalf("span %s: parent %s not exported", id, p)
		}
	}
	// Application spans keep their own ids.
	if spans["a000000000000002"] != "a000000000000001" || roots != 1 {
		t.Fatalf("spans %v", spans)
	}
	if services["py"] != 1 || services["go"] != 2 || kinds["GET /api"] != otlpClient || kinds["/api"] != otlpServer {
		t.Fatalf("services %v kinds %v\n%s", services, kinds, b)
	}
}

func TestTrace_AppendOTLP_NoAppIDs(t *testing.T) {
	// Without application ids, the trace id and span ids are derived, and
	// stable.
	spans := threadServer(10, 7, 1000, t0, 3)
	a := string(Assemble(spans, Config{}).AppendOTLP(nil))
	b := string(Assemble(spans, Config{}).AppendOTLP(nil))
	if a != b || !json.Valid([]byte(a)) {
		t.Fatalf("unstable or invalid:\n%s\n%s", a, b)
	}
	var doc otlpDoc
	json.Unmarshal([]byte(a), &doc)
	s := doc.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if !isHex(s.TraceID, 32) || !isHex(s.SpanID, 16) {
		t.Fatalf("ids %q %q", s.TraceID, s.SpanID)
	}
}
