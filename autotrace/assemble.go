package autotrace

import (
	"cmp"
	"net/netip"
	"slices"
)

// Node is one span of an assembled trace with its place in the tree.
type Node struct {
	Span
	// Parent is the index of the parent node in Trace.Nodes; -1 for a
	// root.
	Parent int
	// Rule is the rule that linked the node to its parent (RuleNone for a
	// root): RuleTCPSeq (or RuleAppID for an application span) between
	// observations of one call, another rule between calls.
	Rule Rule
	// Call numbers the calls of the trace: the nodes observing one call
	// (de-duplicated by tcp_seq or by span id) share it.
	Call int
	// Depth is 0 for a root.
	Depth int
}

// Trace is an assembled trace: a forest of nodes. Every span appears
// once; parents come before their children (depth first, siblings by
// start time), so the tree has no cycle.
type Trace struct {
	Nodes []Node
	// Calls is the number of distinct calls.
	Calls int
	// Duplicates counts input spans dropped because their ID was seen
	// already; AppDropped counts application spans left out by
	// Config.IgnoreAppIDs.
	Duplicates, AppDropped int
}

// Edge is a parent -> child link of a trace.
type Edge struct {
	Parent, Child         uint64 // span IDs
	ParentCall, ChildCall int    // Node.Call of each
	Rule                  Rule
}

// Edges returns the trace's parent -> child links, in node order.
func (t *Trace) Edges() []Edge {
	var es []Edge
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Parent < 0 {
			continue
		}
		p := &t.Nodes[n.Parent]
		es = append(es, Edge{Parent: p.ID, Child: n.ID, ParentCall: p.Call, ChildCall: n.Call, Rule: n.Rule})
	}
	return es
}

// CallEdges returns the links between calls (parent call -> child call),
// leaving out the links between observations of one call.
func (t *Trace) CallEdges() []Edge {
	var es []Edge
	for _, e := range t.Edges() {
		if e.ParentCall != e.ChildCall {
			es = append(es, e)
		}
	}
	return es
}

// Roots returns the indexes of the root nodes.
func (t *Trace) Roots() []int {
	var r []int
	for i := range t.Nodes {
		if t.Nodes[i].Parent < 0 {
			r = append(r, i)
		}
	}
	return r
}

// Trees returns the trees of t (a root and its descendants) that hold a
// span of ids, in t's order, as a trace of their own.
func (t *Trace) Trees(ids ...uint64) *Trace {
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := &Trace{Duplicates: t.Duplicates, AppDropped: t.AppDropped}
	calls := map[int]bool{}
	for r := 0; r < len(t.Nodes); {
		end := r + 1 // depth first: a tree is contiguous
		for end < len(t.Nodes) && t.Nodes[end].Parent >= 0 {
			end++
		}
		keep := false
		for i := r; i < end && !keep; i++ {
			keep = want[t.Nodes[i].ID]
		}
		if keep {
			shift := len(out.Nodes) - r
			for i := r; i < end; i++ {
				n := t.Nodes[i]
				if n.Parent >= 0 {
					n.Parent += shift
				}
				out.Nodes = append(out.Nodes, n)
				calls[n.Call] = true
			}
		}
		r = end
	}
	out.Calls = len(calls)
	return out
}

// uf is a union-find over 0..n-1.
type uf []int32

func newUF(n int) uf {
	u := make(uf, n)
	for i := range u {
		u[i] = int32(i)
	}
	return u
}

func (u uf) find(i int) int {
	for int(u[i]) != i {
		u[i] = u[u[i]]
		i = int(u[i])
	}
	return i
}

func (u uf) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a != b {
		if a < b {
			u[b] = int32(a)
		} else {
			u[a] = int32(b)
		}
	}
}

// call is a group of spans observing one request.
type call struct {
	members    []int // span indexes, in path order
	start, end int64
	parent     int  // call index; -1: none
	parentSpan int  // span index the top member hangs from
	rule       Rule // rule of the link to parent
}

type seqKey struct {
	client, server netip.AddrPort
	seq            uint32
	resp           bool
}

type appKey struct{ trace, span string }

