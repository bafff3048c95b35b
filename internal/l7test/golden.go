package l7test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	kit "github.com/metaflow-go/metaflow/l7/l7test"
)

// ReadLines returns the lines of the file at path: the public kit's
// l7test.ReadLines.
func ReadLines(tb testing.TB, path string) []string {
	tb.Helper()
	return kit.ReadLines(tb, path)
}

// GoldenPath returns the golden of capture name for proto:
// testdata/l7/<proto>/<name>.golden under the module root.
func GoldenPath(tb testing.TB, proto, name string) string {
	tb.Helper()
	return testutil.Testdata(tb, filepath.Join("l7", proto, name+".golden"))
}

// GoldenLines returns the lines of the golden of capture name for proto,
// written by scripts/l7-<proto>-goldens.py. A missing golden fails the
// test with the command that derives it.
func GoldenLines(tb testing.TB, proto, name string) []string {
	tb.Helper()
	path := GoldenPath(tb, proto, name)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("golden: %v (run scripts/l7-%s-goldens.py)", err, proto)
	}
	return ReadLines(tb, path)
}

// CompareMultiset fails the test when got and want differ as multisets of
// lines: the public kit's l7test.CompareMultiset.
func CompareMultiset(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	kit.CompareMultiset(tb, what, got, want)
}

// SortByConn sorts golden lines in place by their first three
// tab-separated fields (kind, client, server), keeping the order of lines
// that share them: stream order within one connection.
func SortByConn(lines []string) {
	slices.SortStableFunc(lines, func(a, b string) int {
		fa, fb := strings.SplitN(a, "\t", 4), strings.SplitN(b, "\t", 4)
		for i := range 3 {
			var x, y string
			if i < len(fa) {
				x = fa[i]
			}
			if i < len(fb) {
				y = fb[i]
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
		return 0
	})
}
