package l7test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
)

// maxLine bounds the length of a golden line.
const maxLine = 1 << 20

// ReadLines returns the lines of the file at path (each up to 1 MiB). A
// file that cannot be read fails the test.
func ReadLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("golden: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("golden %s: %v", path, err)
	}
	return out
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
// lines, listing (up to 8 of) the missing and the extra lines.
func CompareMultiset(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if slices.Equal(g, w) {
		return
	}
	var missing, extra []string
	i, j := 0, 0
	for i < len(g) || j < len(w) {
		switch {
		case j >= len(w) || (i < len(g) && g[i] < w[j]):
			extra = append(extra, g[i])
			i++
		case i >= len(g) || w[j] < g[i]:
			missing = append(missing, w[j])
			j++
		default:
			i++
			j++
		}
	}
	tb.Errorf("%s: got %d want %d\nmissing %d:\n  %s\nextra %d:\n  %s", what, len(got), len(want),
		len(missing), trunc(missing), len(extra), trunc(extra))
}

func trunc(s []string) string {
	if len(s) > 8 {
		s = append(s[:8:8], "...")
	}
	return strings.Join(s, "\n  ")
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