type procKey struct {
	agent string
	pid   uint32
	id    uint64
}

// assembler holds one Assemble's state.
type assembler struct {
	cfg    Config
	tol    int64
	spans  []Span
	callOf []int // span index -> call index
	calls  []call
	seqOf  uf // spans joined by tcp_seq alone
}

// Assemble relates spans and returns them as a trace: spans observing one
// call are chained in path order (c-app, c-p, c, ..., s, s-p, s-app), and
// each call hangs from the call that caused it, by the first rule that
// finds one in this order: app_id, x_request_id, syscall. A link that would
// close a cycle is not made, so the result is always a forest. The rules
// are described in the package documentation. spans is not modified.
func Assemble(spans []Span, cfg Config) *Trace {
	cfg = cfg.withDefaults()
	a := &assembler{cfg: cfg, tol: int64(cfg.Tolerance)}
	t := &Trace{}
	seen := make(map[uint64]bool, len(spans))
	a.spans = make([]Span, 0, len(spans))
	for i := range spans {
		s := &spans[i]
		if seen[s.ID] {
			t.Duplicates++
			continue
		}
		seen[s.ID] = true
		if cfg.IgnoreAppIDs && s.TapSide.IsApp() {
			t.AppDropped++
			continue
		}
		a.spans = append(a.spans, *s)
	}
	a.group()
	a.link()
	a.tree(t)
	return t
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// sameCall reports whether network or process spans x and y with a common
// sequence number are one call: no conflicting number, times within the
// tolerance, no conflicting protocol.
func (a *assembler) sameCall(x, y *Span) bool {
	if x.ReqTCPSeq != 0 && y.ReqTCPSeq != 0 && x.ReqTCPSeq != y.ReqTCPSeq {
		return false
	}
	if x.RespTCPSeq != 0 && y.RespTCPSeq != 0 && x.RespTCPSeq != y.RespTCPSeq {
		return false
	}
	if absDiff(x.Start, y.Start) > a.tol && absDiff(x.End, y.End) > a.tol {
		return false
	}
	known := func(p string) bool { return p != "" && p != "unknown" }
	if known(x.L7Protocol) && known(y.L7Protocol) && x.L7Protocol != y.L7Protocol {
		return false
	}
	return true
}

// group forms the calls: tcp_seq and span-id de-duplication.
func (a *assembler) group() {
	n := len(a.spans)
	u := newUF(n)
	if a.cfg.Rules.Has(RuleTCPSeq) {
		bySeq := make(map[seqKey][]int)
		for i := range a.spans {
			s := &a.spans[i]
			if s.TapSide.IsApp() || s.Transport == "UDP" {
				continue
			}
			for _, k := range [2]seqKey{{s.Client, s.Server, s.ReqTCPSeq, false}, {s.Client, s.Server, s.RespTCPSeq, true}} {
				if k.seq == 0 {
					continue
				}
				for _, j := range bySeq[k] {
					if a.sameCall(s, &a.spans[j]) {
						u.union(i, j)
					}
				}
				if len(bySeq[k]) < 64 {
					bySeq[k] = append(bySeq[k], i)
				}
			}
		}
		a.groupUDP(u)
	}
	a.seqOf = slices.Clone(u)
	if a.cfg.Rules.Has(RuleAppID) {
		// An application span and the network spans that carry its span
		// id (the header its call sent) are one call; application spans
		// with one id too (B3's shared spans). Network spans are not
		// merged by span id alone: a caller may send one id on many calls.
		firstApp := make(map[appKey]int)
		for i := range a.spans {
			s := &a.spans[i]
			if s.TraceID != "" && s.SpanID != "" && s.TapSide.IsApp() {
				k := appKey{s.TraceID, s.SpanID}
				if j, ok := firstApp[k]; ok {
					u.union(i, j)
				} else {
					firstApp[k] = i
				}
			}
		}
		joined := make(map[int]bool)
		for i := range a.spans {
			s := &a.spans[i]
			if s.TraceID != "" && s.SpanID != "" && !s.TapSide.IsApp() {
				if j, ok := firstApp[appKey{s.TraceID, s.SpanID}]; ok {
					u.union(i, j)
					joined[j] = true
				}
			}
		}
		a.groupAppFlows(u, joined)
	}
	a.callOf = make([]int, n)
	index := make(map[int]int)
	for i := range a.spans {
		r := u.find(i)
		c, ok := index[r]
		if !ok {
			c = len(a.calls)
			index[r] = c
			a.calls = append(a.calls, call{parent: -1, parentSpan: -1})
		}
		a.callOf[i] = c
		a.calls[c].members = append(a.calls[c].members, i)
	}
	for ci := range a.calls {
		c := &a.calls[ci]
		slices.SortFunc(c.members, func(x, y int) int {
			sx, sy := &a.spans[x], &a.spans[y]
			if d := cmp.Compare(sx.TapSide.order(), sy.TapSide.order()); d != 0 {
				return d
			}
			if d := cmp.Compare(sx.Start, sy.Start); d != 0 {
				return d
			}
			return cmp.Compare(sx.ID, sy.ID)
		})
		c.start, c.end = a.spans[c.members[0]].Start, a.spans[c.members[0]].End
		for _, m := range c.members {
			s := &a.spans[m]
			c.start = min(c.start, s.Start)
			c.end = max(c.end, s.End, s.Start)
		}
	}
}

// groupAppFlows joins an application span that names its socket (client
// and server address and port, from the semantic conventions' network
// attributes) to the call observed on that flow whose time overlaps its
// own the most (else whose start is nearest, within the tolerance): the OTel span of a call and its eBPF and
// packet observations are one call, so a trace mixing them has no
// duplicates. Application spans already joined by span id are left alone.
func (a *assembler) groupAppFlows(u uf, joined map[int]bool) {
	type pair struct{ client, server netip.AddrPort }
	var byPair map[pair][]int
	for i := range a.spans {
		s := &a.spans[i]
		if !s.TapSide.IsApp() || joined[i] || !s.Client.IsValid() || !s.Server.IsValid() || s.Client.Port() == 0 || s.Server.Port() == 0 {
			continue
		}
		if byPair == nil {
			byPair = make(map[pair][]int)
			for j := range a.spans {
				o := &a.spans[j]
				if !o.TapSide.IsApp() {
					k := pair{o.Client, o.Server}
					byPair[k] = append(byPair[k], j)
				}
			}
			for _, l := range byPair {
				slices.SortFunc(l, func(x, y int) int { return cmp.Compare(a.spans[x].Start, a.spans[y].Start) })
			}
		}
		l := byPair[pair{s.Client, s.Server}]
		lo, _ := slices.BinarySearchFunc(l, s.Start-a.tol, func(j int, t int64) int { return cmp.Compare(a.spans[j].Start, t) })
		// The observation overlapping the span the most (calls on a pooled
		// connection follow each other closely), else the nearest start.
		best, bestOver := -1, int64(0)
		for _, j := range l[lo:] {
			o := &a.spans[j]
			if o.Start > max(s.End, s.Start)+a.tol {
				break
			}
			over := min(max(o.End, o.Start), max(s.End, s.Start)) - max(o.Start, s.Start)
			if best < 0 || over > bestOver || (over == bestOver && absDiff(o.Start, s.Start) < absDiff(a.spans[best].Start, s.Start)) {
				best, bestOver = j, max(over, 0)
			}
		}
		if best >= 0 {
			u.union(i, best)
		}
	}
}

// groupUDP joins UDP spans of one call seen at several points (no
// sequence numbers): same client and server address and port, start times
// within the tolerance, equal request ids (a DNS id) and resources where
// both have them.
func (a *assembler) groupUDP(u uf) {
	type pair struct{ client, server netip.AddrPort }
	byPair := make(map[pair][]int)
	for i := range a.spans {
		s := &a.spans[i]
		if s.TapSide.IsApp() || s.Transport != "UDP" {
			continue
		}
		k := pair{s.Client, s.Server}
		l := byPair[k]
		for _, j := range l[max(0, len(l)-64):] {
			o := &a.spans[j]
			if absDiff(s.Start, o.Start) > a.tol || (s.HasRequestID && o.HasRequestID && s.RequestID != o.RequestID) ||
				(s.RequestResource != "" && o.RequestResource != "" && s.RequestResource != o.RequestResource) ||
				(s.L7Protocol != o.L7Protocol) {
				continue
			}
			u.union(i, j)
		}
		byPair[k] = append(l, i)
	}
}

// contains reports whether call p's time contains call c's, within the
// tolerance.
func (a *assembler) contains(p, c *call) bool {
	return p.start-a.tol <= c.start && c.end <= p.end+a.tol
}

// wouldCycle reports whether hanging call c from call p closes a cycle.
func (a *assembler) wouldCycle(p, c int) bool {
	for i := 0; p >= 0 && i <= len(a.calls); i++ {
		if p == c {
			return true
		}
		p = a.calls[p].parent
	}
	return false
}

// link finds each call's parent.
func (a *assembler) link() {
	var app map[appKey]int
	if a.cfg.Rules.Has(RuleAppID) {
		app = make(map[appKey]int)
		for i := range a.spans {
			s := &a.spans[i]
			if s.TraceID != "" && s.SpanID != "" {
				k := appKey{s.TraceID, s.SpanID}
				// Prefer the call holding an application span of that id.
				if _, ok := app[k]; !ok || s.TapSide.IsApp() {
					app[k] = a.callOf[i]
				}
			}
		}
	}
	var xreq map[string][]int
	if a.cfg.Rules.Has(RuleXRequestID) {
		xreq = make(map[string][]int)
		for i := range a.spans {
			s := &a.spans[i]
			for _, x := range [2]string{s.XRequestID0, s.XRequestID1} {
				if x == "" {
					continue
				}
				l := xreq[x]
				if c := a.callOf[i]; !slices.Contains(l, c) && len(l) < 64 {
					xreq[x] = append(l, c)
				}
			}
		}
	}
	var sys *syscallIndex
	if a.cfg.Rules.Has(RuleSyscall) {
		sys = a.syscalls()
	}
	order := make([]int, len(a.calls))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(a.calls[x].start, a.calls[y].start) })
	for _, ci := range order {
		if app != nil && a.linkApp(ci, app) {
			continue
		}
		if xreq != nil && a.linkXRequestID(ci, xreq) {
			continue
		}
		if sys != nil {
			a.linkSyscall(ci, sys)
		}
	}
}

