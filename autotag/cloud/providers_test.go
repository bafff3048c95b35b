package cloud

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"testing"
)

// gcpServer serves testdata/gcp-instance.json as the metadata server does:
// only to requests with Metadata-Flavor: Google, answering with the same
// header. The document is written after the example of Google's "View and
// query VM metadata" (cloud.google.com/compute/docs/metadata/querying-metadata),
// a recursive GET of /computeMetadata/v1/instance/.
func gcpServer(t *testing.T) *httptest.Server {
	t.Helper()
	doc, err := os.ReadFile("testdata/gcp-instance.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte("Missing required header: Metadata-Flavor\n"))
			return
		}
		if r.URL.Path != "/computeMetadata/v1/instance/" || r.URL.Query().Get("recursive") != "true" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// azureServer serves testdata/azure-instance.json, the sample response of
// Microsoft's "Azure Instance Metadata Service" documentation
// (learn.microsoft.com/azure/virtual-machines/instance-metadata-service,
// api-version 2021-02-01), only to requests with Metadata: true and an
// api-version, as IMDS does.
func azureServer(t *testing.T) *httptest.Server {
	t.Helper()
	doc, err := os.ReadFile("testdata/azure-instance.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Header.Get("Metadata") != "true" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error": "Bad request. Required metadata header not specified"}`))
			return
		}
		if r.URL.Query().Get("api-version") == "" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error": "Bad request. api-version was not specified in the request"}`))
			return
		}
		if r.URL.Path != "/metadata/instance" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error": "Not found"}`))
			return
		}
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGCP_Fetch(t *testing.T) {
	srv := gcpServer(t)
	m, err := (&GCP{Endpoint: srv.URL}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Provider != "gcp" || m.Region != "us-central1" || m.AZ != "us-central1-a" ||
		m.InstanceID != "4520031799277581759" || m.Hostname != "example-instance.us-central1-a.c.example-project.internal" {
		t.Errorf("instance: %+v", m)
	}
	want := Interface{
		MAC: "42:01:0a:80:00:02", VPC: "default", Subnet: "10.128.0.0/20",
		Addrs:   []netip.Addr{netip.MustParseAddr("10.128.0.2")},
		Public:  []netip.Addr{netip.MustParseAddr("203.0.113.1")},
		Subnets: []netip.Prefix{netip.MustParsePrefix("10.128.0.0/20")},
	}
	if len(m.Interfaces) != 1 || !equalIface(m.Interfaces[0], want) {
		t.Errorf("interfaces %+v, want %+v", m.Interfaces, want)
	}
}

// TestGCP_Fetch_notGoogle: a server that does not answer with
// Metadata-Flavor: Google (AWS's or Azure's IMDS, a captive portal) is not
// the metadata server.
func TestGCP_Fetch_notGoogle(t *testing.T) {
	srv := azureServer(t)
	_, err := (&GCP{Endpoint: srv.URL}).Fetch(context.Background())
	if !errors.Is(err, ErrNotDetected) {
		t.Fatalf("Fetch: %v, want ErrNotDetected", err)
	}
}

func TestAzure_Fetch(t *testing.T) {
	srv := azureServer(t)
	m, err := (&Azure{Endpoint: srv.URL}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Provider != "azure" || m.Region != "westus" || m.AZ != "westus-1" ||
		m.InstanceID != "02aab8a4-74ef-476e-8182-f6d2ba4166a6" || m.Hostname != "examplevmname" {
		t.Errorf("instance: %+v", m)
	}
	if want := map[string]string{"foo": "bar", "baz": "bash"}; !maps.Equal(m.Tags, want) {
		t.Errorf("tags %v, want %v", m.Tags, want)
	}
	want := Interface{
		MAC: "0011AAFFBB22", Subnet: "10.144.133.128/26",
		Addrs:   []netip.Addr{netip.MustParseAddr("10.144.133.132")},
		Subnets: []netip.Prefix{netip.MustParsePrefix("10.144.133.128/26")},
	}
	if len(m.Interfaces) != 1 || !equalIface(m.Interfaces[0], want) {
		t.Errorf("interfaces %+v, want %+v", m.Interfaces, want)
	}
}

// TestAzure_Fetch_aws: AWS's IMDS at the same address answers 404 to
// Azure's path: not detected, not a fetch failure.
func TestAzure_Fetch_aws(t *testing.T) {
	url := imdsMock(t)
	_, err := (&Azure{Endpoint: url}).Fetch(context.Background())
	if !errors.Is(err, ErrNotDetected) {
		t.Fatalf("Fetch: %v, want ErrNotDetected", err)
	}
}

func equalIface(a, b Interface) bool {
	return a.MAC == b.MAC && a.VPC == b.VPC && a.Subnet == b.Subnet &&
		slices.Equal(a.Addrs, b.Addrs) && slices.Equal(a.Public, b.Public) &&
		slices.Equal(a.Subnets, b.Subnets) && slices.Equal(a.VPCs, b.VPCs)
}

func TestMaskPrefix(t *testing.T) {
	for _, tc := range []struct {
		ip, mask, want string
	}{
		{"10.128.0.2", "255.255.240.0", "10.128.0.0/20"},
		{"10.0.0.9", "255.255.255.255", "10.0.0.9/32"},
		{"10.0.0.9", "0.0.0.0", "0.0.0.0/0"},
		{"10.0.0.9", "255.0.255.0", ""}, // not contiguous
		{"10.0.0.9", "ffff::", ""},
		{"fe80::1", "255.255.0.0", ""},
		{"", "255.255.0.0", ""},
	} {
		t.Run(tc.ip+"/"+tc.mask, func(t *testing.T) {
			p, ok := maskPrefix(tc.ip, tc.mask)
			got := ""
			if ok {
				got = p.String()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
