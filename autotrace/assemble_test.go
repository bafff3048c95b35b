package autotrace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).UnixNano()

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// edgeSet renders a trace's parent -> child links as "p>c:rule" over span
// IDs, sorted.
func edgeSet(t *Trace) []string {
	var out []string
	for _, e := range t.Edges() {
		out = append(out, fmt.Sprintf("%d>%d:%s", e.Parent, e.Child, e.Rule))
	}
	slices.Sort(out)
	return out
}

// checkForest checks a trace's invariants: every input span once, parents
// before children, depths consistent.
func checkForest(t *testing.T, tr *Trace, want int) {
	t.Helper()
	if len(tr.Nodes) != want {
		t.Fatalf("nodes = %d, want %d", len(tr.Nodes), want)
	}
	ids := map[uint64]bool{}
	for i, n := range tr.Nodes {
		if ids[n.ID] {
			t.Fatalf("span %d twice", n.ID)
		}
		ids[n.ID] = true
		if n.Parent >= i {
			t.Fatalf("node %d: parent %d after it", i, n.Parent)
		}
		if n.Parent < 0 && (n.Depth != 0 || n.Rule != RuleNone) {
			t.Fatalf("root %d: depth %d rule %v", i, n.Depth, n.Rule)
		}
		if n.Parent >= 0 && n.Depth != tr.Nodes[n.Parent].Depth+1 {
			t.Fatalf("node %d: depth %d, parent's %d", i, n.Depth, tr.Nodes[n.Parent].Depth)
		}
	}
}

// oneCall is one HTTP call client -> server seen at four points.
func oneCall(id uint64, client, server string, start, dur int64, req, resp uint32) []Span {
	base := Span{Client: ap(client), Server: ap(server), Transport: "TCP", L7Protocol: "HTTP",
		RequestType: "GET", Endpoint: "/x", ReqTCPSeq: req, RespTCPSeq: resp}
	var out []Span
	for k, tap := range []TapSide{ServerProcess, ClientNIC, ClientProcess, ServerNIC} {
		s := base
		s.ID, s.TapSide = id+uint64(k), tap
		// Later on the path: a little later to start, earlier to end.
		off := int64(tap.order()) * 100_000
		s.Start, s.End = start+off, start+dur-off
		switch tap {
		case ClientProcess:
			s.ProcessID0 = 1
		case ServerProcess:
			s.ProcessID1 = 2
		}
		out = append(out, s)
	}
	return out
}

func TestAssemble_TCPSeq(t *testing.T) {
	cfg := Config{Rules: Rules(RuleTCPSeq)}
	t.Run("one call at four points", func(t *testing.T) {
		spans := oneCall(1, "10.0.0.1:40000", "10.0.0.2:80", t0, 10*ms, 1000, 5000)
		tr := Assemble(spans, cfg)
		checkForest(t, tr, 4)
		if tr.Calls != 1 {
			t.Fatalf("calls = %d, want 1", tr.Calls)
		}
		// Path order c-p(3) -> c(2) -> s(4) -> s-p(1).
		want := []string{"2>4:tcp_seq", "3>2:tcp_seq", "4>1:tcp_seq"}
		if got := edgeSet(tr); !slices.Equal(got, want) {
			t.Fatalf("edges = %v, want %v", got, want)
		}
		var sides []string
		for _, n := range tr.Nodes {
			sides = append(sides, n.TapSide.String())
		}
		if got := strings.Join(sides, " "); got != "c-p c s s-p" {
			t.Fatalf("order = %q", got)
		}
	})
	t.Run("a lone response side matches on resp seq", func(t *testing.T) {
		spans := oneCall(1, "10.0.0.1:40000", "10.0.0.2:80", t0, 10*ms, 1000, 5000)
		spans[1].ReqTCPSeq = 0 // the NIC missed the request
		if tr := Assemble(spans, cfg); tr.Calls != 1 {
			t.Fatalf("calls = %d, want 1", tr.Calls)
		}
	})
	cases := []struct {
		name   string
		change func(s *Span)
	}{
		{"other flow", func(s *Span) { s.Client = ap("10.0.0.1:40001") }},
		{"conflicting response seq", func(s *Span) { s.RespTCPSeq = 777 }},
		{"times a second apart", func(s *Span) { s.Start += 1e9; s.End += 1e9 }},
		{"other protocol", func(s *Span) { s.L7Protocol = "Redis" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spans := oneCall(1, "10.0.0.1:40000", "10.0.0.2:80", t0, 10*ms, 1000, 5000)[:2]
			tc.change(&spans[1])
			tr := Assemble(spans, cfg)
			checkForest(t, tr, 2)
			if tr.Calls != 2 || len(tr.Edges()) != 0 {
				t.Fatalf("calls = %d edges %v, want 2 unrelated", tr.Calls, edgeSet(tr))
			}
		})
	}
	t.Run("rule off", func(t *testing.T) {
		spans := oneCall(1, "10.0.0.1:40000", "10.0.0.2:80", t0, 10*ms, 1000, 5000)
		if tr := Assemble(spans, Config{Rules: Rules(RuleSyscall)}); tr.Calls != 4 {
			t.Fatalf("calls = %d, want 4", tr.Calls)
		}
	})
	t.Run("duplicate ids", func(t *testing.T) {
		spans := oneCall(1, "10.0.0.1:40000", "10.0.0.2:80", t0, 10*ms, 1000, 5000)
		spans = append(spans, spans...)
		tr := Assemble(spans, cfg)
		checkForest(t, tr, 4)
		if tr.Duplicates != 4 {
			t.Fatalf("duplicates = %d", tr.Duplicates)
		}
	})
}