// setParent hangs call c from span ps of call p unless that closes a cycle.
func (a *assembler) setParent(c, p, ps int, r Rule) bool {
	if p == c || a.wouldCycle(p, c) {
		return false
	}
	cc := &a.calls[c]
	cc.parent, cc.parentSpan, cc.rule = p, ps, r
	return true
}

func (a *assembler) bottom(c int) int {
	m := a.calls[c].members
	return m[len(m)-1]
}

// linkApp: a span of the call whose parent_span_id is another call's span
// id (in the same trace) makes that call the parent.
func (a *assembler) linkApp(ci int, app map[appKey]int) bool {
	for _, m := range a.calls[ci].members {
		s := &a.spans[m]
		if s.TraceID == "" || s.ParentSpanID == "" {
			continue
		}
		if p, ok := app[appKey{s.TraceID, s.ParentSpanID}]; ok && a.setParent(ci, p, a.bottom(p), RuleAppID) {
			return true
		}
	}
	return false
}

// linkXRequestID: the call's request carries an X-Request-ID R, and
// another call that contains it in time carries R too, either in its
// response (x_request_id_1: a proxy generated R and returned it, DeepFlow's
// rule) or in its request with the proxy on its server side (its server
// address is the call's client address, or its server process is the
// call's client process): the proxy's inbound call. Among several, the
// latest to start.
func (a *assembler) linkXRequestID(ci int, xreq map[string][]int) bool {
	c := &a.calls[ci]
	best := -1
	for _, m := range c.members {
		s := &a.spans[m]
		if s.XRequestID0 == "" {
			continue
		}
		for _, p := range xreq[s.XRequestID0] {
			pc := &a.calls[p]
			if p == ci || !a.contains(pc, c) || pc.start > c.start {
				continue
			}
			if !a.returns(p, s.XRequestID0) && !a.proxies(p, ci) {
				continue
			}
			if best < 0 || pc.start > a.calls[best].start {
				best = p
			}
		}
	}
	return best >= 0 && a.setParent(ci, best, a.bottom(best), RuleXRequestID)
}

