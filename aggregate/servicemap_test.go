package aggregate_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/aggregate"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

// recordSink keeps copies of the l7 records and counts requests per edge
// and L7 protocol.
type recordSink struct {
	requests map[string]uint64
	l4       int
}

func (s *recordSink) WriteL4(r *flow.Record) error { s.l4++; return nil }
func (s *recordSink) WriteL7(r *l7.Record) error {
	if r.HasRequest {
		s.requests[fmt.Sprintf("%s %s %d %s", r.Client.Addr(), r.Server, r.Transport, r.L7Protocol)]++
	}
	return nil
}

// replay runs a capture through a pipeline with an Aggregator feeding a
// ServiceMap, and a sink recording the l7 records beside it.
func replay(t *testing.T, path string, snapshot bool) (*aggregate.ServiceMap, *aggregate.Aggregator, *recordSink) {
	return replayShards(t, path, snapshot, 1, nil)
}

func replayShards(t *testing.T, path string, snapshot bool, shards int, onWindow func(*aggregate.Window)) (*aggregate.ServiceMap, *aggregate.Aggregator, *recordSink) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sm := aggregate.NewServiceMap()
	agg, err := aggregate.New(&aggregate.Config{OnWindow: func(w *aggregate.Window) {
		sm.Add(w)
		if onWindow != nil {
			onWindow(w)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	rs := &recordSink{requests: map[string]uint64{}}
	cfg := pipeline.Config{Source: src, Shards: shards, Sinks: []pipeline.SinkConfig{{Sink: agg}, {Sink: rs}}}
	if snapshot {
		cfg.Flow.SnapshotInterval = aggregate.Second
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	agg.Close()
	return sm, agg, rs
}

type conv struct {
	proto  string
	a, b   netip.AddrPort
	hasSyn bool
}

func readConvs(t *testing.T, path string) []conv {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []conv
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 {
			continue
		}
		a, err1 := parseEndpoint(fs[1])
		b, err2 := parseEndpoint(fs[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %q: %v %v", path, sc.Text(), err1, err2)
		}
		out = append(out, conv{fs[0], a, b, fs[3] == "syn"})
	}
	return out
}

// parseEndpoint reads tshark's "addr:port", IPv6 without brackets.
func parseEndpoint(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

func edgeOf(proto string, client, server netip.AddrPort) aggregate.EdgeKey {
	p := uint8(6)
	if proto == "udp" {
		p = 17
	}
	return aggregate.EdgeKey{Client: client.Addr().Unmap(), Server: server.Addr().Unmap(), ServerPort: server.Port(), Protocol: p}
}

// TestServiceMap_Tshark checks the service map of real captures against
// tshark's conversation list (aggregate/testdata/conversations, from
// scripts/aggregate-conversations.sh): the TCP and UDP edges are exactly
// the client → server pairs of the conversations, directed by the SYN where
// there is one (either way round without one), and the requests per edge
// and L7 protocol equal the l7 records'.
func TestServiceMap_Tshark(t *testing.T) {
	root := testutil.ModuleRoot(t)
	goldens, err := filepath.Glob(filepath.Join(root, "aggregate", "testdata", "conversations", "*.conv"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	var shared string
	checked := 0
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".conv")
		var path string
		if rest, ok := strings.CutPrefix(name, "shared_"); ok {
			dir, file, _ := strings.Cut(rest, "_")
			if shared == "" {
				shared = sharedRoot(root)
			}
			if shared == "-" {
				continue
			}
			path = filepath.Join(shared, dir, file)
		} else {
			path = filepath.Join(root, strings.ReplaceAll(name, "_", "/"))
			if _, err := os.Stat(path); err != nil {
				// file names with underscores: find the tracked one
				path = findTracked(root, name)
			}
		}
		if path == "" {
			t.Errorf("%s: capture not found", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			checkTshark(t, path, g)
		})
		checked++
	}
	t.Logf("%d captures checked against tshark", checked)
}

func sharedRoot(root string) string {
	dir := os.Getenv("METAFLOW_PCAPS")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(root), "shared", "pcaps")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "-"
	}
	return dir
}

// findTracked maps a golden name back to a path whose '/' became '_'.
func findTracked(root, name string) string {
	var found string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.ReplaceAll(rel, "/", "_") == name {
			found = p
		}
		return nil
	})
	return found
}

func checkTshark(t *testing.T, path, golden string) {
	sm, agg, rs := replay(t, path, false)
	convs := readConvs(t, golden)
	want := map[aggregate.EdgeKey]bool{}
	either := map[aggregate.EdgeKey]aggregate.EdgeKey{} // no SYN: one of the two
	for _, c := range convs {
		if c.hasSyn {
			want[edgeOf(c.proto, c.a, c.b)] = true
			continue
		}
		k1, k2 := edgeOf(c.proto, c.a, c.b), edgeOf(c.proto, c.b, c.a)
		either[k1], either[k2] = k2, k1
	}
	got := map[aggregate.EdgeKey]bool{}
	for k := range sm.Edges {
		if k.Protocol == 6 || k.Protocol == 17 {
			got[k] = true
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("tshark edge %v → %s missing", k.Client, k.ServerNode())
		}
	}
	for k := range got {
		if want[k] {
			continue
		}
		other, ok := either[k]
		if !ok {
			t.Errorf("edge %v → %s/%d not in tshark's conversations", k.Client, k.ServerNode(), k.Protocol)
			continue
		}
		if got[other] && other != k {
			// both directions of one conversation: only right when the
			// flow table split it, which tshark does not
			t.Logf("edge %v → %s in both directions", k.Client, k.ServerNode())
		}
	}
	for k, other := range either {
		if k.Client.Compare(other.Client) < 0 || (k.Client == other.Client && k.ServerPort < other.ServerPort) {
			if !got[k] && !got[other] {
				t.Errorf("tshark conversation %v:%d ↔ %v:%d missing", k.Client, other.ServerPort, k.Server, k.ServerPort)
			}
		}
	}
	t.Logf("%d conversations (%d with a SYN), %d TCP/UDP edges", len(convs), len(want), len(got))
	// Requests per edge and L7 protocol equal the l7 records'.
	fromMap := map[string]uint64{}
	for k, e := range sm.Edges {
		for p, a := range e.App {
			if a.Request > 0 {
				fromMap[fmt.Sprintf("%s %s %d %s", k.Client, k.ServerNode(), k.Protocol, p)] += a.Request
			}
		}
	}
	var reqs uint64
	for _, n := range rs.requests {
		reqs += n
	}
	t.Logf("%d requests on %d edge/protocol pairs", reqs, len(rs.requests))
	if fmt.Sprint(fromMap) != fmt.Sprint(rs.requests) {
		t.Errorf("requests per edge:\nmap     %v\nrecords %v", fromMap, rs.requests)
	}
	if st := agg.Stats(); st.LateMinute != 0 || st.Overflow != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestServiceMap_Output checks the JSON and DOT renderings of a capture
// with a refused connection and plain TCP.
func TestServiceMap_Output(t *testing.T) {
	root := testutil.ModuleRoot(t)
	for _, c := range []struct{ file, client, server string }{
		{"testdata/flow/refused.pcap", "10.201.0.1", "10.201.0.2:9"},
		{"testdata/l7/http-nginx.pcap", "", ""},
	} {
		sm, _, _ := replay(t, filepath.Join(root, c.file), true)
		var js bytes.Buffer
		if err := sm.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Nodes []struct{ ID, Role string }
			Edges []struct {
				Client, Server, Protocol string
				Network                  map[string]uint64
				Application              []map[string]any
			}
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v\n%s", c.file, err, js.String())
		}
		if len(doc.Edges) == 0 || len(doc.Nodes) < 2 {
			t.Fatalf("%s: empty map %s", c.file, js.String())
		}
		var dot bytes.Buffer
		sm.WriteDOT(&dot)
		if !strings.HasPrefix(dot.String(), "digraph servicemap {") || !strings.Contains(dot.String(), " -> ") {
			t.Errorf("%s: dot\n%s", c.file, dot.String())
		}
		if c.client != "" {
			e := doc.Edges[0]
			if e.Client != c.client || e.Server != c.server || e.Network["server_reset"]+e.Network["server_syn_miss"] == 0 {
				t.Errorf("%s: failed connection edge %+v", c.file, e)
			}
			if !strings.Contains(dot.String(), "color=red") {
				t.Errorf("%s: failed edge not marked\n%s", c.file, dot.String())
			}
		} else if len(doc.Edges[0].Application) == 0 || doc.Edges[0].Application[0]["request"].(float64) == 0 {
			t.Errorf("%s: no application metrics: %s", c.file, js.String())
		}
	}
}

// TestAggregator_ShardsAgree: the 1 min windows of a replay are the same
// whatever the number of shards (records of different flows interleave
// differently, but windows close by record time), but for the number of
// flow reports.
func TestAggregator_ShardsAgree(t *testing.T) {
	root := testutil.ModuleRoot(t)
	for _, f := range []string{"testdata/l7/redis-bench.pcap", "testdata/l7/http-nginx.pcap", "testdata/l7/dns.pcap", "testdata/flow/udp-mixed.pcap"} {
		windows := func(shards int) string {
			out := map[string]*aggregate.Rollup{}
			replayShards(t, filepath.Join(root, f), true, shards, func(w *aggregate.Window) {
				if w.Interval != aggregate.Minute {
					return
				}
				k := w.View.Name + " " + w.Start.String()
				if out[k] == nil {
					out[k] = aggregate.NewRollup()
				}
				out[k].Add(w)
			})
			var b strings.Builder
			for _, k := range slices.Sorted(maps.Keys(out)) {
				r := out[k]
				fmt.Fprintf(&b, "%s net %d app %d: ", k, len(r.Net), len(r.App))
				n, a := r.TotalNet(), r.TotalApp()
				// How many snapshot reports a flow gets depends on its
				// shard's clock (a shard moves it with its own packets), so
				// the report counts may differ; every counter they carry
				// may not.
				n.Records, n.FlowLoad = 0, 0
				fmt.Fprintf(&b, "%+v %d %d %d %d %d %+v\n", n, a.Request, a.Response, a.ClientError, a.ServerError, a.Timeout, a.RRT)
			}
			return b.String()
		}
		one, four := windows(1), windows(4)
		if one != four || one == "" {
			t.Errorf("%s: 1 shard\n%s\n4 shards\n%s", f, one, four)
		}
	}
}

// TestServiceMap_ServiceTag: with the service tag in the edge views, a
// service's instances make one node, and untagged sides keep addresses.
func TestServiceMap_ServiceTag(t *testing.T) {
	svc := []aggregate.TagKey{{Side: tag.Client, Key: "service"}, {Side: tag.Server, Key: "service"}}
	views := aggregate.DefaultViews()
	for i := range views {
		if views[i].Fields&aggregate.FieldClientIP != 0 {
			views[i].Tags = svc
		}
	}
	sm := aggregate.NewServiceMap()
	sm.ServiceTag = "service"
	agg, _ := aggregate.New(&aggregate.Config{Views: views, OnWindow: sm.Add})
	for i := range 6 {
		r := &l7.Record{
			StartTime: int64(i) * 1e6, EndTime: int64(i)*1e6 + 5e5, HasRequest: true, HasResponse: true,
			Client:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 3)}), 40000),
			Server:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i % 2)}), 8080),
			Transport: l7.TCP, L7Protocol: "HTTP",
		}
		r.Tags.Add(tag.Server, "service", "api")
		if i%3 == 0 {
			r.Tags.Add(tag.Client, "service", "web")
		}
		agg.WriteL7(r)
	}
	agg.Close()
	var b bytes.Buffer
	sm.WriteDOT(&b)
	got := b.String()
	for _, want := range []string{`"web" -> "api"`, `"10.0.0.1" -> "api"`, `"10.0.0.2" -> "api"`} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s in\n%s", want, got)
		}
	}
	if len(sm.Edges) != 3 {
		t.Errorf("%d edges, want 3 (web, 10.0.0.1 and 10.0.0.2 to api)", len(sm.Edges))
	}
}
