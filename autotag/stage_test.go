package autotag_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/autotag"
	"github.com/metaflow-go/metaflow/autotag/file"
	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/pipeline"
	"github.com/metaflow-go/metaflow/tag"
)

var _ pipeline.Stage = (*autotag.Stage)(nil)

// TestStage_Pipeline replays captures of curl fetching from nginx (IPv4
// and IPv6) through the pipeline, on two shards, with a Stage fed by the
// file source, and checks the tags in the JSON records of both kinds.
func TestStage_Pipeline(t *testing.T) {
	for _, pcap := range []string{"l7/http-nginx.pcap", "l7/http-ipv6.pcap"} {
		t.Run(pcap, func(t *testing.T) { testStagePipeline(t, pcap) })
	}
}

func testStagePipeline(t *testing.T, pcap string) {
	tg := autotag.New()
	src := file.New(file.Config{Path: "testdata/http-nginx.json", Interval: -1})
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- tg.Run(ctx, src) }()
	for tg.Snapshot().Prefixes() == 0 {
		select {
		case err := <-ran:
			t.Fatalf("Run: %v", err)
		default:
		}
		testingYield()
	}

	in, err := capture.OpenFile(testutil.Testdata(t, pcap))
	if err != nil {
		t.Fatal(err)
	}
	stage := tg.NewStage(autotag.StageConfig{})
	var out bytes.Buffer
	p, err := pipeline.New(pipeline.Config{
		Source: in,
		Shards: 2,
		Stages: []pipeline.Stage{stage},
		Sinks:  []pipeline.SinkConfig{{Sink: pipeline.NewJSONSink(&out)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"region_0": "lab-1", "az_0": "lab-1a", "subnet_0": "veth-lab", "l3_epc_0": "lab-vpc",
		"pod_0": "curl-7f9c", "pod_ns_0": "tools", "pod_group_0": "curl", "pod_node_0": "node-1",
		"region_1": "lab-1", "az_1": "lab-1a", "pod_1": "nginx-5d8b", "pod_ns_1": "web",
		"service_1": "nginx", "pod_group_1": "nginx", "pod_cluster_1": "lab",
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		typ, _ := rec["type"].(string)
		counts[typ]++
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s record: %s = %v, want %q\n%s", typ, k, rec[k], v, sc.Bytes())
			}
		}
		for _, k := range []string{"service_0", "gprocess_0", "container_id_1"} {
			if _, ok := rec[k]; ok {
				t.Errorf("%s record has %s: %s", typ, k, sc.Bytes())
			}
		}
	}
	if counts["l4_flow_log"] == 0 || counts["l7_flow_log"] == 0 {
		t.Fatalf("records: %v\n%s", counts, out.String())
	}
	st := stage.Stats()
	if st.Records != uint64(counts["l4_flow_log"]+counts["l7_flow_log"]) || st.Tagged != 2*st.Records {
		t.Errorf("stage stats %+v, records %v", st, counts)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// snapshotOf returns a Tagger holding e.
func snapshotOf(e *autotag.Entries) *autotag.Tagger {
	tg := autotag.New()
	tg.Updater("test").Update(e)
	return tg
}

var testEntries = &autotag.Entries{
	Addrs: []autotag.AddrEntry{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Resource: autotag.Resource{Region: "r1", PodNode: "from-ip"}},
		{Prefix: netip.MustParsePrefix("10.1.2.3/32"), Resource: autotag.Resource{Pod: "db-0", Service: "db"}},
	},
	Pods:       []autotag.PodEntry{{UID: "u1", Resource: autotag.Resource{Pod: "app-1", PodNS: "shop", PodNode: "node-a"}}},
	Containers: []autotag.ContainerEntry{{ID: "c1", Resource: autotag.Resource{PodUID: "u1"}}},
	Processes:  []autotag.ProcessEntry{{PID: 100, Resource: autotag.Resource{GProcess: "java", ContainerID: "c1"}}},
	Sockets:    []autotag.SocketEntry{{Proto: 6, Local: netip.MustParseAddrPort("0.0.0.0:8080"), PID: 100}},
}

func TestStage_ProcessL7(t *testing.T) {
	st := snapshotOf(testEntries).NewStage(autotag.StageConfig{})
	r := &l7.Record{
		Client:     netip.MustParseAddrPort("10.9.9.9:40000"),
		Server:     netip.MustParseAddrPort("10.1.2.3:5432"),
		Transport:  l7.TCP,
		ProcessID0: 100,
	}
	r.Tags.Set(0, "pod", "stale")
	r.Tags.Set(0, "custom", "kept")
	st.ProcessL7(r)
	for _, tc := range []struct {
		side     uint8
		key, val string
	}{
		// The process, its container and pod first, then the address.
		{0, "gprocess", "java"}, {0, "container_id", "c1"}, {0, "pod", "app-1"},
		{0, "pod_ns", "shop"}, {0, "pod_node", "node-a"}, {0, "region", "r1"}, {0, "custom", "kept"},
		{1, "pod", "db-0"}, {1, "service", "db"}, {1, "region", "r1"}, {1, "pod_node", "from-ip"},
	} {
		if v, _ := r.Tags.Get(tagSide(tc.side), tc.key); v != tc.val {
			t.Errorf("side %d %s = %q, want %q", tc.side, tc.key, v, tc.val)
		}
	}
	if _, ok := r.Tags.Get(1, "gprocess"); ok {
		t.Errorf("server has a process: %v", r.Tags.Side(1))
	}
}

func TestStage_ProcessL4Socket(t *testing.T) {
	st := snapshotOf(testEntries).NewStage(autotag.StageConfig{})
	r := &flow.Record{IP0: netip.MustParseAddr("192.168.1.1"), ClientPort: 50000,
		IP1: netip.MustParseAddr("10.5.5.5"), ServerPort: 8080, Protocol: 6}
	st.ProcessL4(r)
	if v, _ := r.Tags.Get(1, "gprocess"); v != "java" {
		t.Errorf("server gprocess %q: %v", v, r.Tags.Side(1))
	}
	if r.Tags.Len() != len(r.Tags.Side(1)) {
		t.Errorf("client tags: %v", r.Tags.Side(0))
	}
	// UDP on the same port is not the TCP listener's; NoSockets turns it off.
	r.Tags.Reset()
	r.Protocol = 17
	st.ProcessL4(r)
	if _, ok := r.Tags.Get(1, "gprocess"); ok {
		t.Errorf("UDP matched a TCP socket: %v", r.Tags.Side(1))
	}
	r.Tags.Reset()
	r.Protocol = 6
	snapshotOf(testEntries).NewStage(autotag.StageConfig{NoSockets: true}).ProcessL4(r)
	if _, ok := r.Tags.Get(1, "gprocess"); ok {
		t.Errorf("NoSockets: %v", r.Tags.Side(1))
	}
}

func TestStage_Allocs(t *testing.T) {
	st := snapshotOf(testEntries).NewStage(autotag.StageConfig{})
	l4 := &flow.Record{IP0: netip.MustParseAddr("10.1.2.3"), ClientPort: 50000,
		IP1: netip.MustParseAddr("10.5.5.5"), ServerPort: 8080, Protocol: 6}
	r7 := &l7.Record{Client: netip.MustParseAddrPort("10.1.2.3:1"), Server: netip.MustParseAddrPort("10.1.2.4:2"),
		Transport: l7.TCP, ProcessID0: 100}
	st.ProcessL4(l4)
	st.ProcessL7(r7)
	if a := testing.AllocsPerRun(100, func() {
		l4.Tags.Reset() // as the flow table does for every record
		st.ProcessL4(l4)
		r7.Tags.Reset()
		st.ProcessL7(r7)
	}); a != 0 {
		t.Fatalf("%v allocations per record pair", a)
	}
	if l4.Tags.Len() == 0 || r7.Tags.Len() == 0 {
		t.Fatal("no tags")
	}
}

// TestStage_Identity checks the lists a Stage attaches: every record of an
// endpoint gets the same *tag.List (a prefix's, a process's merged with
// its prefix's), holding what setting the tags one by one gives; a side
// that had tags gets no list; a new snapshot gives new lists.
func TestStage_Identity(t *testing.T) {
	tg := snapshotOf(testEntries)
	st := tg.NewStage(autotag.StageConfig{})
	rec := func() *l7.Record {
		r := &l7.Record{Client: netip.MustParseAddrPort("10.9.9.9:40000"), Server: netip.MustParseAddrPort("10.1.2.3:5432"),
			Transport: l7.TCP, ProcessID0: 100}
		st.ProcessL7(r)
		return r
	}
	a, b := rec(), rec()
	for s := range uint8(2) {
		la, lb := a.Tags.List(tagSide(s)), b.Tags.List(tagSide(s))
		if la == nil || la != lb {
			t.Fatalf("side %d: lists %p and %p, want one non-nil", s, la, lb)
		}
	}
	// The same values, in the same order, as a side that had a tag.
	c := &l7.Record{Client: a.Client, Server: a.Server, Transport: l7.TCP, ProcessID0: 100}
	c.Tags.Set(0, "custom", "x")
	c.Tags.Set(1, "custom", "x")
	st.ProcessL7(c)
	for s := range uint8(2) {
		if c.Tags.List(tagSide(s)) != nil {
			t.Fatalf("side %d with tags of its own got a list", s)
		}
		got := c.Tags.Side(tagSide(s))[1:]
		want := a.Tags.Side(tagSide(s))
		if len(got) != len(want) {
			t.Fatalf("side %d: %v, want %v", s, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("side %d tag %d: %v, want %v", s, i, got[i], want[i])
			}
		}
	}
	if st.Stats().Merges != 1 {
		t.Errorf("Merges = %d, want 1 (the client's process and prefix)", st.Stats().Merges)
	}
	tg.Updater("again").Update(&autotag.Entries{})
	d := rec()
	if d.Tags.List(0) == a.Tags.List(0) || d.Tags.List(1) == a.Tags.List(1) {
		t.Fatal("a new snapshot kept the old lists")
	}
	if v, _ := d.Tags.Get(0, "pod"); v != "app-1" {
		t.Fatalf("pod = %q", v)
	}

	// Prefixes with the same tags share one list.
	same := autotag.Resource{Region: "r1", Pod: "p"}
	st = snapshotOf(&autotag.Entries{Addrs: []autotag.AddrEntry{
		{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Resource: same},
		{Prefix: netip.MustParsePrefix("10.0.0.2/32"), Resource: same},
		{Prefix: netip.MustParsePrefix("10.0.0.3/32"), Resource: autotag.Resource{Region: "r1", Pod: "q"}},
	}}).NewStage(autotag.StageConfig{})
	var lists [3]*tag.List
	for i := range lists {
		r := &flow.Record{IP0: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Protocol: 6}
		st.ProcessL4(r)
		lists[i] = r.Tags.List(0)
	}
	if lists[0] == nil || lists[0] != lists[1] || lists[2] == lists[0] || lists[2].Tags()[1].Value != "q" {
		t.Fatalf("lists %p %p %p: want the first two the same, the third another", lists[0], lists[1], lists[2])
	}
}

// TestStage_Concurrent tags records of a process on four goroutines (run
// with -race): they all get the one merged list of the process and its
// prefix.
func TestStage_Concurrent(t *testing.T) {
	st := snapshotOf(testEntries).NewStage(autotag.StageConfig{})
	lists := make(chan *tag.List, 4*100)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				r := &l7.Record{Client: netip.MustParseAddrPort("10.9.9.9:40000"), Server: netip.MustParseAddrPort("10.1.2.3:5432"),
					Transport: l7.TCP, ProcessID0: 100}
				st.ProcessL7(r)
				lists <- r.Tags.List(0)
			}
		}()
	}
	for range 4 {
		<-done
	}
	close(lists)
	seen := map[*tag.List]bool{}
	for l := range lists {
		if l == nil || len(l.Tags()) != 6 {
			t.Fatalf("list %v", l.Tags())
		}
		seen[l] = true
	}
	// Goroutines that missed the cache at once may each have made one.
	if len(seen) > 4 {
		t.Fatalf("%d lists for one process and prefix", len(seen))
	}
}