// returns reports whether a span of call p has x in x_request_id_1.
func (a *assembler) returns(p int, x string) bool {
	for _, m := range a.calls[p].members {
		if a.spans[m].XRequestID1 == x {
			return true
		}
	}
	return false
}

// proxies reports whether call p's server is call c's client: an address,
// or a process (s-p of p, c-p of c, one agent).
func (a *assembler) proxies(p, c int) bool {
	for _, m := range a.calls[p].members {
		ps := &a.spans[m]
		for _, k := range a.calls[c].members {
			cs := &a.spans[k]
			if ps.Server.Addr().IsValid() && ps.Server.Addr() == cs.Client.Addr() {
				return true
			}
			if ps.TapSide == ServerProcess && cs.TapSide == ClientProcess && ps.ProcessID1 != 0 &&
				ps.ProcessID1 == cs.ProcessID0 && ps.Agent == cs.Agent {
				return true
			}
		}
	}
	return false
}

// syscallIndex relates syscall trace ids within one process (agent and
// pid). Every id is started by one ingress read: a server-process span's
// request read (S.req) or a client-process span's response read (C.resp);
// the thread's egress calls that follow carry it (C.req, S.resp).
type syscallIndex struct {
	sReq  map[procKey]int   // id -> s-p span whose request read started it
	sResp map[procKey][]int // id -> s-p spans whose response write carried it
	cResp map[procKey]int   // id -> c-p span whose response read started it
	cReq  map[procKey][]int // id -> c-p spans whose request carried it
	back  map[int]int       // c-p span -> parent found backward (-1 none)
	fwd   map[int]int       // c-p span -> parent found forward (-1 none)
}

