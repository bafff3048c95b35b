package autotrace

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// TruthCall is one call as a service logged it itself (ground truth):
// the caller's socket (Client) and the callee's (Server), and the times
// the caller measured. A Client with port 0 is known by its address
// alone (a proxy that does not log its upstream port); XRequestID, when
// set, then picks the observed call whose request carried it.
type TruthCall struct {
	Client, Server netip.AddrPort
	Start, End     int64 // unix ns
	XRequestID     string
}

// TruthRequest is one inbound request a service handled and the calls it
// made while handling it. Kind names the service's concurrency model
// ("thread-per-request", "goroutines", "proxy", ...); a request with no
// Inbound (a load generator's) has the request it sent as its only call,
// which is then a root of the truth.
type TruthRequest struct {
	Service, Kind string
	Inbound       *TruthCall
	Calls         []TruthCall
}

// Score counts parent -> child edges: Truth edges in the ground truth,
// Predicted edges that could be judged (their child is a call the truth
// knows), Correct ones (the truth gives the child that parent).
type Score struct {
	Truth, Predicted, Correct int
}

// Precision is Correct / Predicted (1 when nothing was predicted).
func (s Score) Precision() float64 {
	if s.Predicted == 0 {
		return 1
	}
	return float64(s.Correct) / float64(s.Predicted)
}

// Recall is Correct / Truth (1 when the truth has no edge).
func (s Score) Recall() float64 {
	if s.Truth == 0 {
		return 1
	}
	return float64(s.Correct) / float64(s.Truth)
}

func (s Score) String() string {
	return fmt.Sprintf("precision %.1f%% (%d/%d) recall %.1f%% (%d/%d)",
		100*s.Precision(), s.Correct, s.Predicted, 100*s.Recall(), s.Correct, s.Truth)
}

// Accuracy is how an assembled trace's call edges compare with the ground
// truth. Edges are between calls (observations of one call count once).
type Accuracy struct {
	// Total scores every edge. Its Truth counts the truth edges whose
	// two calls were both observed; Unobserved the others (the capture's
	// coverage, not the assembly's).
	Total      Score
	Unobserved int
	// ByRule scores the edges each rule made; a rule's Truth is the whole
	// truth (its recall is the share of edges it found).
	ByRule map[Rule]*Score
	// ByKind scores edges by the kind of the service that made the child
	// call ("proxy", "thread-per-request", "goroutines"); "root" holds the
	// predicted parents of calls the truth has none for.
	ByKind map[string]*Score
	// TruthCalls and MatchedCalls count the truth's distinct calls and
	// those matched to an observed call.
	TruthCalls, MatchedCalls int
	// Wrong, Missed and UnobservedCalls list up to 10 examples each of
	// predicted edges the truth contradicts, truth edges not predicted,
	// and truth calls no observed call matched.
	Wrong, Missed, UnobservedCalls []string
}

// Evaluate compares the call edges of t with the ground truth. A truth
// call matches the observed call that has a span on the same client and
// server address and port (the address alone for a Client without port,
// with the X-Request-ID when given) starting within [Start-tol, End+tol],
// the nearest to Start when several do; an inbound request matches as the
// call it is, within [Start-10*tol, End+tol]: a service logs a request's
// start after reading it, which under load can be milliseconds after its
// first byte arrived.
func Evaluate(t *Trace, truth []TruthRequest, tol time.Duration) *Accuracy {
	acc := &Accuracy{ByRule: map[Rule]*Score{}, ByKind: map[string]*Score{}}
	m := newMatcher(t, int64(tol))
	type edge struct{ p, c int }
	truthParent := map[int]int{}  // child call -> parent call
	kindOf := map[int]string{}    // child call -> kind of its caller
	isTruth := map[int]bool{}     // calls the truth knows
	truthEdges := map[edge]bool{} // distinct
	unjudged := map[int]bool{}    // calls whose truth parent was not observed
	seen := map[TruthCall]int{}   // truth call -> call (-1 unmatched)
	match := func(c *TruthCall, lead int64) int {
		if v, ok := seen[*c]; ok {
			return v
		}
		v := m.match(c, lead)
		seen[*c] = v
		acc.TruthCalls++
		if v >= 0 {
			acc.MatchedCalls++
			isTruth[v] = true
		}
		return v
	}
	kind := func(k string) *Score {
		s := acc.ByKind[k]
		if s == nil {
			s = &Score{}
			acc.ByKind[k] = s
		}
		return s
	}
	for i := range truth {
		tr := &truth[i]
		parent := -1
		if tr.Inbound != nil {
			parent = match(tr.Inbound, 10*int64(tol))
		}
		for j := range tr.Calls {
			c := match(&tr.Calls[j], int64(tol))
			if tr.Inbound == nil {
				continue // a root
			}
			if parent < 0 || c < 0 {
				acc.Unobserved++
				if c >= 0 {
					unjudged[c] = true // its parent is unknown
				}
				if len(acc.UnobservedCalls) < 10 {
					which := "call"
					if parent < 0 {
						which = "inbound"
					}
					acc.UnobservedCalls = append(acc.UnobservedCalls, fmt.Sprintf("%s of %s: %v -> %v at %s", which, tr.Service,
						tr.Calls[j].Client, tr.Calls[j].Server, time.Unix(0, tr.Calls[j].Start).UTC().Format("15:04:05.000000")))
				}
				continue
			}
			e := edge{parent, c}
			if truthEdges[e] {
				continue
			}
			truthEdges[e] = true
			truthParent[c] = parent
			kindOf[c] = tr.Kind
			acc.Total.Truth++
			kind(tr.Kind).Truth++
		}
	}
	for r := RuleSyscall; r < numRules; r++ {
		acc.ByRule[r] = &Score{Truth: acc.Total.Truth}
	}
	found := map[int]bool{}
	for _, e := range t.CallEdges() {
		c, p := e.ChildCall, e.ParentCall
		if !isTruth[c] || (unjudged[c] && !hasParent(truthParent, c)) {
			continue // a call the truth does not know, or whose caller was not observed: not judged
		}
		k := kindOf[c]
		if k == "" {
			k = "root"
		}
		r := acc.ByRule[e.Rule]
		if r == nil {
			r = &Score{Truth: acc.Total.Truth}
			acc.ByRule[e.Rule] = r
		}
		acc.Total.Predicted++
		r.Predicted++
		kind(k).Predicted++
		if tp, ok := truthParent[c]; ok && tp == p {
			acc.Total.Correct++
			r.Correct++
			kind(k).Correct++
			found[c] = true
		} else if len(acc.Wrong) < 10 {
			acc.Wrong = append(acc.Wrong, fmt.Sprintf("wrong (%s, %s): %s <- %s", e.Rule, k, m.describe(c), m.describe(p)))
		}
	}
	for c, p := range truthParent {
		if !found[c] && len(acc.Missed) < 10 {
			acc.Missed = append(acc.Missed, fmt.Sprintf("%s: %s <- %s", kindOf[c], m.describe(c), m.describe(p)))
		}
	}
	return acc
}

