package autotag

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
)

func TestTagger_Precedence(t *testing.T) {
	tg := New()
	k8s := tg.Updater("kubernetes")
	cloud := tg.Updater("cloud")
	p := netip.MustParsePrefix("10.0.0.5/32")
	cloud.Update(&Entries{Addrs: []AddrEntry{{Prefix: p, Resource: Resource{Pod: "cloud-says", AZ: "az-1", CHost: "vm-1"}}}})
	k8s.Update(&Entries{Addrs: []AddrEntry{{Prefix: p, Resource: Resource{Pod: "web-1", PodNS: "shop"}}}})
	r := tg.Snapshot().Lookup(0, p.Addr())
	want := Resource{Pod: "web-1", PodNS: "shop", AZ: "az-1", CHost: "vm-1"}
	if r == nil || *r != want {
		t.Fatalf("merged %+v, want %+v", r, want)
	}
	// A new update replaces the source's previous entries entirely.
	k8s.Update(&Entries{})
	if r := tg.Snapshot().Lookup(0, p.Addr()); r == nil || r.Pod != "cloud-says" || r.PodNS != "" {
		t.Fatalf("after k8s emptied: %+v", r)
	}
	cloud.Update(&Entries{})
	if r := tg.Snapshot().Lookup(0, p.Addr()); r != nil {
		t.Fatalf("after both emptied: %+v", r)
	}
	if st := tg.Stats(); st.Sources != 2 || st.Updates != 4 || st.Prefixes != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTagger_ProcessChain(t *testing.T) {
	tg := New()
	tg.Updater("procfs").Update(&Entries{
		Processes: []ProcessEntry{{PID: 7, Resource: Resource{GProcess: "nginx", ContainerID: "c1", PodUID: "u-from-cgroup"}}},
	})
	tg.Updater("kubernetes").Update(&Entries{
		Pods:       []PodEntry{{UID: "u1", Resource: Resource{Pod: "web-1", PodNS: "shop", PodNode: "n1"}}},
		Containers: []ContainerEntry{{ID: "c1", Resource: Resource{PodUID: "u1"}}},
		Labels:     []LabelEntry{{Kind: "pod", Key: "u1", Labels: map[string]string{"app": "web"}}},
	})
	s := tg.Snapshot()
	p := s.Process(7)
	// The process's own pod uid (from its cgroup) names no known pod here:
	// the process gets its pod through its container, which joins u1.
	if p == nil || p.GProcess != "nginx" || p.ContainerID != "c1" || p.PID != 7 {
		t.Fatalf("process %+v", p)
	}
	if c := s.Container("c1"); c == nil || c.Pod != "web-1" || c.PodUID != "u1" {
		t.Fatalf("container %+v", c)
	}
	if p.Pod != "web-1" {
		t.Errorf("process pod %q, want the container's", p.Pod)
	}
	if s.Pod("u1") == nil || s.Labels("pod", "u1")["app"] != "web" || s.Labels("pod", "nope") != nil {
		t.Errorf("pod or labels missing")
	}
}

func TestTagger_Skipped(t *testing.T) {
	tg := New()
	tg.Updater("x").Update(&Entries{
		Addrs:      []AddrEntry{{}},
		Pods:       []PodEntry{{}},
		Containers: []ContainerEntry{{}},
		Processes:  []ProcessEntry{{}},
		Sockets:    []SocketEntry{{PID: 1}, {Local: netip.MustParseAddrPort("1.2.3.4:5")}},
	})
	if st := tg.Stats(); st.Skipped != 6 {
		t.Fatalf("skipped %d, want 6", st.Skipped)
	}
}

// runSource publishes one update, then fails or waits for cancellation.
type runSource struct {
	e   *Entries
	err error
}

func (r runSource) Run(ctx context.Context, u Updater) error {
	u.Update(r.e)
	if r.err != nil {
		return r.err
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestTagger_Run(t *testing.T) {
	tg := New()
	boom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- tg.Run(ctx,
			runSource{e: &Entries{Addrs: []AddrEntry{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Resource: Resource{Region: "a"}}}}},
			runSource{e: &Entries{Addrs: []AddrEntry{{Prefix: netip.MustParsePrefix("11.0.0.0/8"), Resource: Resource{Region: "b"}}}}, err: boom},
		)
	}()
	for tg.Stats().Failures == 0 {
		testingYield()
	}
	// The failed source's entries stay; the other keeps running.
	if r := tg.Snapshot().Lookup(0, netip.MustParseAddr("11.1.1.1")); r == nil || r.Region != "b" {
		t.Errorf("failed source's entries: %+v", r)
	}
	cancel()
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("Run: %v", err)
	}
	if err := tg.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Fatalf("second Run: %v", err)
	}
}

