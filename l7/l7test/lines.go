package l7test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// maxLine bounds the length of a line ReadLines reads.
const maxLine = 1 << 20

// ReadLines returns the lines of the file at path (each up to 1 MiB), an
// oracle's output, say. A file that cannot be read fails the test.
func ReadLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("l7test: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("l7test: %s: %v", path, err)
	}
	return out
}

// CompareMultiset fails the test when got and want differ as multisets of
// lines (order does not matter, repetitions do), listing up to 8 of the
// missing and of the extra lines. what names the lines in the message.
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
