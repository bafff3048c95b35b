package autotrace

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// Query selects spans by keys: a span matches when it starts within
// [From, To] and carries any of the keys. Zero keys are never matched.
type Query struct {
	// From and To bound start_time (unix ns, inclusive); To 0 is no upper
	// bound.
	From, To int64
	// IDs are span ids.
	IDs []uint64
	// TraceIDs match trace_id.
	TraceIDs []string
	// XRequestIDs match x_request_id_0 or x_request_id_1.
	XRequestIDs []string
	// SyscallTraceIDs match syscall_trace_id_request or _response.
	SyscallTraceIDs []uint64
	// TCPSeqs match req_tcp_seq or resp_tcp_seq.
	TCPSeqs []uint32
}

// Empty reports whether q has no key.
func (q *Query) Empty() bool {
	return len(q.IDs) == 0 && len(q.TraceIDs) == 0 && len(q.XRequestIDs) == 0 &&
		len(q.SyscallTraceIDs) == 0 && len(q.TCPSeqs) == 0
}

// inWindow reports whether s starts within q's time bounds.
func (q *Query) inWindow(s *Span) bool {
	return s.Start >= q.From && (q.To == 0 || s.Start <= q.To)
}

// Store finds spans by keys. Find returns the spans that match q (see
// Query), in any order, each once; the caller owns the returned slice.
// An empty query returns ErrEmptyQuery. Implementations must be safe for
// concurrent use.
type Store interface {
	Find(ctx context.Context, q *Query) ([]Span, error)
}

// Result is what Search gathered.
type Result struct {
	// Spans are the spans found, each once, in the order found.
	Spans []Span
	// Rounds is the number of queries made (the seed's is round 1).
	Rounds int
	// Truncated says the search stopped at Config.MaxSpans or
	// Config.MaxRounds with keys left to follow.
	Truncated bool
}

// Search gathers the spans related to the seed's: round 1 finds the
// seed's spans, each further round the spans sharing a key with those the
// previous round added (TCP sequence numbers, syscall trace ids,
// X-Request-IDs, and trace ids unless Config.IgnoreAppIDs), within
// Config.Window of the time range gathered so far, until a round adds
// nothing, Config.MaxRounds rounds were made or Config.MaxSpans spans
// were found. A seed that finds nothing returns ErrNoSeed; a store's
// failure a *StoreError.
func Search(ctx context.Context, st Store, seed *Query, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if seed.Empty() {
		return nil, ErrEmptyQuery
	}
	res := &Result{}
	seen := make(map[uint64]bool)
	k := newKeys()
	k.mark(seed)
	q := *seed
	var lo, hi int64
	for round := 1; ; round++ {
		res.Rounds = round
		found, err := st.Find(ctx, &q)
		if err != nil {
			return res, &StoreError{Round: round, Err: err}
		}
		first := len(res.Spans)
		for i := range found {
			s := &found[i]
			if seen[s.ID] {
				continue
			}
			if len(res.Spans) >= cfg.MaxSpans {
				res.Truncated = true
				break
			}
			seen[s.ID] = true
			res.Spans = append(res.Spans, *s)
		}
		if round == 1 {
			if len(res.Spans) == 0 {
				return res, ErrNoSeed
			}
			lo, hi = res.Spans[0].Start, res.Spans[0].End
		}
		if res.Truncated {
			return res, nil
		}
		// The next round: the keys of this round's new spans not followed
		// yet, around the time range gathered.
		q = Query{}
		for i := first; i < len(res.Spans); i++ {
			s := &res.Spans[i]
			lo, hi = min(lo, s.Start), max(hi, s.End, s.Start)
			k.add(&q, s, cfg.IgnoreAppIDs)
		}
		if q.Empty() {
			return res, nil
		}
		if round == cfg.MaxRounds {
			res.Truncated = true
			return res, nil
		}
		q.From, q.To = lo-int64(cfg.Window), hi+int64(cfg.Window)
	}
}

// keys remembers the keys a search has followed.
type keys struct {
	trace, xreq map[string]bool
	sys         map[uint64]bool
	seq         map[uint32]bool
}

func newKeys() *keys {
	return &keys{trace: map[string]bool{}, xreq: map[string]bool{}, sys: map[uint64]bool{}, seq: map[uint32]bool{}}
}

func (k *keys) mark(q *Query) {
	for _, x := range q.TraceIDs {
		k.trace[x] = true
	}
	for _, x := range q.XRequestIDs {
		k.xreq[x] = true
	}
	for _, x := range q.SyscallTraceIDs {
		k.sys[x] = true
	}
	for _, x := range q.TCPSeqs {
		k.seq[x] = true
	}
}

