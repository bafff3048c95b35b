package autotrace_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/metaflow-go/metaflow/autotrace"
)

// The accuracy evaluation: the demo system's recorded records (package
// autotrace/demo; testdata/demo/README) are assembled with zero-code
// signals only, and the call edges compared with the ground truth each
// service logged itself.

// truthLine is a ground-truth line (autotrace/demo.Truth's JSON keys).
type truthLine struct {
	Service    string `json:"service"`
	Kind       string `json:"kind"`
	Local      string `json:"local"`
	Remote     string `json:"remote"`
	Start      string `json:"start"`
	End        string `json:"end"`
	XRequestID string `json:"x_request_id"`
	Calls      []struct {
		Protocol string `json:"protocol"`
		Local    string `json:"local"`
		Remote   string `json:"remote"`
		Start    string `json:"start"`
		End      string `json:"end"`
		Request  string `json:"request"`
		Error    string `json:"error"`
	} `json:"calls"`
}

// open returns the content of testdata/demo/name, decompressed when it
// ends in .zst (or only the .zst exists).
func open(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("testdata", "demo", name)
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		b, err = os.ReadFile(p + ".zst")
		if err == nil {
			d, derr := zstd.NewReader(nil)
			if derr != nil {
				t.Fatal(derr)
			}
			defer d.Close()
			b, err = d.DecodeAll(b, nil)
		}
	}
	if os.IsNotExist(err) {
		t.Skipf("no dataset %s: record it with scripts/record-autotrace-demo.sh", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseTime(t testing.TB, s string) int64 {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("truth time %q: %v", s, err)
	}
	return tm.UnixNano()
}

func addrPort(t testing.TB, s string) netip.AddrPort {
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatalf("truth address %q: %v", s, err)
	}
	return a
}

// readTruth converts ground-truth lines into autotrace's truth. Calls
// that failed are left out; a proxy's calls are matched by X-Request-ID
// too (its times are milliseconds).
func readTruth(t testing.TB, b []byte) []autotrace.TruthRequest {
	var out []autotrace.TruthRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var l truthLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("truth: %v", err)
		}
		tr := autotrace.TruthRequest{Service: l.Service, Kind: l.Kind}
		if l.Local != "" && l.Remote != "" {
			tr.Inbound = &autotrace.TruthCall{Client: addrPort(t, l.Remote), Server: addrPort(t, l.Local),
				Start: parseTime(t, l.Start), End: parseTime(t, l.End)}
		}
		for _, c := range l.Calls {
			if c.Error != "" {
				continue
			}
			tc := autotrace.TruthCall{Client: addrPort(t, c.Local), Server: addrPort(t, c.Remote),
				Start: parseTime(t, c.Start), End: parseTime(t, c.End)}
			if l.Kind == "proxy" {
				tc.XRequestID = l.XRequestID
			}
			tr.Calls = append(tr.Calls, tc)
		}
		out = append(out, tr)
	}
	return out
}

// dataset is one recording, read once for every test.
type dataset struct {
	spans []autotrace.Span
	truth []autotrace.TruthRequest
}

var (
	datasetMu sync.Mutex
	datasets  = map[int]*dataset{}
)

// demo returns the records (as spans) and ground truth of the recording
// with n clients; it skips the test when the dataset is absent.
func demo(t *testing.T, n int) *dataset {
	datasetMu.Lock()
	defer datasetMu.Unlock()
	if d := datasets[n]; d != nil {
		return d
	}
	recs := open(t, fmt.Sprintf("records-%dc.jsonl", n))
	truth := readTruth(t, open(t, fmt.Sprintf("groundtruth-%dc.jsonl", n)))
	spans, err := autotrace.ReadRecords(bytes.NewReader(recs), 1)
	if err != nil {
		t.Fatal(err)
	}
	d := &dataset{spans: spans, truth: truth}
	datasets[n] = d
	return d
}

// floors are the issue's: thread-per-request and proxy hops.
var floors = map[string][2]float64{
	"thread-per-request": {0.95, 0.90},
	"proxy":              {0.95, 0.90},
}

