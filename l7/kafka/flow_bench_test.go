package kafka

import (
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// BenchmarkFlow replays the connections of the shared captures as the
// engine meets them on a busy link (l7test.BenchmarkFlows).
func BenchmarkFlow(b *testing.B) {
	paths, _ := filepath.Glob(filepath.Join(testutil.SharedPcaps(b, "kafka"), "*.pcap*"))
	l7test.BenchmarkFlows(b, New(nil), paths)
}
