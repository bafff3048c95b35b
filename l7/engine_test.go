package l7_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/l7"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:7000")
)

const ms = int64(time.Millisecond)

// rec is a copy of the fields of a Record that tests compare.
type rec struct {
	flow       uint64
	client     netip.AddrPort
	req, res   string
	status     string
	durUs      int64
	hasDur     bool
	reqSeq     uint32
	respSeq    uint32
	capReq     uint32
	start, end int64
}

func capRec(r *l7.Record) rec {
	out := rec{flow: r.FlowID, client: r.Client, reqSeq: r.ReqTCPSeq, respSeq: r.RespTCPSeq, capReq: r.CapturedRequestByte, start: r.StartTime, end: r.EndTime}
	if r.HasRequest {
		out.req = strings.TrimSpace(string(r.RequestType) + " " + string(r.RequestResource))
	}
	if r.HasResponse {
		out.res = string(r.ResponseResult) + string(r.ResponseException)
	}
	if r.HasStatus {
		out.status = r.Status.String()
	}
	out.durUs, out.hasDur = r.ResponseDuration()
	return out
}

type harness struct {
	t    *testing.T
	eng  *l7.Engine
	recs []rec
}

func newHarness(t *testing.T, cfg l7.Config, decs ...l7.Decoder) *harness {
	t.Helper()
	if len(decs) == 0 {
		decs = []l7.Decoder{lineDecoder{}}
	}
	reg, err := l7.NewRegistry(decs...)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	h := &harness{t: t}
	cfg.Registry = reg
	cfg.OnRecord = func(r *l7.Record) { h.recs = append(h.recs, capRec(r)) }
	h.eng, err = l7.NewEngine(cfg)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return h
}

func (h *harness) open(id uint64) *l7.Conn {
	return h.eng.Open(l7.ConnInfo{ID: id, Client: cli, Server: srv, Transport: l7.TCP}, 0)
}

func (h *harness) summary() []string {
	var s []string
	for _, r := range h.recs {
		line := r.req + "|" + r.res + "|" + r.status
		s = append(s, line)
	}
	return s
}

func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.summary()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewRegistry(t *testing.T) {
	if _, err := l7.NewRegistry(lineDecoder{}, nil); !errors.Is(err, l7.ErrNilDecoder) {
		t.Errorf("nil decoder: err %v, want ErrNilDecoder", err)
	}
	if _, err := l7.NewRegistry(lineDecoder{}, lineDecoder{}); !errors.Is(err, l7.ErrDuplicateDecoder) {
		t.Errorf("duplicate: err %v, want ErrDuplicateDecoder", err)
	}
	reg, err := l7.NewRegistry(lineDecoder{}, namedDecoder{"OTHER"})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := reg.Lookup("OTHER"); !ok || d.Name() != "OTHER" {
		t.Errorf("Lookup(OTHER) = %v, %v", d, ok)
	}
	if _, err := l7.NewEngine(l7.Config{}); !errors.Is(err, l7.ErrNoRegistry) {
		t.Errorf("NewEngine without registry: err %v", err)
	}
	if _, err := l7.NewEngine(l7.Config{Registry: reg, PortHints: map[uint16]string{80: "NOPE"}}); err == nil {
		t.Errorf("NewEngine with a hint to an unknown decoder: no error")
	}
}

// namedDecoder recognises nothing.
type namedDecoder struct{ name string }

func (d namedDecoder) Name() string                                      { return d.name }
func (namedDecoder) Check([]byte, l7.Direction, l7.Transport) l7.Verdict { return l7.No }
func (namedDecoder) NewParser(l7.Transport) l7.Parser                    { return &lineParser{} }

func TestEngine_PairByOrder(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 100, []byte("GET a\nGET b\nGET c\n"))
	c.Data(l7.ToClient, 3*ms, 500, []byte("+A\n-ERR b\n"))
	c.Data(l7.ToClient, 4*ms, 510, []byte("-NOTFOUND c\n"))
	sum := c.Close(5 * ms)
	h.expect("GET a|A|Ok", "GET b|ERR b|ServerError", "GET c|NOTFOUND c|ClientError")
	if r := h.recs[1]; r.reqSeq != 106 || r.respSeq != 503 || !r.hasDur || r.durUs != 2000 || r.capReq != 6 {
		t.Errorf("second record: %+v", r)
	}
	if r := h.recs[2]; r.durUs != 3000 {
		t.Errorf("third record duration %d µs, want 3000", r.durUs)
	}
	want := l7.ConnSummary{L7Protocol: "LINE", Requests: 3, Responses: 3, ClientErrors: 1, ServerErrors: 1}
	if sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
}

