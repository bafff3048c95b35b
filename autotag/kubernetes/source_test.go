package kubernetes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
	"k8s.io/client-go/rest"
)

// run starts a Source against the server at url, publishing into a new
// Tagger, and stops it when the test ends.
func run(t *testing.T, url string) (*Source, *autotag.Tagger) {
	t.Helper()
	src, err := New(Config{
		REST:        &rest.Config{Host: url},
		Cluster:     "prod-eu",
		Debounce:    10 * time.Millisecond,
		SyncTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	tg := autotag.New()
	u := tg.Updater("kubernetes")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, u) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return src, tg
}

// waitFor polls the tagger's snapshot until cond holds.
func waitFor(t *testing.T, tg *autotag.Tagger, what string, cond func(s *autotag.Snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(tg.Snapshot()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

type want struct {
	addr string
	res  *autotag.Resource // nil: no entry
}

func checkAddrs(t *testing.T, s *autotag.Snapshot, step string, wants []want) {
	t.Helper()
	for _, w := range wants {
		got := s.Lookup(0, ip(w.addr))
		switch {
		case w.res == nil && got != nil:
			t.Errorf("%s: %s: got %+v, want no entry", step, w.addr, *got)
		case w.res != nil && got == nil:
			t.Errorf("%s: %s: no entry, want %+v", step, w.addr, *w.res)
		case w.res != nil && *got != *w.res:
			t.Errorf("%s: %s:\n got %+v\nwant %+v", step, w.addr, *got, *w.res)
		}
	}
}

const (
	uidWebX   = "0b7d5f3c-8a51-4c0e-9f2d-1e6b7a9c4d21"
	uidWebQ   = "6e1c9a2b-3d4f-4a5b-8c7d-9e0f1a2b3c4d"
	uidDB     = "2c9e4b1a-7f3d-4e8a-b6c5-0d1f2e3a4b5c"
	uidFluent = "7f6e5d4c-3b2a-4190-8e7d-6c5b4a392817"
	uidReport = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
	uidAPI    = "9b8a7c6d-5e4f-4321-a0b9-c8d7e6f5a4b3"
	cidWebX   = "3f4b2a1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
)

func podRes(pod, uid, ns, node, az, group, svc, ing string) *autotag.Resource {
	return &autotag.Resource{
		Region: "eu-west-1", AZ: az, Host: node, PodCluster: "prod-eu", PodNode: node, PodNS: ns,
		PodGroup: group, Pod: pod, Service: svc, Ingress: ing, PodUID: uid,
	}
}

// TestSource_Run runs the real client-go informers against recorded API
// server responses: list, watch, events, a bookmark, a 410 Gone that forces
// a re-list, then a delete; the snapshot follows each step.
func TestSource_Run(t *testing.T) {
	api := newAPIServer(t, "testdata/cluster")
	src, tg := run(t, api.srv.URL)
	testSequence(t, api, src, tg)

	// The reflector's requests, in order: the streaming list refused, list
	// from the watch cache (rv 0), watch from the list, re-watch from the
	// bookmark, then after 410 a re-list at least as fresh as the last
	// resourceVersion seen (client-go keeps it: a list at rv 1500 may be
	// served by the watch cache), a watch from the re-list's resourceVersion,
	// and a re-watch from the delete.
	checkRequests(t, api, []string{
		`WATCHLIST pods rv=""`, `LIST pods rv="0"`, `WATCH pods rv="1000"`, `WATCH pods rv="1500"`,
		`WATCHLIST pods rv="1500"`, `LIST pods rv="1500"`, `WATCH pods rv="2000"`, `WATCH pods rv="2100"`,
	})
}

// TestSource_Run_watchList: the same steps against an API server that
// streams the initial list (sendInitialEvents, client-go's default
// WatchListClient protocol) instead of answering a LIST.
func TestSource_Run_watchList(t *testing.T) {
	api := newAPIServer(t, "testdata/cluster")
	api.watchList = true
	src, tg := run(t, api.srv.URL)
	testSequence(t, api, src, tg)
	// The streaming list is a watch: its chunks follow the initial events
	// on the same stream, so the bookmark's re-watch is the first plain
	// WATCH; after 410 the stream is asked for again from the last
	// resourceVersion seen.
	checkRequests(t, api, []string{
		`WATCHLIST pods rv=""`, `WATCH pods rv="1500"`,
		`WATCHLIST pods rv="1500"`, `WATCH pods rv="2100"`,
	})
}

func testSequence(t *testing.T, api *apiServer, src *Source, tg *autotag.Tagger) {
	t.Helper()

	nodeA := &autotag.Resource{Region: "eu-west-1", AZ: "eu-west-1a", Host: "node-a", PodCluster: "prod-eu", PodNode: "node-a"}
	nodeB := &autotag.Resource{Region: "eu-west-1", AZ: "eu-west-1b", Host: "node-b", PodCluster: "prod-eu", PodNode: "node-b"}
	webX := podRes("web-7d9f8b6c5d-x2x4k", uidWebX, "shop", "node-a", "eu-west-1a", "web", "web", "shop")
	webQ := podRes("web-7d9f8b6c5d-q8z2p", uidWebQ, "shop", "node-b", "eu-west-1b", "web", "web", "shop")
	db := podRes("db-0", uidDB, "shop", "node-b", "eu-west-1b", "db", "db", "")
	fluentd := podRes("fluentd-5kq2x", uidFluent, "kube-system", "node-a", "eu-west-1a", "fluentd", "", "")
	apiPod := podRes("api-6c4f9d7b8-kk2lm", uidAPI, "shop", "node-a", "eu-west-1a", "api", "api-public", "")
	svcWeb := &autotag.Resource{PodCluster: "prod-eu", PodNS: "shop", Service: "web", Ingress: "shop"}
	svcAPI := &autotag.Resource{PodCluster: "prod-eu", PodNS: "shop", Service: "api-public"}
	svcK8s := &autotag.Resource{PodCluster: "prod-eu", PodNS: "default", Service: "kubernetes"}
	ingress := &autotag.Resource{PodCluster: "prod-eu", PodNS: "shop", Ingress: "shop"}

	// 1. The initial lists.
	waitFor(t, tg, "the initial lists", func(s *autotag.Snapshot) bool { return s.Lookup(0, ip("10.244.1.5")) != nil })
	s := tg.Snapshot()
	checkAddrs(t, s, "list", []want{
		{"10.244.1.5", webX},
		{"10.244.2.8", nil}, // pending, no IP yet
		{"10.244.2.7", db},
		{"10.244.1.9", fluentd},
		{"10.0.1.10", nodeA}, // kube-proxy is on the host network: the node keeps its address
		{"203.0.113.10", nodeA},
		{"10.0.2.20", nodeB},
		{"10.244.2.11", nil}, // the CronJob's finished pod
		{"10.244.1.12", nil},
		{"10.96.0.20", svcWeb},
		{"10.96.0.1", svcK8s},
		{"203.0.113.50", svcAPI},
		{"198.51.100.7", ingress},
	})
	if p := s.Pod(uidReport); p == nil || p.PodGroup != "report" || p.Pod != "report-29402880-7xk2p" {
		t.Errorf("CronJob pod by uid: got %+v, want pod_group report (Pod -> Job -> CronJob)", p)
	}
	if p := s.Pod("3a2b1c0d-9e8f-47a6-b5c4-d3e2f1a0b9c8"); p == nil || p.PodGroup != "kube-proxy" {
		t.Errorf("host-network pod by uid: got %+v, want pod_group kube-proxy", p)
	}
	if c := s.Container(cidWebX); c == nil || c.Pod != "web-7d9f8b6c5d-x2x4k" || c.PodGroup != "web" || c.ContainerID != cidWebX {
		t.Errorf("container %s: got %+v", cidWebX, c)
	}
	for _, l := range []struct{ kind, key, label, value string }{
		{"pod", uidWebX, "app", "web"},
		{"pod", uidFluent, "controller-revision-hash", "77b8c9d6f"},
		{"service", "shop/web", "team", "storefront"},
		{"namespace", "shop", "env", "prod"},
		{"node", "node-b", "topology.kubernetes.io/zone", "eu-west-1b"},
	} {
		if got := s.Labels(l.kind, l.key)[l.label]; got != l.value {
			t.Errorf("labels of %s %s: %s=%q, want %q", l.kind, l.key, l.label, got, l.value)
		}
	}

	// 2. Watch events: the pending pod gets its IP and joins the service,
	// a new pod (whose ReplicaSet is not in the cache) appears, then a
	// bookmark ends the stream.
	api.release("pods", "endpointslices")
	waitFor(t, tg, "the watch events", func(s *autotag.Snapshot) bool {
		r := s.Lookup(0, ip("10.244.2.8"))
		a := s.Lookup(0, ip("10.244.1.12"))
		return r != nil && r.Service != "" && a != nil && a.Service != ""
	})
	checkAddrs(t, tg.Snapshot(), "watch", []want{
		{"10.244.2.8", webQ},
		{"10.244.1.12", apiPod},
		{"10.244.1.5", webX},
	})
	waitForRequest(t, api, "pods", `WATCH pods rv="1500"`) // the bookmark's resourceVersion

	// 3. 410 Gone: the reflector re-lists; the re-list no longer has db-0
	// (deleted while the watch was down) and has new fluentd labels.
	api.release("pods")
	waitFor(t, tg, "the re-list", func(s *autotag.Snapshot) bool { return s.Lookup(0, ip("10.244.2.7")) == nil })
	s = tg.Snapshot()
	checkAddrs(t, s, "re-list", []want{
		{"10.244.2.7", nil},
		{"10.244.2.8", webQ},
		{"10.244.1.12", apiPod},
		{"10.244.1.9", fluentd},
	})
	if s.Pod(uidDB) != nil {
		t.Errorf("db-0 by uid still present after the re-list")
	}
	if got := s.Labels("pod", uidFluent)["controller-revision-hash"]; got != "5c6d7e8f9" {
		t.Errorf("fluentd labels after the re-list: controller-revision-hash=%q, want 5c6d7e8f9", got)
	}

	// 4. A delete.
	api.release("pods")
	waitFor(t, tg, "the delete", func(s *autotag.Snapshot) bool { return s.Pod(uidAPI) == nil })
	checkAddrs(t, tg.Snapshot(), "delete", []want{
		{"10.244.1.12", nil},
		{"10.244.1.5", webX},
		{"203.0.113.50", svcAPI},
	})
	waitForRequest(t, api, "pods", `WATCH pods rv="2100"`)

	st := src.Stats()
	if st.Publishes < 4 || st.Events == 0 || st.Pods != 5 {
		t.Errorf("Stats: %+v, want >= 4 publishes, events, 5 pods", st)
	}
}

func checkRequests(t *testing.T, api *apiServer, wantSeq []string) {
	t.Helper()
	var seq []string
	for _, r := range api.log("pods") {
		seq = append(seq, r.String())
		if r.Watch && (r.Query["allowWatchBookmarks"] != "true" || r.Query["timeoutSeconds"] == "") {
			t.Errorf("%s: allowWatchBookmarks=%q timeoutSeconds=%q", r, r.Query["allowWatchBookmarks"], r.Query["timeoutSeconds"])
		}
	}
	if !slices.Equal(seq, wantSeq) {
		t.Errorf("pods requests:\n got %s\nwant %s", strings.Join(seq, "\n     "), strings.Join(wantSeq, "\n     "))
	}
}

func waitForRequest(t *testing.T, api *apiServer, resource, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range api.log(resource) {
			if r.String() == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request %s; got %v", want, api.log(resource))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSource_Run_forbidden: an API server that refuses every list (as
// without RBAC permission) makes Run fail with ErrNotSynced.
func TestSource_Run_forbidden(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusForbidden, "Forbidden", `pods is forbidden: User "system:serviceaccount:default:agent" cannot list resource "pods" in API group "" at the cluster scope`)
	}))
	defer srv.Close()
	src, err := New(Config{REST: &rest.Config{Host: srv.URL}, SyncTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tg := autotag.New()
	err = src.Run(context.Background(), tg.Updater("kubernetes"))
	if !errors.Is(err, ErrNotSynced) || !strings.Contains(err.Error(), "pods") {
		t.Fatalf("Run: %v, want ErrNotSynced naming pods", err)
	}
	if err := src.Run(context.Background(), tg.Updater("again")); !errors.Is(err, ErrRunTwice) {
		t.Fatalf("second Run: %v, want ErrRunTwice", err)
	}
	if tg.Snapshot().Prefixes() != 0 {
		t.Fatalf("entries published without synced caches")
	}
}
