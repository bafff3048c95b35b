package mqtt_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/l7/l7test"
	"github.com/metaflow-go/metaflow/l7/mqtt"
)

// TestBuiltin runs every MQTT capture through the engine with all the
// built-in decoders: every flow is MQTT (no decoder tried before MQTT
// takes its bytes) and the records are those of MQTT alone.
func TestBuiltin(t *testing.T) {
	all, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	alone, _ := l7.NewRegistry(mqtt.New(nil))
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(testutil.ModuleRoot(t)), "shared", "pcaps")
	}
	shared, _ := filepath.Glob(filepath.Join(root, "mqtt", "*.pcap*"))
	for _, path := range append(files, shared...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got := l7test.Run(t, path, l7.Config{Registry: all, MaxPendingPerFlow: 64})
			want := l7test.Run(t, path, l7.Config{Registry: alone, MaxPendingPerFlow: 64})
			for _, r := range got.Records {
				if r.L7Protocol != mqtt.Name {
					t.Errorf("record of %v: l7_protocol %q", r.Client, r.L7Protocol)
				}
			}
			if len(got.Records) != len(want.Records) {
				t.Errorf("%d records, MQTT alone %d", len(got.Records), len(want.Records))
			}
		})
	}
}