func TestEngine_PairByID(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("@1 GET a\n@2 GET b\n@3 GET c\n"))
	c.Data(l7.ToClient, 2*ms, 1, []byte("@3 +C\n@9 +stray\n@1 +A\n"))
	c.Close(3 * ms)
	// b is still waiting when the flow closes, long before its session
	// timeout: Unknown, not Timeout (RECORDS.md).
	h.expect("GET c|C|Ok", "|stray|Ok", "GET a|A|Ok", "GET b||Unknown")
	if st := h.eng.Stats(); st.LoneResponses != 1 || st.Timeouts != 0 || st.Unanswered != 1 {
		t.Errorf("stats: lone %d timeouts %d unanswered %d", st.LoneResponses, st.Timeouts, st.Unanswered)
	}
}

func TestEngine_NoResponseStreamingLone(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("SUB news\nQUIT\n"))
	c.Data(l7.ToClient, 2*ms, 1, []byte(">hello\n+subscribed\n+extra\n"))
	c.Close(3 * ms)
	h.expect("QUIT||", "|hello|Ok", "SUB news|subscribed|Ok", "|extra|Ok")
}

func TestEngine_Caps(t *testing.T) {
	t.Run("per flow", func(t *testing.T) {
		h := newHarness(t, l7.Config{MaxPendingPerFlow: 2})
		c := h.open(1)
		c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\nGET b\nGET c\n"))
		// Responses come by order: the first answers the request that
		// overflow emitted early and must not pair with the next one.
		c.Data(l7.ToClient, 2*ms, 1, []byte("+A\n+B\n"))
		c.Close(3 * ms)
		h.expect("GET a||Unknown", "|A|Ok", "GET b|B|Ok", "GET c||Unknown")
		if st := h.eng.Stats(); st.SessionsOverflowed != 1 {
			t.Errorf("SessionsOverflowed %d, want 1", st.SessionsOverflowed)
		}
	})
	t.Run("engine", func(t *testing.T) {
		h := newHarness(t, l7.Config{MaxSessions: 2})
		c1 := h.open(1)
		c2 := h.open(2)
		c1.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
		c2.Data(l7.ToServer, 2*ms, 1, []byte("GET b\n"))
		c2.Data(l7.ToServer, 3*ms, 7, []byte("GET c\n"))
		h.expect("GET a||Unknown")
		if st := h.eng.Stats(); st.PendingSessions != 2 || st.SessionsOverflowed != 1 {
			t.Errorf("pending %d overflowed %d", st.PendingSessions, st.SessionsOverflowed)
		}
		c1.Data(l7.ToClient, 4*ms, 1, []byte("+late\n"))
		h.eng.Flush()
		h.expect("GET a||Unknown", "|late|Ok", "GET b||Unknown", "GET c||Unknown")
	})
}

// timeoutDecoder is the line protocol with its own session timeout.
type timeoutDecoder struct {
	lineDecoder
	d time.Duration
}

func (d timeoutDecoder) Name() string                  { return "SHORT" }
func (d timeoutDecoder) SessionTimeout() time.Duration { return d.d }

func TestEngine_Timeouts(t *testing.T) {
	h := newHarness(t, l7.Config{SessionTimeout: 10 * time.Second})
	c := h.open(1)
	c.Data(l7.ToServer, 0, 1, []byte("GET a\n"))
	c.Data(l7.ToServer, 5e9, 7, []byte("GET b\n"))
	h.eng.Advance(10e9 - 1)
	h.expect()
	h.eng.Advance(10e9 + 1)
	h.expect("GET a||Timeout")
	c.Data(l7.ToClient, 11e9, 1, []byte("+B\n"))
	h.expect("GET a||Timeout", "GET b|B|Ok")
	sum := c.Close(12e9)
	if sum.Timeouts != 1 || sum.Requests != 2 || sum.Responses != 1 {
		t.Errorf("summary %+v", sum)
	}

	// A decoder's own timeout.
	h = newHarness(t, l7.Config{}, timeoutDecoder{d: time.Second})
	c = h.open(2)
	c.Data(l7.ToServer, 0, 1, []byte("GET a\n"))
	c.Data(l7.ToServer, 2e9, 7, []byte("GET b\n"))
	h.expect("GET a||Timeout")
}