// threadServer makes one thread-per-request server request, with the
// syscall trace ids the eBPF tracer gives: the read of the request starts
// id base, each downstream call's request carries the current id and its
// response read starts the next, and the response write carries the last.
// It returns the s-p span (id first) and n c-p spans.
func threadServer(first uint64, pid uint32, base uint64, start int64, n int) []Span {
	srv := Span{ID: first, TapSide: ServerProcess, Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+first%20000)), Server: ap("10.0.0.2:8000"),
		Transport: "TCP", L7Protocol: "HTTP", ProcessID1: pid, Start: start, End: start + int64(n+1)*10*ms,
		SyscallTraceIDRequest: base, SyscallTraceIDResponse: base + uint64(n), ReqTCPSeq: uint32(first), RespTCPSeq: uint32(first) + 1}
	out := []Span{srv}
	for i := range n {
		c := Span{ID: first + 1 + uint64(i), TapSide: ClientProcess, Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(50000+first+uint64(i))),
			Server: ap("10.0.0.3:6379"), Transport: "TCP", L7Protocol: "Redis", ProcessID0: pid,
			Start: start + int64(i+1)*10*ms, End: start + int64(i+1)*10*ms + 5*ms,
			SyscallTraceIDRequest: base + uint64(i), SyscallTraceIDResponse: base + uint64(i) + 1,
			ReqTCPSeq: uint32(first*100 + uint64(i)), RespTCPSeq: uint32(first*100+uint64(i)) + 50}
		out = append(out, c)
	}
	return out
}

