package redis

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// esc renders bytes as the golden script does.
func esc(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	return sb.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func messageLines(msgs []l7test.Msg) []string {
	var out []string
	for _, x := range msgs {
		m := &x.M
		conn := x.Client.String() + "\t" + x.Server.String()
		switch m.Kind {
		case l7.KindRequest:
			out = append(out, fmt.Sprintf("req\t%s\t%s\t%s\t%d", conn, esc(m.RequestType),
				esc(m.RequestResource), b2i(m.NoResponse)))
		case l7.KindResponse:
			st := "ok"
			if m.Status == l7.StatusServerError {
				st = "err"
			}
			out = append(out, fmt.Sprintf("resp\t%s\t%s\t%d\t%s", conn, st, b2i(m.Streaming), esc(m.Exception)))
		}
	}
	return out
}

// normalize orders lines by kind and connection, keeping stream order
// within a connection.
func normalize(lines []string) []string {
	out := append([]string(nil), lines...)
	corpus.SortByConn(out)
	return out
}

func TestOracle(t *testing.T) {
	dir := testutil.SharedPcaps(t, "redis")
	files := corpus.Captures(t, "redis", "redis")
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(corpus.GoldenPath(t, "redis", name)); err != nil && !strings.HasPrefix(path, dir) {
				t.Skipf("recorded capture without a golden yet: run scripts/l7-redis-goldens.py")
			}
			want := normalize(corpus.GoldenLines(t, "redis", name))
			res := l7test.ReplayTCP(t, path, New(nil))
			got := normalize(messageLines(res.Msgs))
			var diff []string
			for i := range max(len(want), len(got)) {
				var w, g string
				if i < len(want) {
					w = want[i]
				}
				if i < len(got) {
					g = got[i]
				}
				if w != g {
					diff = append(diff, "  oracle: "+w+"\n  parser: "+g)
				}
			}
			if len(diff) > 0 {
				if len(diff) > 10 {
					diff = diff[:10]
				}
				t.Errorf("messages differ from the oracle (%d vs %d, errors %d):\n%s",
					len(want), len(got), res.Errs, strings.Join(diff, "\n"))
			}
		})
	}
}