func TestEngine_InferenceAndSwap(t *testing.T) {
	h := newHarness(t, l7.Config{}, namedDecoder{"NONE"}, lineDecoder{})
	// The first bytes seen are a response sent by "srv": the flow is
	// reversed.
	c := h.eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	c.Data(l7.ToServer, 1*ms, 1, []byte("+hello\n"))
	if c.Client() != srv || c.Server() != cli {
		t.Fatalf("not swapped: client %v server %v", c.Client(), c.Server())
	}
	c.Data(l7.ToClient, 2*ms, 1, []byte("GET x\n"))
	c.Data(l7.ToServer, 3*ms, 8, []byte("+X\n"))
	c.Close(4 * ms)
	h.expect("|hello|Ok", "GET x|X|Ok")
	if h.recs[1].client != srv {
		t.Errorf("record client %v, want %v", h.recs[1].client, srv)
	}

	// An oriented flow is never swapped.
	c = h.eng.Open(l7.ConnInfo{ID: 2, Client: cli, Server: srv, Transport: l7.TCP, Oriented: true}, 5*ms)
	c.Data(l7.ToServer, 5*ms, 1, []byte("+hello\n"))
	if c.Client() != cli {
		t.Errorf("oriented flow swapped")
	}
	c.Close(6 * ms)
}

func TestEngine_InferenceCacheAndBackoff(t *testing.T) {
	h := newHarness(t, l7.Config{MaxInferFailures: 3, InferBackoff: 10 * time.Second, MaxFlowInferAttempts: 2})
	// A flow that is not the protocol: two attempts, then it gives up.
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("\x00\x01binary"))
	c.Data(l7.ToServer, 1*ms, 9, []byte("\x00\x01binary"))
	c.Data(l7.ToServer, 1*ms, 17, []byte("GET a\n")) // not tried any more
	c.Close(2 * ms)
	st := h.eng.Stats()
	if st.InferAttempts != 2 || st.InferFailures != 2 {
		t.Fatalf("attempts %d failures %d, want 2 2", st.InferAttempts, st.InferFailures)
	}
	// A third failure on the same server endpoint backs it off.
	c = h.open(2)
	c.Data(l7.ToServer, 3*ms, 1, []byte("\x00\x01binary"))
	c.Close(4 * ms)
	c = h.open(3)
	c.Data(l7.ToServer, 5*ms, 1, []byte("GET a\n"))
	c.Close(6 * ms)
	if st := h.eng.Stats(); st.InferSkipped != 1 || len(h.recs) != 0 {
		t.Fatalf("skipped %d records %d, want 1 0", st.InferSkipped, len(h.recs))
	}
	// After the back-off, inference runs again and its result is cached.
	c = h.open(4)
	c.Data(l7.ToServer, 11e9, 1, []byte("GET a\n"))
	c.Close(11e9)
	c = h.open(5)
	c.Data(l7.ToServer, 12e9, 1, []byte("GET b\n"))
	c.Close(12e9)
	st = h.eng.Stats()
	if st.InferCacheHits != 1 || len(h.recs) != 2 {
		t.Fatalf("cache hits %d records %d, want 1 2", st.InferCacheHits, len(h.recs))
	}
	if st.Protocols[0].Flows != 2 {
		t.Errorf("LINE flows %d, want 2", st.Protocols[0].Flows)
	}
}

func TestEngine_PortHints(t *testing.T) {
	// Both decoders accept the bytes; the hint orders them, Check decides.
	type other struct{ lineDecoder }
	h := newHarness(t, l7.Config{PortHints: map[uint16]string{7000: "B"}}, renamed{lineDecoder{}, "A"}, renamed{lineDecoder{}, "B"})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
	if p := c.Protocol(); p != "B" {
		t.Errorf("protocol %q, want B (hinted)", p)
	}
	c.Close(2 * ms)
	h = newHarness(t, l7.Config{PortHints: map[uint16]string{7000: "N"}}, namedDecoder{"N"}, lineDecoder{})
	c = h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\n"))
	if p := c.Protocol(); p != "LINE" {
		t.Errorf("protocol %q, want LINE (a hint never decides alone)", p)
	}
	c.Close(2 * ms)
}

type renamed struct {
	lineDecoder
	name string
}

func (r renamed) Name() string { return r.name }