func TestAccuracy_Demo(t *testing.T) {
	for _, n := range []int{1, 10, 50} {
		t.Run(fmt.Sprintf("%dc", n), func(t *testing.T) {
			d := demo(t, n)
			spans, truth := d.spans, d.truth
			start := time.Now()
			tr := autotrace.Assemble(spans, autotrace.Config{IgnoreAppIDs: true})
			took := time.Since(start)
			acc := autotrace.Evaluate(tr, truth, 3*time.Millisecond)
			t.Logf("%d clients: %d spans, %d calls, %d truth requests; assembled in %v", n, len(spans), tr.Calls, len(truth), took.Round(time.Millisecond))
			for _, l := range strings.Split(strings.TrimSpace(acc.String()), "\n") {
				t.Logf("  %s", l)
			}
			for _, l := range []struct {
				what string
				eg   []string
			}{{"wrong", acc.Wrong}, {"missed", acc.Missed}, {"unobserved", acc.UnobservedCalls}} {
				for _, e := range l.eg {
					t.Logf("  %s, e.g. %s", l.what, e)
				}
			}
			// Each rule between calls on its own (with tcp_seq), by kind.
			for _, r := range []autotrace.Rule{autotrace.RuleSyscall, autotrace.RuleXRequestID} {
				one := autotrace.Evaluate(autotrace.Assemble(spans, autotrace.Config{IgnoreAppIDs: true, Rules: autotrace.Rules(autotrace.RuleTCPSeq, r)}), truth, 3*time.Millisecond)
				var parts []string
				for _, k := range []string{"proxy", "thread-per-request", "goroutines"} {
					if s := one.ByKind[k]; s != nil {
						parts = append(parts, fmt.Sprintf("%s %v", k, *s))
					}
				}
				t.Logf("  %s alone: %s", r, strings.Join(parts, "; "))
			}
			if acc.Total.Truth == 0 {
				t.Fatal("no truth edge observed: dataset and matching disagree")
			}
			kinds := make([]string, 0, len(floors))
			for k := range floors {
				kinds = append(kinds, k)
			}
			slices.Sort(kinds)
			for _, k := range kinds {
				s := acc.ByKind[k]
				if s == nil || s.Truth == 0 {
					t.Errorf("%s: no truth edge", k)
					continue
				}
				if f := floors[k]; s.Precision() < f[0] || s.Recall() < f[1] {
					t.Errorf("%s: %v: below the floors (precision %.0f%%, recall %.0f%%)", k, *s, 100*f[0], 100*f[1])
				}
			}
		})
	}
}

// TestAccuracy_DemoMixedOTel mixes the Go service's OpenTelemetry spans
// (otel-<N>c: a SERVER span per request and a CLIENT span per call, with
// socket attributes; Python sends no traceparent) into the records: each
// OTel span must join the call it observes (no duplicate calls), every
// tree must hang from a zero-code root (no broken trees), and the call
// edges are scored again with application ids on.
func TestAccuracy_DemoMixedOTel(t *testing.T) {
	for _, n := range []int{1, 10, 50} {
		t.Run(fmt.Sprintf("%dc", n), func(t *testing.T) {
			otel := open(t, fmt.Sprintf("otel-%dc.jsonl", n))
			d := demo(t, n)
			spans, truth := d.spans, d.truth
			app, err := autotrace.ReadOTLPJSON(bytes.NewReader(otel), uint64(len(spans))+1)
			if err != nil {
				t.Fatal(err)
			}
			tr := autotrace.Assemble(append(slices.Clip(spans), app...), autotrace.Config{})
			if len(tr.Nodes) != len(spans)+len(app) {
				t.Fatalf("%d nodes of %d spans", len(tr.Nodes), len(spans)+len(app))
			}
			// Calls holding an application span, and whether they hold an
			// observation too.
			observed := map[int]bool{}
			for _, nd := range tr.Nodes {
				if !nd.TapSide.IsApp() {
					observed[nd.Call] = true
				}
			}
			alone, appRoots := 0, 0
			for i, nd := range tr.Nodes {
				if !nd.TapSide.IsApp() {
					continue
				}
				if !observed[nd.Call] {
					alone++
				}
				r := i
				for tr.Nodes[r].Parent >= 0 {
					r = tr.Nodes[r].Parent
				}
				if tr.Nodes[r].TapSide.IsApp() {
					appRoots++
				}
			}
			acc := autotrace.Evaluate(tr, truth, 3*time.Millisecond)
			t.Logf("%d clients: %d records' spans + %d OTel spans -> %d calls; OTel spans not joined to an observed call: %d; in a tree with an OTel root: %d",
				n, len(spans), len(app), tr.Calls, alone, appRoots)
			for _, l := range strings.Split(strings.TrimSpace(acc.String()), "\n") {
				t.Logf("  %s", l)
			}
			for _, w := range acc.Wrong {
				t.Logf("  wrong, e.g. %s", w)
			}
			if alone*100 > len(app) || appRoots*100 > len(app) {
				t.Errorf("duplicates or broken trees: %d OTel spans alone, %d under an OTel root (of %d)", alone, appRoots, len(app))
			}
			for _, k := range []string{"thread-per-request", "proxy"} {
				if s := acc.ByKind[k]; s == nil || s.Precision() < floors[k][0] || s.Recall() < floors[k][1] {
					t.Errorf("%s with OTel mixed in: %v", k, s)
				}
			}
		})
	}
}

