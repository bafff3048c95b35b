package l7test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// SharedDir returns the shared capture corpus folder of one protocol, like
// testutil.SharedPcaps, and whether it exists, without skipping the test.
func SharedDir(tb testing.TB, proto string) (string, bool) {
	tb.Helper()
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(testutil.ModuleRoot(tb)), "shared", "pcaps")
	}
	dir := filepath.Join(root, proto)
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// SharedCaptures returns the captures (*.pcap*) of the shared corpus of
// one protocol, none when the corpus is absent.
func SharedCaptures(tb testing.TB, proto string) []string {
	tb.Helper()
	dir, ok := SharedDir(tb, proto)
	if !ok {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	return files
}

// Captures returns the shared captures of proto followed by the recorded
// ones under the module's testdata/l7 whose names start with prefix.
func Captures(tb testing.TB, proto, prefix string) []string {
	tb.Helper()
	rec, _ := filepath.Glob(testutil.Testdata(tb, filepath.Join("l7", prefix+"*.pcap*")))
	return append(SharedCaptures(tb, proto), rec...)
}