func TestEngine_GapResync(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.open(1)
	c.Segment(l7.ToServer, 0, 99, 0, 0x02, nil, 0)
	c.Segment(l7.ToServer, 1*ms, 100, 0, 0x18, []byte("GET a\nGET lo"), 0)
	// Bytes 112..115 ("ng\nG") are never seen; the rest is.
	c.Segment(l7.ToServer, 2*ms, 116, 0, 0x18, []byte("ET c\nGET d\n"), 0)
	// The hole waits for its retransmission until the reassembly timeout.
	c.Segment(l7.ToServer, 3e9, 127, 0, 0x18, []byte("GET e\n"), 0)
	c.Segment(l7.ToClient, 3e9+1*ms, 1, 0, 0x18, []byte("+A\n+D\n+E\n"), 0)
	c.Close(4e9)
	// The half-line after the hole is skipped; "GET a" pairs with +A and,
	// by order, "GET d" with +D.
	h.expect("GET a|A|Ok", "GET d|D|Ok", "GET e|E|Ok")
	if st := h.eng.Stats(); st.Gaps != 1 || st.GapBytes != 4 || st.BufferedBytes != 0 {
		t.Errorf("gaps %d gap bytes %d buffered %d", st.Gaps, st.GapBytes, st.BufferedBytes)
	}
}

func TestEngine_ParseBufferBudget(t *testing.T) {
	h := newHarness(t, l7.Config{MaxBufferPerDirection: 1024})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("GET "+strings.Repeat("x", 1000)))
	c.Data(l7.ToServer, 1*ms, 1005, []byte(strings.Repeat("y", 100)))
	c.Data(l7.ToServer, 1*ms, 1105, []byte("\nGET b\n"))
	c.Data(l7.ToClient, 2*ms, 1, []byte("+B\n"))
	c.Close(3 * ms)
	h.expect("GET b|B|Ok")
	if st := h.eng.Stats(); st.BudgetDroppedBytes != 1004 {
		t.Errorf("BudgetDroppedBytes %d, want 1004", st.BudgetDroppedBytes)
	}
}

func TestEngine_Truncation(t *testing.T) {
	h := newHarness(t, l7.Config{MaxResourceLen: 8})
	var res []byte
	h.eng, _ = l7.NewEngine(l7.Config{Registry: mustRegistry(t), MaxResourceLen: 8, OnRecord: func(r *l7.Record) { res = append(res[:0], r.RequestResource...) }})
	c := h.eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	c.Data(l7.ToServer, 1, 1, []byte("GET 0123456789abcdef\n"))
	c.Data(l7.ToClient, 2, 1, []byte("+ok\n"))
	if string(res) != "01234567" {
		t.Errorf("resource %q, want truncated to 8 bytes", res)
	}
	if st := h.eng.Stats(); st.Truncations != 1 {
		t.Errorf("Truncations %d, want 1", st.Truncations)
	}
}

func mustRegistry(t testing.TB) *l7.Registry {
	reg, err := l7.NewRegistry(lineDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestEngine_UDP(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.UDP}, 0)
	c.Data(l7.ToServer, 1*ms, 0, []byte("@5 GET a\n"))
	c.Data(l7.ToServer, 1*ms, 0, []byte("@6 GET b\n"))
	c.Data(l7.ToServer, 1*ms, 0, []byte("no newline")) // a bad datagram
	c.Data(l7.ToClient, 2*ms, 0, []byte("@6 +B\n"))
	c.Close(3 * ms)
	h.expect("GET b|B|Ok", "GET a||Unknown")
	if st := h.eng.Stats(); st.ParseErrors != 1 {
		t.Errorf("ParseErrors %d, want 1", st.ParseErrors)
	}
}

// stopDecoder stops after the first message.
type stopDecoder struct{ lineDecoder }

func (stopDecoder) NewParser(t l7.Transport) l7.Parser { return &stopParser{} }

type stopParser struct {
	lineParser
	n int
}

func (p *stopParser) Parse(data []byte, dir l7.Direction, m *l7.Message) (int, bool, error) {
	if p.n > 0 {
		return 0, false, l7.ErrStop
	}
	p.n++
	return p.lineParser.Parse(data, dir, m)
}

func TestEngine_Stop(t *testing.T) {
	h := newHarness(t, l7.Config{}, stopDecoder{})
	c := h.open(1)
	c.Data(l7.ToServer, 1*ms, 1, []byte("GET a\nGET b\n"))
	c.Data(l7.ToServer, 1*ms, 13, []byte("GET c\n"))
	c.Close(2 * ms)
	h.expect("GET a||Unknown")
	if st := h.eng.Stats(); st.Stopped != 1 || st.BufferedBytes != 0 {
		t.Errorf("Stopped %d buffered %d", st.Stopped, st.BufferedBytes)
	}
}