func hasParent(m map[int]int, c int) bool {
	_, ok := m[c]
	return ok
}

// String renders the figures, one line each.
func (a *Accuracy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "total: %v; calls matched %d/%d; truth edges unobserved %d\n", a.Total, a.MatchedCalls, a.TruthCalls, a.Unobserved)
	for _, r := range slices.Sorted(maps.Keys(a.ByRule)) {
		fmt.Fprintf(&b, "rule %s: %v\n", r, *a.ByRule[r])
	}
	for _, k := range slices.Sorted(maps.Keys(a.ByKind)) {
		fmt.Fprintf(&b, "kind %s: %v\n", k, *a.ByKind[k])
	}
	return b.String()
}

// matcher finds the observed call of a truth call.
type matcher struct {
	t      *Trace
	tol    int64
	byPair map[[2]netip.AddrPort][]int // node indexes
	byAddr map[[2]netip.AddrPort][]int // client port 0
}

func newMatcher(t *Trace, tol int64) *matcher {
	m := &matcher{t: t, tol: tol, byPair: map[[2]netip.AddrPort][]int{}, byAddr: map[[2]netip.AddrPort][]int{}}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		m.byPair[[2]netip.AddrPort{n.Client, n.Server}] = append(m.byPair[[2]netip.AddrPort{n.Client, n.Server}], i)
		k := [2]netip.AddrPort{netip.AddrPortFrom(n.Client.Addr(), 0), n.Server}
		m.byAddr[k] = append(m.byAddr[k], i)
	}
	byStart := func(x, y int) int { return cmpInt64(t.Nodes[x].Start, t.Nodes[y].Start) }
	for _, l := range m.byPair {
		slices.SortFunc(l, byStart)
	}
	for _, l := range m.byAddr {
		slices.SortFunc(l, byStart)
	}
	return m
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// match returns the call of c: a span on its flow starting within
// [Start-lead, End+tol], the nearest to Start.
func (m *matcher) match(c *TruthCall, lead int64) int {
	cands := m.byPair[[2]netip.AddrPort{c.Client, c.Server}]
	if c.Client.Port() == 0 {
		cands = m.byAddr[[2]netip.AddrPort{c.Client, c.Server}]
	}
	best, bestD := -1, int64(-1)
	lo, _ := slices.BinarySearchFunc(cands, c.Start-lead, func(i int, t int64) int { return cmpInt64(m.t.Nodes[i].Start, t) })
	for _, i := range cands[lo:] {
		n := &m.t.Nodes[i]
		if n.Start > c.End+m.tol {
			break
		}
		if c.XRequestID != "" && n.XRequestID0 != c.XRequestID {
			continue
		}
		d := absDiff(n.Start, c.Start)
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return -1
	}
	return m.t.Nodes[best].Call
}

// describe names a call by its first node.
func (m *matcher) describe(call int) string {
	for i := range m.t.Nodes {
		if n := &m.t.Nodes[i]; n.Call == call {
			return fmt.Sprintf("%s %v->%v %s@%s", n.L7Protocol, n.Client, n.Server, n.TapSide, time.Unix(0, n.Start).UTC().Format("15:04:05.000000"))
		}
	}
	return "?"
}
