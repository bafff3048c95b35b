package autotrace

import (
	"context"
	"errors"
	"net/netip"
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
	// Flows match spans on a flow (client and server address and port)
	// starting within the flow's own time range: the observations of a
	// UDP call (which has no sequence numbers), and the application spans
	// that name their socket with the network spans of their call.
	Flows []Flow
}

// Flow is a client and a server address and port, and a range of start
// times (unix ns, inclusive).
type Flow struct {
	Client, Server netip.AddrPort
	From, To       int64
}

// Empty reports whether q has no key.
func (q *Query) Empty() bool {
	return len(q.IDs) == 0 && len(q.TraceIDs) == 0 && len(q.XRequestIDs) == 0 &&
		len(q.SyscallTraceIDs) == 0 && len(q.TCPSeqs) == 0 && len(q.Flows) == 0
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
	// Seeds are the IDs of the spans the seed query found.
	Seeds []uint64
	// Rounds is the number of queries made (the seed's is round 1).
	Rounds int
	// Truncated says the search stopped at Config.MaxSpans or
	// Config.MaxRounds with keys left to follow.
	Truncated bool
}

// Search gathers the spans of the seed's trace. Round 1 finds the
// seed's spans; after each round the spans gathered are assembled, and the
// next round asks for the keys not followed yet (TCP sequence numbers,
// syscall trace ids, X-Request-IDs, UDP flows, and unless
// Config.IgnoreAppIDs trace ids and every flow, for application spans) of the spans in the seeds' trees, plus the syscall
// ids of the client-process spans of a process whose calls at a tree's
// root still look for their parent (a thread's chain of calls; at most 16
// rounds per process), within Config.Window of the trees' time range.
// Spans a key found but that nothing relates to the trees are kept (the
// caller's Assemble leaves them as other roots) but not followed, so a
// search does not crawl from request to request through shared servers.
// It stops when a round asks for nothing, after Config.MaxRounds rounds or
// at Config.MaxSpans spans (Result.Truncated). A seed that finds nothing
// returns ErrNoSeed; a store's failure a *StoreError.
func Search(ctx context.Context, st Store, seed *Query, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if seed.Empty() {
		return nil, ErrEmptyQuery
	}
	res := &Result{}
	seen := make(map[uint64]bool)
	seeds := make(map[uint64]bool)
	all := make(map[uint64]bool) // spans whose keys were followed
	sys := make(map[uint64]bool) // spans whose syscall ids were followed
	walks := make(map[proc]int)  // rounds a process's chain was walked outside the trees
	k := newKeys()
	k.mark(seed)
	q := *seed
	for round := 1; ; round++ {
		res.Rounds = round
		found, err := st.Find(ctx, &q)
		if err != nil {
			return res, &StoreError{Round: round, Err: err}
		}
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
			if round == 1 {
				seeds[s.ID] = true
				res.Seeds = append(res.Seeds, s.ID)
			}
		}
		if round == 1 && len(res.Spans) == 0 {
			return res, ErrNoSeed
		}
		if res.Truncated {
			return res, nil
		}
		q = Query{}
		walked := map[proc]bool{}
		lo, hi := frontier(res.Spans, seeds, cfg, func(s *Span, every bool) {
			switch {
			case every && !all[s.ID]:
				all[s.ID], sys[s.ID] = true, true
				k.add(&q, s, cfg.IgnoreAppIDs, int64(cfg.Tolerance))
			case !every && !sys[s.ID]:
				p := proc{s.Agent, s.ProcessID0}
				if walks[p] >= maxWalk {
					return
				}
				sys[s.ID] = true
				k.addSyscall(&q, s)
				walked[p] = true
			}
		})
		for p := range walked {
			walks[p]++
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

// proc is a process of an agent.
type proc struct {
	agent string
	pid   uint32
}

// maxWalk bounds the rounds a search walks one process's chain of calls
// outside the trees it builds: a pure client (a load generator) has no
// server span to reach, and its threads' ids chain through all its calls.
const maxWalk = 16

// frontier decides whose keys the next round follows. It assembles the
// spans gathered so far and calls follow(s, true) for every span of the
// seeds' trees (all its keys), and follow(s, false) for the client-process
// spans outside them that belong to a process whose calls at the trees'
// roots are still looking for their parent (only their syscall ids: the
// chain of a thread's calls leads to the request they were made for). A
// span related to nothing in the trees is not followed, so a search does
// not crawl from request to request through shared servers. It returns
// the trees' time range.
func frontier(spans []Span, seeds map[uint64]bool, cfg Config, follow func(s *Span, all bool)) (lo, hi int64) {
	tr := Assemble(spans, cfg)
	root := make([]int, len(tr.Nodes))
	inSeedTree := make(map[int]bool) // root node index
	for i := range tr.Nodes {
		root[i] = i
		if p := tr.Nodes[i].Parent; p >= 0 {
			root[i] = root[p]
		}
		if seeds[tr.Nodes[i].ID] {
			inSeedTree[root[i]] = true
		}
	}
	open := make(map[proc]bool) // processes of client-process spans at the roots
	first := true
	for i := range tr.Nodes {
		n := &tr.Nodes[i]
		if !inSeedTree[root[i]] {
			continue
		}
		if first {
			lo, hi, first = n.Start, max(n.End, n.Start), false
		}
		lo, hi = min(lo, n.Start), max(hi, n.End, n.Start)
		follow(&n.Span, true)
		if n.TapSide == ClientProcess && n.Call == tr.Nodes[root[i]].Call {
			open[proc{n.Agent, n.ProcessID0}] = true
		}
	}
	for i := range tr.Nodes {
		n := &tr.Nodes[i]
		if !inSeedTree[root[i]] && n.TapSide == ClientProcess && open[proc{n.Agent, n.ProcessID0}] {
			follow(&n.Span, false)
		}
	}
	return lo, hi
}

// keys remembers the keys a search has followed.
type keys struct {
	trace, xreq map[string]bool
	sys         map[uint64]bool
	seq         map[uint32]bool
	flow        map[Flow]bool
}

func newKeys() *keys {
	return &keys{trace: map[string]bool{}, xreq: map[string]bool{}, sys: map[uint64]bool{}, seq: map[uint32]bool{}, flow: map[Flow]bool{}}
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
	for _, x := range q.Flows {
		k.flow[x] = true
	}
}

// add puts the keys of s not followed yet into q; tol widens its flow's
// time range.
func (k *keys) add(q *Query, s *Span, noApp bool, tol int64) {
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
	k.addSyscall(q, s)
	if s.Transport != "UDP" {
		for _, x := range [2]uint32{s.ReqTCPSeq, s.RespTCPSeq} {
			if x != 0 && !k.seq[x] {
				k.seq[x] = true
				q.TCPSeqs = append(q.TCPSeqs, x)
			}
		}
	}
	// Flows: a UDP span's, and with application ids any span's that names
	// both ends (to meet the application spans of its call, or the
	// observations of an application span's call).
	if s.Client.IsValid() && s.Server.IsValid() && s.Client.Port() != 0 && s.Server.Port() != 0 &&
		(s.Transport == "UDP" && !s.TapSide.IsApp() || !noApp) {
		f := Flow{s.Client, s.Server, s.Start - tol, max(s.End, s.Start) + tol}
		if !k.flow[f] {
			k.flow[f] = true
			q.Flows = append(q.Flows, f)
		}
	}
}

// addSyscall puts the syscall trace ids of s not followed yet into q.
func (k *keys) addSyscall(q *Query, s *Span) {
	for _, x := range [2]uint64{s.SyscallTraceIDRequest, s.SyscallTraceIDResponse} {
		if x != 0 && !k.sys[x] {
			k.sys[x] = true
			q.SyscallTraceIDs = append(q.SyscallTraceIDs, x)
		}
	}
}

// Build searches the store from the seed, assembles what it found and
// returns the trees holding the seed's spans (a search may gather spans
// that turn out to be related to nothing of them: Result.Spans has every
// span found).
func Build(ctx context.Context, st Store, seed *Query, cfg Config) (*Trace, *Result, error) {
	res, err := Search(ctx, st, seed, cfg)
	if err != nil {
		return nil, res, err
	}
	return Assemble(res.Spans, cfg).Trees(res.Seeds...), res, nil
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
	byFlow  map[Flow][]int
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
		bySys: map[uint64][]int{}, bySeq: map[uint32][]int{}, byFlow: map[Flow][]int{},
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
		if s.Client.IsValid() && s.Server.IsValid() {
			f := Flow{Client: s.Client, Server: s.Server}
			m.byFlow[f] = append(m.byFlow[f], i)
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
	for _, k := range q.Flows {
		for _, i := range m.byFlow[Flow{Client: k.Client, Server: k.Server}] {
			if st := m.spans[i].Start; st >= k.From && st <= k.To {
				idx = append(idx, i)
			}
		}
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