func (a *assembler) syscalls() *syscallIndex {
	x := &syscallIndex{sReq: map[procKey]int{}, sResp: map[procKey][]int{}, cResp: map[procKey]int{},
		cReq: map[procKey][]int{}, back: map[int]int{}, fwd: map[int]int{}}
	for i := range a.spans {
		s := &a.spans[i]
		pid := s.process()
		if pid == 0 {
			continue
		}
		req, resp := procKey{s.Agent, pid, s.SyscallTraceIDRequest}, procKey{s.Agent, pid, s.SyscallTraceIDResponse}
		switch s.TapSide {
		case ServerProcess:
			if req.id != 0 {
				x.sReq[req] = i
			}
			if resp.id != 0 {
				x.sResp[resp] = append(x.sResp[resp], i)
			}
		case ClientProcess:
			if resp.id != 0 && resp.id != req.id {
				x.cResp[resp] = i
			}
			if req.id != 0 {
				x.cReq[req] = append(x.cReq[req], i)
			}
		}
	}
	return x
}

// maxChain bounds a walk along one thread's calls.
const maxChain = 256

// encloses reports whether server-process span s contains client-process
// span c in time, within the process tolerance (one host, one clock).
func (a *assembler) encloses(s, c *Span) bool {
	tol := int64(a.cfg.ProcessTolerance)
	return s.Start-tol <= c.Start && c.End <= max(s.End, s.Start)+tol
}

// parentBack walks backward from c-p span ci: the read that started its
// request's id was the parent's request read, or a previous call's
// response read (whose parent it then shares).
func (a *assembler) parentBack(x *syscallIndex, ci, depth int) int {
	if p, ok := x.back[ci]; ok {
		return p
	}
	x.back[ci] = -1 // a cycle of ids ends here
	c := &a.spans[ci]
	k := procKey{c.Agent, c.ProcessID0, c.SyscallTraceIDRequest}
	p := -1
	if k.id != 0 {
		if si, ok := x.sReq[k]; ok {
			if a.encloses(&a.spans[si], c) {
				p = si
			}
		} else if prev, ok := x.cResp[k]; ok && prev != ci && depth < maxChain {
			if q := a.parentBack(x, prev, depth+1); q >= 0 && a.encloses(&a.spans[q], c) {
				p = q
			}
		}
	}
	x.back[ci] = p
	return p
}

