package autotrace

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// chainStore holds one thread-per-request server request with n
// downstream calls (their syscall ids chain, so the search needs a round
// per call), each call also seen on the client's NIC, and unrelated
// requests of other ids around it.
func chainStore(t testing.TB, n, noise int) *MemStore {
	m := NewMemStore()
	add := func(spans []Span) {
		for _, s := range spans {
			if err := m.Add(s); err != nil {
				t.Fatal(err)
			}
			if s.TapSide == ClientProcess {
				s.ID += 1 << 40
				s.TapSide, s.ProcessID0 = ClientNIC, 0
				s.SyscallTraceIDRequest, s.SyscallTraceIDResponse = 0, 0
				if err := m.Add(s); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	add(threadServer(1_000_000, 7, 1_000_000, t0, n))
	for i := range noise {
		add(threadServer(2_000_000+uint64(i)*1000, 8, 1<<40+uint64(i)*100, t0+int64(i%100)*ms, 3))
	}
	return m
}

func TestSearch_Rounds(t *testing.T) {
	ctx := context.Background()
	m := chainStore(t, 5, 50)
	// From the third downstream call: ids reach back to the server span
	// and on to the other calls, tcp_seq to the NIC copies.
	zc := Config{IgnoreAppIDs: true}
	res, err := Search(ctx, m, &Query{IDs: []uint64{1_000_003}}, zc)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Spans) != 11 || res.Truncated {
		t.Fatalf("spans = %d truncated %v rounds %d, want 11", len(res.Spans), res.Truncated, res.Rounds)
	}
	tr := Assemble(res.Spans, Config{})
	checkForest(t, tr, 11)
	if len(tr.Roots()) != 1 || tr.Calls != 6 {
		t.Fatalf("roots %d calls %d, want 1 and 6", len(tr.Roots()), tr.Calls)
	}
	if tr.Nodes[0].ID != 1_000_000 {
		t.Fatalf("root = %d", tr.Nodes[0].ID)
	}
	t.Logf("rounds %d, queries %d", res.Rounds, m.Stats().Queries)
	// With application ids, flows are searched too (for application
	// spans): other requests on the same sockets may be gathered, the
	// tree is the same.
	if tr, _, err := Build(ctx, m, &Query{IDs: []uint64{1_000_003}}, Config{}); err != nil || treeSize(tr, 1_000_000) != 11 {
		t.Fatalf("with app ids: %v, tree of %d", err, treeSize(tr, 1_000_000))
	}

	t.Run("max rounds", func(t *testing.T) {
		res, err := Search(ctx, m, &Query{IDs: []uint64{1_000_005}}, Config{MaxRounds: 2, IgnoreAppIDs: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rounds != 2 || !res.Truncated || len(res.Spans) >= 11 {
			t.Fatalf("rounds %d truncated %v spans %d", res.Rounds, res.Truncated, len(res.Spans))
		}
	})
	t.Run("max spans", func(t *testing.T) {
		res, err := Search(ctx, m, &Query{IDs: []uint64{1_000_003}}, Config{MaxSpans: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Spans) != 4 || !res.Truncated {
			t.Fatalf("spans %d truncated %v", len(res.Spans), res.Truncated)
		}
	})
	t.Run("window", func(t *testing.T) {
		q := Query{IDs: []uint64{1_000_003}, From: t0 + 3600e9}
		if _, err := Search(ctx, m, &q, Config{}); !errors.Is(err, ErrNoSeed) {
			t.Fatalf("err = %v, want ErrNoSeed", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, err := Search(ctx, m, &Query{}, Config{}); !errors.Is(err, ErrEmptyQuery) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("store error", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Search(cctx, m, &Query{IDs: []uint64{1}}, Config{})
		var se *StoreError
		if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.Round != 1 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMemStore_Find(t *testing.T) {
	m := NewMemStore()
	spans := []Span{
		{TraceID: "t1", Start: 10}, {XRequestID1: "x", Start: 20}, {SyscallTraceIDResponse: 5, Start: 30},
		{RespTCPSeq: 9, Start: 40}, {ID: 100, Start: 50},
	}
	if err := m.Add(spans...); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(Span{ID: 100}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("duplicate: %v", err)
	}
	ctx := context.Background()
	cases := []struct {
		q    Query
		want []uint64
	}{
		{Query{TraceIDs: []string{"t1"}}, []uint64{1}},
		{Query{XRequestIDs: []string{"x"}}, []uint64{2}},
		{Query{SyscallTraceIDs: []uint64{5}}, []uint64{3}},
		{Query{TCPSeqs: []uint32{9}}, []uint64{4}},
		{Query{IDs: []uint64{100, 1}, TraceIDs: []string{"t1"}}, []uint64{1, 100}},
		{Query{IDs: []uint64{100, 1}, From: 11, To: 49}, nil},
		{Query{TCPSeqs: []uint32{0}, SyscallTraceIDs: []uint64{0}, XRequestIDs: []string{""}}, nil},
	}
	for _, tc := range cases {
		got, err := m.Find(ctx, &tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%+v: ids %v, want %v", tc.q, ids, tc.want)
		}
	}
	if st := m.Stats(); st.Spans != 5 || st.Queries != uint64(len(cases)) {
		t.Fatalf("stats %+v", st)
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, noise := range []int{1_000, 100_000} {
		m := chainStore(b, 20, noise)
		b.Run(itoa(m.Len())+"_spans", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				tr, _, err := Build(ctx, m, &Query{IDs: []uint64{1_000_010}}, Config{})
				if err != nil || treeSize(tr, 1_000_000) != 41 {
					b.Fatal(err, treeSize(tr, 1_000_000))
				}
			}
		})
	}
	spans := make([]Span, 0, 10_000)
	for i := range 1000 {
		spans = append(spans, threadServer(uint64(i+1)*100, uint32(i%7), uint64(i+1)*100, t0+int64(i)*ms, 9)...)
	}
	b.Run("assemble_10k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := Assemble(spans, Config{})
			if tr.Calls != len(spans) {
				b.Fatal(tr.Calls)
			}
		}
	})
}

func itoa(n int) string {
	if n >= 1000 {
		return itoa(n/1000) + "k"
	}
	b := []byte{}
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// treeSize returns the number of nodes in the subtree of the span with
// the given id (0 when absent).
func treeSize(tr *Trace, id uint64) int {
	for i := range tr.Nodes {
		if tr.Nodes[i].ID != id {
			continue
		}
		n := 1
		in := map[int]bool{i: true}
		for j := i + 1; j < len(tr.Nodes) && in[tr.Nodes[j].Parent]; j++ {
			in[j] = true
			n++
		}
		return n
	}
	return 0
}
