package l7test

import (
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Pipeline is what a capture run through the whole pipeline produced.
type Pipeline struct {
	Records []l7.Record   // l7_flow_log records in delivery order, byte fields copied
	Flows   []flow.Record // l4 records in delivery order
	Stats   l7.Stats      // the engine's counters after the final flush
}

// Run runs the capture at path through decode, a flow.Table with default
// settings and an l7.Engine made from cfg (cfg.Registry is required; pass
// builtin.Registry() for the built-in decoders), flushes the table, and
// returns the records. cfg.OnRecord, when set, is called first with each
// record as the engine delivers it. A record whose response precedes its
// request fails the test.
func Run(tb testing.TB, path string, cfg l7.Config) *Pipeline {
	tb.Helper()
	p := &Pipeline{}
	onRecord := cfg.OnRecord
	cfg.OnRecord = func(r *l7.Record) {
		// A response's first byte never precedes its request's at one
		// capture point: a negative latency means a message took its
		// start from bytes of another (a body, a handshake).
		if d, ok := r.ResponseDuration(); ok && d < 0 {
			tb.Errorf("%s: flow %d %s %s: response_duration %d µs < 0", path, r.FlowID, r.RequestType, r.RequestResource, d)
		}
		if onRecord != nil {
			onRecord(r)
		}
		p.Records = append(p.Records, CloneRecord(r))
	}
	eng, err := l7.NewEngine(cfg)
	if err != nil {
		tb.Fatalf("engine: %v", err)
	}
	tab := flow.NewTable(flow.Config{Handler: eng, OnRecord: func(r *flow.Record) { p.Flows = append(p.Flows, *r) }})
	EachPacket(tb, path, func(_ int, m *decode.Meta) { tab.Packet(m) })
	tab.Flush()
	p.Stats = eng.Stats()
	return p
}

// CloneRecord returns a copy of r whose byte fields do not alias r's.
func CloneRecord(r *l7.Record) l7.Record {
	c := *r
	for _, f := range []*[]byte{&c.Version, &c.RequestType, &c.RequestDomain, &c.RequestResource, &c.Endpoint,
		&c.ResponseException, &c.ResponseResult, &c.TraceID, &c.SpanID, &c.ParentSpanID,
		&c.XRequestID0, &c.XRequestID1, &c.UserAgent} {
		*f = slices.Clone(*f)
	}
	return c
}

// CloneMessage returns a copy of m whose byte fields do not alias m's.
func CloneMessage(m *l7.Message) l7.Message {
	c := *m
	for _, f := range []*[]byte{&c.Version, &c.RequestType, &c.RequestDomain, &c.RequestResource,
		&c.Endpoint, &c.Exception, &c.Result, &c.TraceID, &c.SpanID, &c.ParentSpanID,
		&c.XRequestID, &c.UserAgent} {
		*f = slices.Clone(*f)
	}
	return c
}