// parentFwd walks forward from c-p span ci: the id its response read
// started was carried by the parent's response write, or by the next
// call's request (whose parent it then shares).
func (a *assembler) parentFwd(x *syscallIndex, ci, depth int) int {
	if p, ok := x.fwd[ci]; ok {
		return p
	}
	x.fwd[ci] = -1
	c := &a.spans[ci]
	k := procKey{c.Agent, c.ProcessID0, c.SyscallTraceIDResponse}
	p := -1
	if k.id != 0 && k.id != c.SyscallTraceIDRequest {
		for _, si := range x.sResp[k] {
			if a.encloses(&a.spans[si], c) {
				p = si
				break
			}
		}
		if p < 0 && depth < maxChain {
			for _, next := range x.cReq[k] {
				if next == ci {
					continue
				}
				if q := a.parentFwd(x, next, depth+1); q >= 0 && a.encloses(&a.spans[q], c) {
					p = q
					break
				}
			}
		}
	}
	x.fwd[ci] = p
	return p
}

// linkSyscall hangs the call from the server-process span a client-process
// span of it was made for: found forward from its response's id, else
// backward from its request's. Forward first: a response is relayed by
// the handler that reads it, whereas a request may be written in another
// request's turn (an event loop's non-blocking connect completing, a
// goroutine on a thread that last served another request).
func (a *assembler) linkSyscall(ci int, x *syscallIndex) bool {
	for _, m := range a.calls[ci].members {
		if a.spans[m].TapSide != ClientProcess {
			continue
		}
		p := a.parentFwd(x, m, 0)
		if p < 0 {
			p = a.parentBack(x, m, 0)
		}
		if p >= 0 && a.callOf[p] != ci && a.setParent(ci, a.callOf[p], p, RuleSyscall) {
			return true
		}
	}
	return false
}

// tree lays the calls out as nodes, depth first.
func (a *assembler) tree(t *Trace) {
	t.Calls = len(a.calls)
	parent := make([]int, len(a.spans)) // span -> parent span, -1
	rule := make([]Rule, len(a.spans))
	children := make([][]int, len(a.spans))
	var roots []int
	for ci := range a.calls {
		c := &a.calls[ci]
		for k, m := range c.members {
			switch {
			case k > 0:
				parent[m] = c.members[k-1]
				rule[m] = RuleAppID
				if a.seqOf.find(m) == a.seqOf.find(c.members[k-1]) {
					rule[m] = RuleTCPSeq
				}
			case c.parent >= 0:
				parent[m] = c.parentSpan
				rule[m] = c.rule
			default:
				parent[m] = -1
				roots = append(roots, m)
			}
			if parent[m] >= 0 {
				children[parent[m]] = append(children[parent[m]], m)
			}
		}
	}
	byStart := func(x, y int) int {
		if d := cmp.Compare(a.spans[x].Start, a.spans[y].Start); d != 0 {
			return d
		}
		return cmp.Compare(a.spans[x].ID, a.spans[y].ID)
	}
	slices.SortFunc(roots, byStart)
	t.Nodes = make([]Node, 0, len(a.spans))
	pos := make([]int, len(a.spans))
	type item struct{ span, parentNode, depth int }
	stack := make([]item, 0, 64)
	for _, r := range slices.Backward(roots) {
		stack = append(stack, item{r, -1, 0})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pos[it.span] = len(t.Nodes)
		t.Nodes = append(t.Nodes, Node{Span: a.spans[it.span], Parent: it.parentNode, Rule: rule[it.span], Call: a.callOf[it.span], Depth: it.depth})
		if it.parentNode < 0 {
			t.Nodes[len(t.Nodes)-1].Rule = RuleNone
		}
		ch := children[it.span]
		slices.SortFunc(ch, byStart)
		for _, c := range slices.Backward(ch) {
			stack = append(stack, item{c, pos[it.span], it.depth + 1})
		}
	}
}