// add puts the keys of s not followed yet into q.
func (k *keys) add(q *Query, s *Span, noApp bool) {
	if !noApp && s.TraceID != "" && !k.trace[s.TraceID] {
		k.trace[s.TraceID] = true
		q.TraceIDs = append(q.TraceIDs, s.TraceID)
	}
	for _, x := range [2]string{s.XRequestID0, s.XRequestID1} {
		if x != "" && !k.xreq[x] {
			k.xreq[x] = true
			q.XRequestIDs = append(q.XRequestIDs, x)
		}
	}
	for _, x := range [2]uint64{s.SyscallTraceIDRequest, s.SyscallTraceIDResponse} {
		if x != 0 && !k.sys[x] {
			k.sys[x] = true
			q.SyscallTraceIDs = append(q.SyscallTraceIDs, x)
		}
	}
	if s.Transport != "UDP" {
		for _, x := range [2]uint32{s.ReqTCPSeq, s.RespTCPSeq} {
			if x != 0 && !k.seq[x] {
				k.seq[x] = true
				q.TCPSeqs = append(q.TCPSeqs, x)
			}
		}
	}
}

// Build searches the store from the seed and assembles what it found.
func Build(ctx context.Context, st Store, seed *Query, cfg Config) (*Trace, *Result, error) {
	res, err := Search(ctx, st, seed, cfg)
	if err != nil {
		return nil, res, err
	}
	return Assemble(res.Spans, cfg), res, nil
}

// MemStore is an in-memory Store with an index per key. It is safe for
// concurrent use.
type MemStore struct {
	mu      sync.RWMutex
	spans   []Span
	byID    map[uint64]int
	byTrace map[string][]int
	byXReq  map[string][]int
	bySys   map[uint64][]int
	bySeq   map[uint32][]int
	queries atomic.Uint64
}

// MemStats counts a MemStore's content and work.
type MemStats struct {
	Spans   int
	Queries uint64
}

// ErrDuplicateID: MemStore.Add of a span whose ID is held already.
var ErrDuplicateID = errors.New("autotrace: duplicate span id")

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		byID: map[uint64]int{}, byTrace: map[string][]int{}, byXReq: map[string][]int{},
		bySys: map[uint64][]int{}, bySeq: map[uint32][]int{},
	}
}

// Add stores spans. A span with ID 0 gets the next free id (the number of
// spans held plus one, or more); a span whose ID is held already is not
// stored and Add returns ErrDuplicateID after storing the others.
func (m *MemStore) Add(spans ...Span) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	for _, s := range spans {
		if s.ID == 0 {
			s.ID = uint64(len(m.spans)) + 1
			for m.byID[s.ID] != 0 {
				s.ID++
			}
		}
		if _, ok := m.byID[s.ID]; ok {
			err = ErrDuplicateID
			continue
		}
		i := len(m.spans)
		m.spans = append(m.spans, s)
		m.byID[s.ID] = i
		if s.TraceID != "" {
			m.byTrace[s.TraceID] = append(m.byTrace[s.TraceID], i)
		}
		for _, x := range uniq2(s.XRequestID0, s.XRequestID1) {
			m.byXReq[x] = append(m.byXReq[x], i)
		}
		for _, x := range uniq2(s.SyscallTraceIDRequest, s.SyscallTraceIDResponse) {
			m.bySys[x] = append(m.bySys[x], i)
		}
		for _, x := range uniq2(s.ReqTCPSeq, s.RespTCPSeq) {
			m.bySeq[x] = append(m.bySeq[x], i)
		}
	}
	return err
}

// uniq2 returns the non-zero values of a and b, once each.
func uniq2[T comparable](a, b T) []T {
	var zero T
	switch {
	case a == zero && b == zero:
		return nil
	case a == zero || a == b:
		return []T{b}
	case b == zero:
		return []T{a}
	}
	return []T{a, b}
}

// Find implements Store.
func (m *MemStore) Find(ctx context.Context, q *Query) ([]Span, error) {
	if q.Empty() {
		return nil, ErrEmptyQuery
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.queries.Add(1)
	m.mu.RLock()
	defer m.mu.RUnlock()
	var idx []int
	for _, id := range q.IDs {
		if i, ok := m.byID[id]; ok {
			idx = append(idx, i)
		}
	}
	for _, k := range q.TraceIDs {
		idx = append(idx, m.byTrace[k]...)
	}
	for _, k := range q.XRequestIDs {
		idx = append(idx, m.byXReq[k]...)
	}
	for _, k := range q.SyscallTraceIDs {
		idx = append(idx, m.bySys[k]...)
	}
	for _, k := range q.TCPSeqs {
		idx = append(idx, m.bySeq[k]...)
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	out := make([]Span, 0, len(idx))
	for _, i := range idx {
		if q.inWindow(&m.spans[i]) {
			out = append(out, m.spans[i])
		}
	}
	return out, nil
}

// Len returns the number of spans held.
func (m *MemStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.spans)
}

// Stats returns the counters.
func (m *MemStore) Stats() MemStats {
	return MemStats{Spans: m.Len(), Queries: m.queries.Load()}
}
