package trace

import (
	"testing"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Kind
	}{
		{"traceparent", Traceparent}, {"TraceParent", Traceparent}, {"sw8", SW8}, {"SW8", SW8},
		{"b3", B3}, {"X-B3-TraceId", B3TraceID}, {"x-b3-spanid", B3SpanID},
		{"X-B3-ParentSpanId", B3ParentSpanID}, {"X-Request-ID", XRequestID}, {"x-request-id", XRequestID},
		{"sw6", None}, {"", None}, {"tracestate", None},
	} {
		if got := KindOf([]byte(tc.name)); got != tc.want {
			t.Errorf("KindOf(%q) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	var b Buf
	for _, tc := range []struct {
		name, v                string
		kind                   Kind
		ok                     bool
		trace, span, parentSpn string
	}{
		{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Traceparent, true,
			"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", ""},
		{"traceparent short id", "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", Traceparent, false, "", "", ""},
		{"traceparent not hex", "00-0af7651916cd43dd8448eb211c80319x-b7ad6b7169203331-01", Traceparent, false, "", "", ""},
		{"traceparent 3 fields", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", Traceparent, false, "", "", ""},
		// sw8 from the SkyWalking cross-process propagation protocol v3
		// document: trace id "1.2.3", segment id "a.b.c", span id 3.
		{"sw8", "1-MS4yLjM=-YS5iLmM=-3-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-MTI3LjAuMC4xOjgwODA=", SW8, true, "1.2.3", "a.b.c-3", ""},
		{"sw8 bad span", "1-MS4yLjM=-YS5iLmM=-x-c2VydmljZQ==", SW8, true, "1.2.3", "", ""},
		{"sw8 bad trace", "1-!!!-YS5iLmM=-3", SW8, false, "", "", ""},
		{"sw8 few fields", "1-MS4yLjM=", SW8, false, "", "", ""},
		{"b3 full", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", B3, true,
			"80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", "05e3ac9a4f6e3b90"},
		{"b3 64-bit trace", "a3ce929d0e0e4736-00f067aa0ba902b7", B3, true, "a3ce929d0e0e4736", "00f067aa0ba902b7", ""},
		{"b3 deny", "0", B3, false, "", "", ""},
		{"b3 bad span", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd", B3, false, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids IDs
			var ok bool
			switch tc.kind {
			case Traceparent:
				ids, ok = ParseTraceparent([]byte(tc.v))
			case SW8:
				ids, ok = ParseSW8([]byte(tc.v), &b)
			case B3:
				ids, ok = ParseB3([]byte(tc.v))
			}
			if ok != tc.ok || string(ids.TraceID) != tc.trace || string(ids.SpanID) != tc.span || string(ids.ParentSpanID) != tc.parentSpn {
				t.Errorf("got %q %q %q %v, want %q %q %q %v", ids.TraceID, ids.SpanID, ids.ParentSpanID, ok,
					tc.trace, tc.span, tc.parentSpn, tc.ok)
			}
		})
	}
}

func TestParse_Allocs(t *testing.T) {
	var b Buf
	tp := []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	sw := []byte("1-MS4yLjM=-YS5iLmM=-3-c2VydmljZQ==")
	b3 := []byte("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
	if a := testing.AllocsPerRun(100, func() {
		ParseTraceparent(tp)
		ParseSW8(sw, &b)
		ParseB3(b3)
		KindOf([]byte("X-B3-ParentSpanId"))
	}); a != 0 {
		t.Errorf("%v allocations", a)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("1-MS4yLjM=-YS5iLmM=-3-c2VydmljZQ=="))
	f.Add([]byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	f.Fuzz(func(t *testing.T, v []byte) {
		var b Buf
		ParseTraceparent(v)
		ParseSW8(v, &b)
		ParseB3(v)
		KindOf(v)
	})
}
