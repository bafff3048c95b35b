package tls

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestPipeline runs the recorded capture through decode, the flow table
// and the engine: one record per hello exchange or alert, all with
// is_tls, and every flow's l4 record says TLS.
func TestPipeline(t *testing.T) {
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := l7test.Run(t, "testdata/tls.pcap", l7.Config{Registry: reg})
	var pairs, lone, alerts int
	for _, r := range p.Records {
		if !r.IsTLS || r.L7Protocol != Name {
			t.Errorf("record %s is_tls %v", r.L7Protocol, r.IsTLS)
		}
		switch {
		case r.HasRequest && r.HasResponse:
			pairs++
			if string(r.RequestType) != "ClientHello" || string(r.RequestDomain) != "tls.test" {
				t.Errorf("request fields %q %q", r.RequestType, r.RequestDomain)
			}
			if d, _ := r.ResponseDuration(); d <= 0 {
				t.Errorf("handshake time %d µs", d)
			}
		case r.HasResponse:
			lone++
		}
		if r.HasResponseCode {
			alerts++
		}
	}
	// 6 connections, one with a HelloRetryRequest: 7 exchanges, of which
	// one ends in the server's alert; the client's rejection of the
	// certificate is a lone alert.
	if pairs != 7 || lone != 1 || alerts != 2 || len(p.Records) != 8 {
		t.Errorf("%d records: %d pairs, %d lone, %d alerts; want 8, 7, 1, 2", len(p.Records), pairs, lone, alerts)
	}
	if len(p.Flows) != 6 {
		t.Errorf("%d flows, want 6", len(p.Flows))
	}
	for _, f := range p.Flows {
		if f.L7Protocol != Name {
			t.Errorf("flow %d: l7_protocol %q", f.FlowID, f.L7Protocol)
		}
	}
	if p.Stats.ParseErrors != 0 {
		t.Errorf("%d parse errors", p.Stats.ParseErrors)
	}
}