// TestEngine_MessageAllocs checks the per-message path: reassembly, parse,
// session storage, pairing and record emission allocate nothing in steady
// state.
func TestEngine_MessageAllocs(t *testing.T) {
	reg := mustRegistry(t)
	var n int
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
	req := []byte("GET /index.html\n")
	resp := []byte("+200 OK\n")
	var seqReq, seqResp uint32 = 1, 1
	ts := int64(0)
	step := func() {
		ts += 1000
		c.Segment(l7.ToServer, ts, seqReq, 0, 0x18, req[:5], 0)
		c.Segment(l7.ToServer, ts, seqReq+5, 0, 0x18, req[5:], 0)
		c.Segment(l7.ToClient, ts+500, seqResp, 0, 0x18, resp, 0)
		seqReq += uint32(len(req))
		seqResp += uint32(len(resp))
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Fatalf("%v allocs per request/response, want 0", a)
	}
	if n < 1000 {
		t.Fatalf("%d records", n)
	}
}

func BenchmarkEngine(b *testing.B) {
	req := []byte("GET /index.html\n")
	resp := []byte("+200 OK\n")
	b.Run("pairs-in-order", func(b *testing.B) {
		reg := mustRegistry(b)
		eng, _ := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) {}})
		c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
		var seqReq, seqResp uint32 = 1, 1
		ts := int64(0)
		b.ReportAllocs()
		b.SetBytes(int64(len(req) + len(resp)))
		for b.Loop() {
			ts += 1000
			c.Segment(l7.ToServer, ts, seqReq, 0, 0x18, req, 0)
			c.Segment(l7.ToClient, ts+500, seqResp, 0, 0x18, resp, 0)
			seqReq += uint32(len(req))
			seqResp += uint32(len(resp))
		}
	})
	b.Run("pairs-split-json", func(b *testing.B) {
		reg := mustRegistry(b)
		var buf []byte
		eng, _ := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) { buf = r.AppendJSON(buf[:0]) }})
		c := eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP}, 0)
		var seqReq, seqResp uint32 = 1, 1
		ts := int64(1_700_000_000e9)
		b.ReportAllocs()
		b.SetBytes(int64(len(req) + len(resp)))
		for b.Loop() {
			ts += 1000
			c.Segment(l7.ToServer, ts, seqReq, 0, 0x18, req[:5], 0)
			c.Segment(l7.ToServer, ts, seqReq+5, 0, 0x18, req[5:], 0)
			c.Segment(l7.ToClient, ts+500, seqResp, 0, 0x18, resp, 0)
			seqReq += uint32(len(req))
			seqResp += uint32(len(resp))
		}
	})
}

// pickyDecoder's Check recognises only responses; its parser reads both.
type pickyDecoder struct{ lineDecoder }

func (pickyDecoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if v := (lineDecoder{}).Check(p, dir, t); v == l7.Response {
		return v
	}
	return l7.No
}

func TestEngine_HeldBeforeInference(t *testing.T) {
	h := newHarness(t, l7.Config{}, pickyDecoder{})
	c := h.eng.Open(l7.ConnInfo{ID: 1, Client: cli, Server: srv, Transport: l7.TCP, Oriented: true}, 0)
	c.Data(l7.ToServer, 1*ms, 1, []byte("ODD x\n"))
	c.Data(l7.ToClient, 2*ms, 1, []byte("+y\n"))
	c.Close(3 * ms)
	h.expect("ODD x|y|Ok")
	if st := h.eng.Stats(); st.UninferredBytes != 0 || st.BufferedBytes != 0 {
		t.Errorf("uninferred %d buffered %d, want 0 0", st.UninferredBytes, st.BufferedBytes)
	}
}

func TestEngine_AckedHole(t *testing.T) {
	h := newHarness(t, l7.Config{})
	c := h.open(1)
	c.Segment(l7.ToServer, 0, 99, 0, 0x02, nil, 0)
	c.Segment(l7.ToClient, 0, 999, 100, 0x12, nil, 0)
	c.Segment(l7.ToServer, 1*ms, 100, 1000, 0x18, []byte("GET a\nGET lo"), 0)
	c.Segment(l7.ToServer, 2*ms, 116, 1000, 0x18, []byte("ET c\nGET d\n"), 0)
	// The server acknowledges past the hole: the capture lost it, so it is
	// reported at once and "GET d" pairs with +D.
	c.Segment(l7.ToClient, 3*ms, 1000, 127, 0x18, []byte("+A\n+D\n"), 0)
	c.Close(4 * ms)
	h.expect("GET a|A|Ok", "GET d|D|Ok")
	if st := h.eng.Stats(); st.Gaps != 1 || st.GapBytes != 4 {
		t.Errorf("gaps %d gap bytes %d, want 1 4", st.Gaps, st.GapBytes)
	}
}
