package autotrace

import (
	"testing"
	"time"
)

// truthOf is the ground truth of threadServer's request.
func truthOf(spans []Span, kind string) TruthRequest {
	srv := spans[0]
	tr := TruthRequest{Service: "svc", Kind: kind, Inbound: &TruthCall{Client: srv.Client, Server: srv.Server, Start: srv.Start, End: srv.End}}
	for _, c := range spans[1:] {
		tr.Calls = append(tr.Calls, TruthCall{Client: c.Client, Server: c.Server, Start: c.Start - 50_000, End: c.End + 50_000})
	}
	return tr
}

func TestEvaluate(t *testing.T) {
	a := threadServer(10, 7, 1000, t0, 3)
	b := threadServer(20, 7, 2000, t0+5*ms, 3)
	truth := []TruthRequest{
		truthOf(a, "thread-per-request"), truthOf(b, "thread-per-request"),
		// The load generator's request: a root.
		{Service: "load", Kind: "load", Calls: []TruthCall{{Client: a[0].Client, Server: a[0].Server, Start: a[0].Start, End: a[0].End}}},
	}
	t.Run("perfect", func(t *testing.T) {
		acc := Evaluate(Assemble(append(append([]Span{}, a...), b...), Config{}), truth, time.Millisecond)
		if acc.Total != (Score{Truth: 6, Predicted: 6, Correct: 6}) || acc.MatchedCalls != acc.TruthCalls || acc.TruthCalls != 8 {
			t.Fatalf("%v %+v", acc, acc.Wrong)
		}
		if s := acc.ByRule[RuleSyscall]; s.Correct != 6 || s.Recall() != 1 {
			t.Fatalf("syscall %v", s)
		}
		if s := acc.ByKind["thread-per-request"]; s.Precision() != 1 || s.Recall() != 1 {
			t.Fatalf("kind %v", s)
		}
	})
	t.Run("one missed, one wrong, one unobserved", func(t *testing.T) {
		aa := append([]Span{}, a...)
		bb := append([]Span{}, b...)
		aa[1].SyscallTraceIDRequest, aa[1].SyscallTraceIDResponse = 0, 0 // missed
		// b's second call carries a's ids: linked to a, wrongly.
		bb[2].SyscallTraceIDRequest, bb[2].SyscallTraceIDResponse = 1001, 1002
		spans := append(append(aa, bb[:3]...), bb[4:]...) // b's third call unobserved
		acc := Evaluate(Assemble(spans, Config{}), truth, time.Millisecond)
		want := Score{Truth: 5, Predicted: 4, Correct: 3}
		if acc.Total != want || acc.Unobserved != 1 || acc.ByKind["thread-per-request"].Recall() != 0.6 {
			t.Fatalf("%v wrong %v", acc, acc.Wrong)
		}
		t.Log(acc)
	})
}