// TestTagger_ConcurrentReads updates while readers look up: every reader
// sees a complete snapshot (run with -race).
func TestTagger_ConcurrentReads(t *testing.T) {
	tg := New()
	u := tg.Updater("x")
	a := netip.MustParseAddr("10.0.0.1")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := tg.Snapshot().Lookup(0, a); r != nil && r.Pod != r.Service {
					t.Errorf("torn resource %+v", r)
					return
				}
			}
		}()
	}
	for i := range 200 {
		v := string(rune('a' + i%26))
		u.Update(&Entries{Addrs: []AddrEntry{{Prefix: netip.PrefixFrom(a, 32), Resource: Resource{Pod: v, Service: v}}}})
	}
	close(stop)
	wg.Wait()
}

// TestTagger_CoalescedUpdates sends updates from several sources at once:
// every Update returns with its entries published, and builds that would
// only repeat a newer one are skipped.
func TestTagger_CoalescedUpdates(t *testing.T) {
	tg := New()
	const sources, updates = 4, 50
	var wg sync.WaitGroup
	for i := range sources {
		u := tg.Updater("s")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range updates {
				a := netip.AddrFrom4([4]byte{10, byte(i), 0, 1})
				u.Update(&Entries{Addrs: []AddrEntry{{Prefix: netip.PrefixFrom(a, 32), Resource: Resource{Pod: string(rune('a' + n%26))}}}})
				if r := tg.Snapshot().Lookup(0, a); r == nil {
					t.Errorf("source %d: update %d not published on return", i, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	last := string(rune('a' + (updates-1)%26))
	for i := range sources {
		if r := tg.Snapshot().Lookup(0, netip.AddrFrom4([4]byte{10, byte(i), 0, 1})); r == nil || r.Pod != last {
			t.Errorf("source %d: %+v, want pod %s", i, r, last)
		}
	}
	if st := tg.Stats(); st.Updates > sources*updates || st.Updates == 0 {
		t.Errorf("%d builds for %d updates", st.Updates, sources*updates)
	}
	t.Logf("%d builds for %d updates", tg.Stats().Updates, sources*updates)
}

func TestSnapshot_LookupPodAddress(t *testing.T) {
	tg := New()
	// One source knows the network, another the pods and their addresses
	// by uid only.
	tg.Updater("kubernetes").Update(&Entries{
		Addrs: []AddrEntry{{Prefix: netip.MustParsePrefix("10.2.0.9/32"), Resource: Resource{PodUID: "u9"}}},
		Pods:  []PodEntry{{UID: "u9", Resource: Resource{Pod: "db-0", PodNS: "data", AZ: "pod-az"}}},
	})
	tg.Updater("cloud").Update(&Entries{
		Addrs: []AddrEntry{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Resource: Resource{Subnet: "data-net", AZ: "subnet-az", Region: "r"}}},
	})
	r := tg.Snapshot().Lookup(0, netip.MustParseAddr("10.2.0.9"))
	// The pod's fields come before the enclosing subnet's.
	want := Resource{Pod: "db-0", PodNS: "data", AZ: "pod-az", Subnet: "data-net", Region: "r", PodUID: "u9"}
	if r == nil || *r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}
