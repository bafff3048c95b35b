package mqtt

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7/l7test"
)

// BenchmarkFlow replays the connections of the shared captures as the
// engine meets them on a busy link (l7test.BenchmarkFlows).
func BenchmarkFlow(b *testing.B) {
	l7test.BenchmarkFlows(b, New(nil), sharedCaptures(b))
}
