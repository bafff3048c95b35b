package kafka_test

import (
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/l7/kafka"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// TestBuiltin_Recorded: with every built-in decoder competing in
// inference, each flow of the recorded captures is Kafka and every request
// makes one record (no response is left without its request).
func TestBuiltin_Recorded(t *testing.T) {
	for _, name := range []string{"kafka-v2.4", "kafka-latest"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".pcap")
			reg, err := builtin.Registry()
			if err != nil {
				t.Fatal(err)
			}
			res := l7test.Run(t, path, l7.Config{Registry: reg})
			alone := kafka.New(nil)
			reg1, _ := l7.NewRegistry(alone)
			want := l7test.Run(t, path, l7.Config{Registry: reg1})
			if len(res.Records) != len(want.Records) {
				t.Errorf("%d records with the built-in decoders, %d with Kafka alone", len(res.Records), len(want.Records))
			}
			for _, r := range res.Records {
				if r.L7Protocol != kafka.Name || !r.HasRequest {
					t.Errorf("record of %q, request %v: %s %s", r.L7Protocol, r.HasRequest, r.RequestType, r.RequestResource)
				}
			}
			for _, f := range res.Flows {
				if f.L7Protocol != kafka.Name {
					t.Errorf("flow %d: l7_protocol %q", f.FlowID, f.L7Protocol)
				}
			}
		})
	}
}

// TestBuiltin_Shared runs the shared Kafka captures (skipped when absent)
// through the engine with every built-in decoder: each request the parser
// finds alone is recorded as Kafka.
func TestBuiltin_Shared(t *testing.T) {
	dir := testutil.SharedPcaps(t, "kafka")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			reqs := 0
			for _, m := range l7test.ReplayTCP(t, path, kafka.New(nil)).Msgs {
				if m.M.Kind == l7.KindRequest {
					reqs++
				}
			}
			res := l7test.Run(t, path, l7.Config{Registry: reg})
			got := 0
			for _, r := range res.Records {
				if r.L7Protocol == kafka.Name && r.HasRequest {
					got++
				}
			}
			if got != reqs {
				t.Errorf("%d Kafka records with a request, the parser alone finds %d requests", got, reqs)
			}
		})
	}
}