// TestSearch_DemoMatchesAssembly checks the search on the demo dataset:
// from a span of a client's request, Build (MemStore, 30 rounds) gathers
// the request's whole tree, as assembling every record at once does;
// zero-code, and with the Go service's OTel spans mixed in.
func TestSearch_DemoMatchesAssembly(t *testing.T) {
	for _, mixed := range []bool{false, true} {
		name := "zero-code"
		if mixed {
			name = "otel"
		}
		t.Run(name, func(t *testing.T) {
			spans := demo(t, 10).spans
			cfg := autotrace.Config{IgnoreAppIDs: !mixed}
			if mixed {
				app, err := autotrace.ReadOTLPJSON(bytes.NewReader(open(t, "otel-10c.jsonl")), uint64(len(spans))+1)
				if err != nil {
					t.Fatal(err)
				}
				spans = append(slices.Clip(spans), app...)
			}
			searchMatches(t, spans, cfg)
		})
	}
}

func searchMatches(t *testing.T, spans []autotrace.Span, cfg autotrace.Config) {
	global := autotrace.Assemble(spans, cfg)
	subtree := func(tr *autotrace.Trace, root int) []uint64 {
		in := map[int]bool{root: true}
		ids := []uint64{tr.Nodes[root].ID}
		for i := root + 1; i < len(tr.Nodes); i++ { // depth first: a subtree is contiguous
			if !in[tr.Nodes[i].Parent] {
				break
			}
			in[i] = true
			ids = append(ids, tr.Nodes[i].ID)
		}
		slices.Sort(ids)
		return ids
	}
	st := autotrace.NewMemStore()
	if err := st.Add(spans...); err != nil {
		t.Fatal(err)
	}
	roots := global.Roots()
	checked, rounds, sizes, gathered := 0, 0, 0, 0
	for k := 0; k < len(roots) && checked < 40; k += max(1, len(roots)/40) {
		r := roots[k]
		want := subtree(global, r)
		if len(want) < 10 {
			continue // not a client request's tree (a lone call)
		}
		tr, res, err := autotrace.Build(t.Context(), st, &autotrace.Query{IDs: []uint64{global.Nodes[r].ID}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(tr.Nodes, func(n autotrace.Node) bool { return n.ID == global.Nodes[r].ID })
		if got := subtree(tr, i); !slices.Equal(got, want) || res.Truncated {
			t.Fatalf("tree of span %d: search found %d spans of %d (truncated %v, %d rounds)", global.Nodes[r].ID, len(got), len(want), res.Truncated, res.Rounds)
		}
		checked++
		rounds += res.Rounds
		sizes += len(want)
		gathered += len(res.Spans)
	}
	if checked == 0 {
		t.Fatal("no request tree in the dataset")
	}
	t.Logf("%d request trees found by search as by assembly: %.1f spans, %.1f gathered, %.1f rounds on average",
		checked, float64(sizes)/float64(checked), float64(gathered)/float64(checked), float64(rounds)/float64(checked))
}
