package l7test

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Result is what frames run through the whole pipeline produced.
type Result struct {
	Records []l7.Record   // l7_flow_log records in delivery order, owned copies
	Flows   []flow.Record // l4_flow_log records in delivery order
	Stats   l7.Stats      // the engine's counters after the final flush
}

// Run runs the capture file (pcap or pcapng) at path through
// capture/decode, a flow.Table with default settings and an l7.Engine
// made from cfg (cfg.Registry is required), flushes the table, and returns
// the records. cfg.OnRecord, when set, is called first with each record
// as the engine delivers it. A capture that cannot be read, and a record
// whose response precedes its request, fail the test.
func Run(tb testing.TB, path string, cfg l7.Config) *Result {
	tb.Helper()
	r := newRunner(tb, path, cfg)
	EachPacket(tb, path, func(_ int, m *decode.Meta) { r.tab.Packet(m) })
	return r.finish()
}

// RunFrames is Run for Ethernet frames in memory (a Conversation's, say).
func RunFrames(tb testing.TB, frames []Frame, cfg l7.Config) *Result {
	tb.Helper()
	r := newRunner(tb, "frames", cfg)
	dec := decode.NewDecoder(decode.Config{})
	var m decode.Meta
	for i := range frames {
		p := frames[i].Packet()
		if dec.Decode(&p, &m) == nil {
			r.tab.Packet(&m)
		}
	}
	return r.finish()
}

// RunConversation is RunFrames for the frames of c.
func RunConversation(tb testing.TB, c *Conversation, cfg l7.Config) *Result {
	tb.Helper()
	return RunFrames(tb, c.Frames(), cfg)
}

type runner struct {
	tb  testing.TB
	res *Result
	eng *l7.Engine
	tab *flow.Table
}

func newRunner(tb testing.TB, what string, cfg l7.Config) *runner {
	tb.Helper()
	r := &runner{tb: tb, res: &Result{}}
	onRecord := cfg.OnRecord
	cfg.OnRecord = func(rec *l7.Record) {
		// A response's first byte never precedes its request's at one
		// capture point: a negative latency means a message took its
		// start from bytes of another (a body, a handshake).
		if d, ok := rec.ResponseDuration(); ok && d < 0 {
			tb.Errorf("%s: flow %d %s %s: response_duration %d µs < 0", what, rec.FlowID, rec.RequestType, rec.RequestResource, d)
		}
		if onRecord != nil {
			onRecord(rec)
		}
		r.res.Records = append(r.res.Records, *rec.Clone())
	}
	eng, err := l7.NewEngine(cfg)
	if err != nil {
		tb.Fatalf("l7test: engine: %v", err)
	}
	r.eng = eng
	r.tab = flow.NewTable(flow.Config{Handler: eng, OnRecord: func(f *flow.Record) { r.res.Flows = append(r.res.Flows, *f) }})
	return r
}

func (r *runner) finish() *Result {
	r.tab.Flush()
	r.res.Stats = r.eng.Stats()
	return r.res
}

// EachPacket reads the capture at path and calls fn with the 1-based frame
// number (as tshark counts) and the decoded metadata of every frame that
// decodes without error. m and its payload are valid only during the call.
// A capture that cannot be opened or read fails the test.
func EachPacket(tb testing.TB, path string, fn func(frame int, m *decode.Meta)) {
	tb.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		tb.Fatalf("l7test: open %s: %v", path, err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	var pkt capture.Packet
	var m decode.Meta
	for frame := 1; ; frame++ {
		if err := src.ReadPacket(&pkt); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			tb.Fatalf("l7test: read %s: %v", path, err)
		}
		if dec.Decode(&pkt, &m) == nil {
			fn(frame, &m)
		}
	}
}

// Packet is one decoded TCP or UDP packet of a capture, payload copied.
type Packet struct {
	Frame    int // 1-based, as tshark counts
	UDP      bool
	Src, Dst netip.AddrPort
	Seq      uint32 // TCP only
	Flags    uint8  // TCP flags (decode.TCPSyn, ...)
	Payload  []byte
}

// Packets returns the TCP and UDP packets of the capture at path whose
// transport header decoded, in capture order.
func Packets(tb testing.TB, path string) []Packet {
	tb.Helper()
	var out []Packet
	EachPacket(tb, path, func(frame int, m *decode.Meta) {
		if !m.L4Decoded || (m.Proto != decode.ProtoUDP && m.Proto != decode.ProtoTCP) {
			return
		}
		out = append(out, Packet{
			Frame: frame, UDP: m.Proto == decode.ProtoUDP,
			Src: netip.AddrPortFrom(m.Src, m.SrcPort), Dst: netip.AddrPortFrom(m.Dst, m.DstPort),
			Seq: m.Seq, Flags: m.TCPFlags, Payload: slices.Clone(m.Payload),
		})
	})
	return out
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