func TestAssemble_Syscall(t *testing.T) {
	cfg := Config{Rules: Rules(RuleSyscall)}
	t.Run("concurrent requests of one process", func(t *testing.T) {
		// Two requests overlapping in time, on two threads.
		spans := append(threadServer(10, 7, 1000, t0, 3), threadServer(20, 7, 2000, t0+5*ms, 3)...)
		rand.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
		tr := Assemble(spans, cfg)
		checkForest(t, tr, 8)
		want := []string{"10>11:syscall", "10>12:syscall", "10>13:syscall", "20>21:syscall", "20>22:syscall", "20>23:syscall"}
		if got := edgeSet(tr); !slices.Equal(got, want) {
			t.Fatalf("edges = %v, want %v", got, want)
		}
	})
	t.Run("a call with only its request id", func(t *testing.T) {
		spans := threadServer(10, 7, 1000, t0, 2)
		spans[2].SyscallTraceIDResponse = 0 // no response: the chain is cut
		spans[2].SyscallTraceIDRequest = 1001
		tr := Assemble(spans, cfg)
		if got := edgeSet(tr); !slices.Equal(got, []string{"10>11:syscall", "10>12:syscall"}) {
			t.Fatalf("edges = %v", got)
		}
	})
	cases := []struct {
		name   string
		change func(c *Span)
	}{
		{"other process", func(c *Span) { c.ProcessID0 = 8 }},
		{"other agent", func(c *Span) { c.Agent = "host-b" }},
		{"outside the request", func(c *Span) { c.Start += 1e9; c.End += 1e9 }},
		{"other ids", func(c *Span) { c.SyscallTraceIDRequest, c.SyscallTraceIDResponse = 5, 6 }},
		{"network span", func(c *Span) { c.TapSide = ClientNIC }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spans := threadServer(10, 7, 1000, t0, 1)
			tc.change(&spans[1])
			if got := edgeSet(Assemble(spans, cfg)); len(got) != 0 {
				t.Fatalf("edges = %v, want none", got)
			}
		})
	}
	t.Run("forward from the response id", func(t *testing.T) {
		// The first call's request id is unknown (a stale id of another
		// thread's request): the chain is followed forward from its
		// response's id to the next call, then to the response write.
		spans := threadServer(10, 7, 1000, t0, 3)
		spans[1].SyscallTraceIDRequest = 999
		if got := edgeSet(Assemble(spans, cfg)); !slices.Equal(got, []string{"10>11:syscall", "10>12:syscall", "10>13:syscall"}) {
			t.Fatalf("edges = %v", got)
		}
	})
	t.Run("stale id of an ended request", func(t *testing.T) {
		// A goroutine on a thread that served an earlier request carries
		// that request's id: the earlier request does not contain the call
		// in time, so it is not its parent.
		old := threadServer(10, 7, 1000, t0, 1)
		cur := threadServer(20, 7, 2000, t0+100*ms, 1)
		cur[1].SyscallTraceIDRequest, cur[1].SyscallTraceIDResponse = old[1].SyscallTraceIDResponse, 5000
		if got := edgeSet(Assemble(append(old, cur...), cfg)); !slices.Equal(got, []string{"10>11:syscall"}) {
			t.Fatalf("edges = %v", got)
		}
	})
	t.Run("server spans are never linked to each other", func(t *testing.T) {
		a := threadServer(10, 7, 1000, t0, 0)[0]
		b := threadServer(20, 7, 1000, t0+ms, 0)[0]
		b.End = a.End - ms
		if got := edgeSet(Assemble([]Span{a, b}, cfg)); len(got) != 0 {
			t.Fatalf("edges = %v", got)
		}
	})
}

// proxy returns a proxy's inbound call (s-p, id 1) and its outbound call
// (c-p, id 2), with X-Request-ID set as given.
func proxy(in0, in1, out0 string) []Span {
	in := Span{ID: 1, TapSide: ServerProcess, Client: ap("10.0.1.1:40000"), Server: ap("10.0.1.2:80"),
		Transport: "TCP", L7Protocol: "HTTP", ProcessID1: 9, Start: t0, End: t0 + 20*ms,
		XRequestID0: in0, XRequestID1: in1, ReqTCPSeq: 1, RespTCPSeq: 2}
	out := Span{ID: 2, TapSide: ClientProcess, Client: ap("10.0.2.2:41000"), Server: ap("10.0.2.3:8000"),
		Transport: "TCP", L7Protocol: "HTTP", ProcessID0: 9, Start: t0 + ms, End: t0 + 19*ms,
		XRequestID0: out0, ReqTCPSeq: 3, RespTCPSeq: 4}
	return []Span{in, out}
}

func TestAssemble_XRequestID(t *testing.T) {
	cfg := Config{Rules: Rules(RuleXRequestID)}
	cases := []struct {
		name           string
		in0, in1, out0 string
		change         func(in, out *Span)
		want           []string
	}{
		{name: "generated and returned", in1: "r1", out0: "r1", want: []string{"1>2:x_request_id"}},
		{name: "propagated, same process", in0: "r1", out0: "r1", want: []string{"1>2:x_request_id"}},
		{name: "propagated, same address", in0: "r1", out0: "r1", change: func(in, out *Span) {
			out.ProcessID0 = 0
			out.TapSide = ClientNIC
			out.Client = ap("10.0.1.2:41000")
		}, want: []string{"1>2:x_request_id"}},
		{name: "propagated, unrelated hosts", in0: "r1", out0: "r1", change: func(in, out *Span) { out.ProcessID0 = 3 }},
		{name: "other id", in1: "r1", out0: "r2"},
		{name: "outside the inbound call", in1: "r1", out0: "r1", change: func(in, out *Span) { out.End += 1e9 }},
		{name: "id only in the outbound response", in1: "r1", change: func(in, out *Span) { out.XRequestID1 = "r1" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spans := proxy(tc.in0, tc.in1, tc.out0)
			if tc.change != nil {
				tc.change(&spans[0], &spans[1])
			}
			tr := Assemble(spans, cfg)
			checkForest(t, tr, 2)
			if got := edgeSet(tr); !slices.Equal(got, tc.want) {
				t.Fatalf("edges = %v, want %v", got, tc.want)
			}
		})
	}
}

