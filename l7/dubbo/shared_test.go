package dubbo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// sharedCaptures returns the captures of one protocol folder of the
// shared corpus (METAFLOW_PCAPS, default ../shared/pcaps beside the
// module), none when it is absent.
func sharedCaptures(tb testing.TB, proto string) []string {
	tb.Helper()
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(testutil.ModuleRoot(tb)), "shared", "pcaps")
	}
	files, _ := filepath.Glob(filepath.Join(root, proto, "*.pcap*"))
	return files
}
