package memcached_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// sharedPcaps returns the shared capture corpus ($METAFLOW_PCAPS, else
// shared/pcaps beside the repository), or skips.
func sharedPcaps(t *testing.T) string {
	dir := os.Getenv("METAFLOW_PCAPS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "pcaps")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("shared capture corpus not found at %s", dir)
	}
	return dir
}

// TestCorpus_ClaimsNothingElse runs every capture of the shared corpus
// (HTTP, HTTP/2, gRPC, TLS, DNS, MySQL, Redis, Kafka, MQTT, Dubbo...) with
// the decoder registered after the built-in ones, and before them: it must
// claim no flow, and the built-in decoders' records must be as many as
// they make without it.
func TestCorpus_ClaimsNothingElse(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(sharedPcaps(t), "*", "*.pcap*"))
	if len(paths) == 0 {
		t.Skip("no captures in the shared corpus")
	}
	stock, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	after, err := builtin.Registry(memcached.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	before, err := builtin.RegistryFirst(memcached.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		rel, _ := filepath.Rel(filepath.Dir(filepath.Dir(path)), path)
		t.Run(rel, func(t *testing.T) {
			a := run(t, path, l7.Config{Registry: stock})
			for _, reg := range []*l7.Registry{after, before} {
				b := run(t, path, l7.Config{Registry: reg})
				for _, r := range b.recs {
					if r.L7Protocol == memcached.Name {
						t.Errorf("claimed flow %s-%s: %q %q", r.Client, r.Server, r.RequestResource, r.ResponseResult)
					}
				}
				if len(a.recs) != len(b.recs) {
					t.Errorf("%d records with the built-in decoders alone, %d with memcached (first: %v)",
						len(a.recs), len(b.recs), reg == before)
				}
			}
		})
	}
}