// appTrace is a caller's OTel client span (c-app, id 1) whose request was
// seen as c-p (2) and s-p (3) with the traceparent it sent, the callee's
// server span (s-app, 4) and the callee's client span of a downstream call
// (c-app, 5).
func appTrace() []Span {
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	net := Span{Client: ap("10.0.0.1:40000"), Server: ap("10.0.0.2:8080"), Transport: "TCP", L7Protocol: "HTTP",
		TraceID: tid, SpanID: "00f067aa0ba902b7", ReqTCPSeq: 11, RespTCPSeq: 12}
	cp, sp := net, net
	cp.ID, cp.TapSide, cp.ProcessID0, cp.Start, cp.End = 2, ClientProcess, 1, t0+ms, t0+29*ms
	sp.ID, sp.TapSide, sp.ProcessID1, sp.Start, sp.End = 3, ServerProcess, 2, t0+2*ms, t0+28*ms
	return []Span{
		{ID: 1, TapSide: ClientApp, TraceID: tid, SpanID: "00f067aa0ba902b7", ParentSpanID: "1111111111111111", Start: t0, End: t0 + 30*ms, Name: "GET /api", Service0: "py"},
		cp, sp,
		{ID: 4, TapSide: ServerApp, TraceID: tid, SpanID: "a000000000000001", ParentSpanID: "00f067aa0ba902b7", Start: t0 + 3*ms, End: t0 + 27*ms, Name: "/api", Service1: "go"},
		{ID: 5, TapSide: ClientApp, TraceID: tid, SpanID: "a000000000000002", ParentSpanID: "a000000000000001", Start: t0 + 5*ms, End: t0 + 9*ms, Name: "redis GET", Service0: "go"},
	}
}

func TestAssemble_AppID(t *testing.T) {
	t.Run("app spans and network spans", func(t *testing.T) {
		tr := Assemble(appTrace(), Config{Rules: Rules(RuleAppID)})
		checkForest(t, tr, 5)
		// 1 -> 2 -> 3 are one call (span id), 4 hangs from its last span,
		// 5 from 4.
		want := []string{"1>2:app_id", "2>3:app_id", "3>4:app_id", "4>5:app_id"}
		if got := edgeSet(tr); !slices.Equal(got, want) {
			t.Fatalf("edges = %v, want %v", got, want)
		}
	})
	t.Run("with tcp_seq too", func(t *testing.T) {
		tr := Assemble(appTrace(), Config{})
		want := []string{"1>2:app_id", "2>3:tcp_seq", "3>4:app_id", "4>5:app_id"}
		if got := edgeSet(tr); !slices.Equal(got, want) {
			t.Fatalf("edges = %v, want %v", got, want)
		}
	})
	t.Run("ignored", func(t *testing.T) {
		tr := Assemble(appTrace(), Config{IgnoreAppIDs: true})
		checkForest(t, tr, 2)
		if tr.AppDropped != 3 {
			t.Fatalf("app dropped = %d", tr.AppDropped)
		}
		if got := edgeSet(tr); !slices.Equal(got, []string{"2>3:tcp_seq"}) {
			t.Fatalf("edges = %v", got)
		}
	})
	t.Run("network spans alone are not merged by span id", func(t *testing.T) {
		spans := appTrace()[1:3]
		spans[1].ReqTCPSeq, spans[1].RespTCPSeq = 0, 0
		spans[1].Client = ap("10.0.0.9:1")
		if tr := Assemble(spans, Config{Rules: Rules(RuleAppID)}); tr.Calls != 2 {
			t.Fatalf("calls = %d, want 2", tr.Calls)
		}
	})
}

