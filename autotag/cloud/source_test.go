package cloud

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
)

func lookup(tg *autotag.Tagger, a string) *autotag.Resource {
	return tg.Snapshot().Lookup(0, netip.MustParseAddr(a))
}

// start runs src into a new Tagger until the test ends and waits for its
// first publish.
func start(t *testing.T, src *Source) *autotag.Tagger {
	t.Helper()
	tg := autotag.New()
	u := tg.Updater("cloud")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, u) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for src.Stats().Publishes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no publish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return tg
}

// TestSource_Run_aws detects AWS (the mock) among three providers and
// checks the snapshot the autotag core builds from its entries.
func TestSource_Run_aws(t *testing.T) {
	url := imdsMock(t)
	gcp := gcpServer(t) // answers nothing but GCP requests
	src, err := New(Config{
		Providers: []Provider{&GCP{Endpoint: url}, &Azure{Endpoint: url}, &AWS{Endpoint: url}, &GCP{Endpoint: gcp.URL}},
		Timeout:   3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	tg := start(t, src)
	if p := src.Stats().Provider; p != "aws" {
		t.Fatalf("provider %q, want aws (before the GCP that also answers)", p)
	}
	host := autotag.Resource{
		Region: "us-east-1", AZ: "us-east-1f", CHost: "i-1234567890abcdef0", Host: "ip-172-16-34-43.ec2.internal",
		L3EPC: "vpc-d295a6a7", Subnet: "subnet-0ac62554",
	}
	subnet := autotag.Resource{Region: "us-east-1", AZ: "us-east-1f", L3EPC: "vpc-d295a6a7", Subnet: "subnet-0ac62554"}
	for _, tc := range []struct {
		addr string
		want *autotag.Resource
	}{
		{"172.16.34.43", &host},
		{"2001:db8:8:4::2", &host},
		{"192.0.2.54", &host}, // the public address
		{"192.0.2.9", &subnet},
		{"2001:db8:1::1", &subnet}, // the subnet's IPv6 block
		{"172.16.34.44", nil},
	} {
		got := lookup(tg, tc.addr)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("%s: got %+v, want none", tc.addr, *got)
		case tc.want != nil && (got == nil || *got != *tc.want):
			t.Errorf("%s: got %+v, want %+v", tc.addr, got, *tc.want)
		}
	}
	if l := tg.Snapshot().Labels("chost", "i-1234567890abcdef0"); l["Name"] != "test-instance" {
		t.Errorf("chost labels %v", l)
	}
}

// TestSource_Run_refresh: Azure's document changes (the VM gets a second
// address); the next refresh publishes it.
func TestSource_Run_refresh(t *testing.T) {
	doc, err := os.ReadFile("testdata/azure-instance.json")
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[[]byte]
	var failing atomic.Bool
	cur.Store(&doc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error": "Internal server error"}`))
			return
		}
		if r.Header.Get("Metadata") != "true" || r.URL.Path != "/metadata/instance" {
			http.Error(w, `{"error": "Bad request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(*cur.Load())
	}))
	defer srv.Close()
	src, err := New(Config{Providers: []Provider{&Azure{Endpoint: srv.URL}}, Refresh: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tg := start(t, src)
	want := autotag.Resource{Region: "westus", AZ: "westus-1", CHost: "02aab8a4-74ef-476e-8182-f6d2ba4166a6", Host: "examplevmname", Subnet: "10.144.133.128/26"}
	if got := lookup(tg, "10.144.133.132"); got == nil || *got != want {
		t.Fatalf("10.144.133.132: got %+v, want %+v", got, want)
	}
	if lookup(tg, "10.144.133.140") == nil {
		t.Fatalf("10.144.133.140: no subnet entry")
	}
	if lookup(tg, "10.144.133.140").CHost != "" {
		t.Fatalf("10.144.133.140 is in the subnet, not the VM")
	}
	changed := []byte(strings.Replace(string(doc), `"privateIpAddress": "10.144.133.132",`,
		`"privateIpAddress": "10.144.133.132", "publicIpAddress": ""}, {"privateIpAddress": "10.144.133.140",`, 1))
	cur.Store(&changed)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r := lookup(tg, "10.144.133.140"); r != nil && r.CHost != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refresh did not publish the new address; stats %+v", src.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := src.Stats(); st.Publishes != 2 || st.Provider != "azure" {
		t.Errorf("stats %+v, want 2 publishes from azure", st)
	}

	// A failing refresh is counted; the last entries stay.
	failing.Store(true)
	deadline = time.Now().Add(5 * time.Second)
	for src.Stats().Failures == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no failure counted; stats %+v", src.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := lookup(tg, "10.144.133.140"); r == nil || r.CHost == "" {
		t.Errorf("entries lost after a failed refresh: %+v", r)
	}
}

// TestSource_Run_none: no provider answers within the timeout.
func TestSource_Run_none(t *testing.T) {
	// A service that accepts and never answers, and a closed port.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	defer hang.CloseClientConnections()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	src, err := New(Config{Providers: []Provider{&AWS{Endpoint: hang.URL}, &GCP{Endpoint: closed}, &Azure{Endpoint: hang.URL}}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = src.Run(context.Background(), autotag.New().Updater("cloud"))
	if !errors.Is(err, ErrNotDetected) {
		t.Fatalf("Run: %v, want ErrNotDetected", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("detection took %v with a 200ms timeout", d)
	}
	if err := src.Run(context.Background(), nil); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run: %v", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{Providers: []Provider{nil}}); err == nil {
		t.Error("nil provider accepted")
	}
	if _, err := New(Config{Providers: []Provider{}}); err == nil {
		t.Error("empty provider list accepted")
	}
}
