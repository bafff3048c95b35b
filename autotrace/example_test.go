package autotrace_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/metaflow-go/metaflow/autotrace"
)

// A thread-per-request server (pid 7) seen by eBPF: the request it read
// (s-p) and the Redis call its thread made (c-p), related by syscall trace
// ids; and the Redis call seen again on the client's NIC (same TCP
// sequence numbers).
func exampleSpans() []autotrace.Span {
	const ms = 1_000_000
	redis := autotrace.Span{ID: 2, TapSide: autotrace.ClientProcess, ProcessID0: 7, ProcessKName0: "python3", Transport: "TCP", L7Protocol: "Redis",
		Client: netip.MustParseAddrPort("10.0.0.2:50000"), Server: netip.MustParseAddrPort("10.0.0.3:6379"),
		RequestResource: "GET k", Start: 2 * ms, End: 3 * ms, ReqTCPSeq: 100, RespTCPSeq: 200,
		SyscallTraceIDRequest: 41, SyscallTraceIDResponse: 42}
	nic := redis
	nic.ID, nic.TapSide, nic.ProcessID0, nic.ProcessKName0 = 3, autotrace.ClientNIC, 0, ""
	nic.SyscallTraceIDRequest, nic.SyscallTraceIDResponse = 0, 0
	return []autotrace.Span{
		{ID: 1, TapSide: autotrace.ServerProcess, ProcessID1: 7, ProcessKName1: "python3", Transport: "TCP", L7Protocol: "HTTP",
			Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:8000"),
			RequestType: "GET", Endpoint: "/order", Start: 0, End: 5 * ms, ReqTCPSeq: 10, RespTCPSeq: 20,
			SyscallTraceIDRequest: 41, SyscallTraceIDResponse: 42},
		redis, nic,
	}
}

func ExampleAssemble() {
	tr := autotrace.Assemble(exampleSpans(), autotrace.Config{IgnoreAppIDs: true})
	for _, n := range tr.Nodes {
		fmt.Printf("%*s%s %s (%s)", 2*n.Depth, "", n.TapSide, n.Label(), n.Service())
		if n.Rule != autotrace.RuleNone {
			fmt.Print(" <- ", n.Rule)
		}
		fmt.Println()
	}
	// Output:
	// s-p HTTP GET /order (python3)
	//   c-p Redis GET k (python3) <- syscall
	//     c Redis GET k (10.0.0.2) <- tcp_seq
}

func ExampleBuild() {
	st := autotrace.NewMemStore()
	if err := st.Add(exampleSpans()...); err != nil {
		panic(err)
	}
	// From the NIC's observation of the Redis call, the whole trace.
	tr, res, err := autotrace.Build(context.Background(), st, &autotrace.Query{IDs: []uint64{3}}, autotrace.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(tr.Nodes), "spans,", tr.Calls, "calls,", res.Rounds, "rounds; root:", tr.Nodes[0].Label())
	// Output:
	// 3 spans, 2 calls, 4 rounds; root: HTTP GET /order
}