func TestAssemble_UDP(t *testing.T) {
	// A DNS query seen by the client process and on its NIC: one call by
	// 5-tuple, time and DNS id.
	q := Span{ID: 1, TapSide: ClientProcess, ProcessID0: 5, Client: ap("10.0.0.1:5353"), Server: ap("10.0.0.2:53"),
		Transport: "UDP", L7Protocol: "DNS", RequestResource: "db.", RequestID: 77, HasRequestID: true, Start: t0, End: t0 + ms}
	n := q
	n.ID, n.TapSide, n.ProcessID0, n.Start = 2, ClientNIC, 0, t0+ms/10
	cases := []struct {
		name   string
		change func(n *Span)
		calls  int
	}{
		{"same query", func(*Span) {}, 1},
		{"other DNS id", func(n *Span) { n.RequestID = 78 }, 2},
		{"other name", func(n *Span) { n.RequestResource = "cache." }, 2},
		{"a second later", func(n *Span) { n.Start += 1e9 }, 2},
		{"other port", func(n *Span) { n.Client = ap("10.0.0.1:5354") }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nn := n
			tc.change(&nn)
			tr := Assemble([]Span{q, nn}, Config{Rules: Rules(RuleTCPSeq)})
			if tr.Calls != tc.calls {
				t.Fatalf("calls = %d, want %d", tr.Calls, tc.calls)
			}
			if tc.calls == 1 && tr.Nodes[0].TapSide != ClientProcess {
				t.Fatalf("order: %v first", tr.Nodes[0].TapSide)
			}
		})
	}
}

func TestAssemble_NoCycles(t *testing.T) {
	// Two calls that each contain the other in time and share an
	// X-Request-ID both ways: one link only.
	a := Span{ID: 1, TapSide: ServerNIC, Client: ap("10.0.0.1:1"), Server: ap("10.0.0.2:80"), Start: t0, End: t0 + 10*ms, XRequestID0: "r", XRequestID1: "r"}
	b := Span{ID: 2, TapSide: ServerNIC, Client: ap("10.0.0.2:2"), Server: ap("10.0.0.1:80"), Start: t0, End: t0 + 10*ms, XRequestID0: "r", XRequestID1: "r"}
	tr := Assemble([]Span{a, b}, Config{})
	checkForest(t, tr, 2)
	if len(tr.Edges()) != 1 || len(tr.Roots()) != 1 {
		t.Fatalf("edges %v roots %v", edgeSet(tr), tr.Roots())
	}
}

func TestAssemble_RandomIsForest(t *testing.T) {
	// Random keys from small pools: whatever links the rules make, the
	// result is a forest holding every span once.
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		n := 1 + r.IntN(40)
		spans := make([]Span, n)
		for i := range spans {
			st := t0 + int64(r.IntN(50))*ms
			spans[i] = Span{
				ID: uint64(r.IntN(n*2) + 1), TapSide: TapSide(r.IntN(int(App) + 1)),
				Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(r.IntN(3))),
				Server: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(r.IntN(3))),
				Start:  st, End: st + int64(r.IntN(50))*ms,
				ReqTCPSeq: uint32(r.IntN(4)), RespTCPSeq: uint32(r.IntN(4)),
				SyscallTraceIDRequest: uint64(r.IntN(4)), SyscallTraceIDResponse: uint64(r.IntN(4)),
				ProcessID0: uint32(r.IntN(2)), ProcessID1: uint32(r.IntN(2)),
				XRequestID0: []string{"", "a", "b"}[r.IntN(3)], XRequestID1: []string{"", "a", "b"}[r.IntN(3)],
				TraceID: []string{"", "t"}[r.IntN(2)], SpanID: []string{"", "s1", "s2"}[r.IntN(3)], ParentSpanID: []string{"", "s1", "s2"}[r.IntN(3)],
			}
		}
		uniq := map[uint64]bool{}
		for _, s := range spans {
			uniq[s.ID] = true
		}
		tr := Assemble(spans, Config{})
		t.Run(fmt.Sprint(iter), func(t *testing.T) { checkForest(t, tr, len(uniq)) })
	}
}

func TestTrace_Trees(t *testing.T) {
	// Two requests' trees and a lone call: the trees of the spans asked.
	spans := append(threadServer(10, 7, 1000, t0, 2), threadServer(20, 7, 2000, t0+5*ms, 1)...)
	spans = append(spans, Span{ID: 99, TapSide: ClientNIC, Client: ap("10.9.9.9:1"), Server: ap("10.9.9.8:2"), Start: t0})
	tr := Assemble(spans, Config{})
	for _, tc := range []struct {
		ids   []uint64
		nodes int
	}{{[]uint64{12}, 3}, {[]uint64{21}, 2}, {[]uint64{99}, 1}, {[]uint64{11, 21}, 5}, {[]uint64{7}, 0}} {
		sub := tr.Trees(tc.ids...)
		checkForest(t, sub, tc.nodes)
		if tc.nodes > 0 && sub.Calls != tc.nodes {
			t.Fatalf("%v: calls %d", tc.ids, sub.Calls)
		}
	}
}
