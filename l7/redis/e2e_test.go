package redis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/l7/l7test"
	"github.com/metaflow-go/metaflow/l7/redis"
)

// TestEngine_RedisCaptures runs every Redis capture through capture, decode,
// the flow table and the engine with the built-in decoders, and
// checks the records against the oracle goldens: the same commands, the
// same replies, and pairs that zip each connection's commands expecting a
// reply with its non-streaming replies in order.
func TestEngine_RedisCaptures(t *testing.T) {
	dir := testutil.SharedPcaps(t, "redis")
	for _, path := range corpus.Captures(t, "redis", "redis") {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			g := corpus.GoldenPath(t, "redis", name)
			if _, err := os.Stat(g); err != nil && !strings.HasPrefix(path, dir) {
				t.Skip("recorded capture without a golden yet: run scripts/l7-redis-goldens.py")
			}
			wantReq, wantResp, wantPairs := readGolden(t, g)
			recs := runEngine(t, path)
			var gotReq, gotResp, gotPairs []string
			for _, r := range recs {
				if r.L7Protocol != redis.Name {
					t.Errorf("record of protocol %q", r.L7Protocol)
					continue
				}
				conn := r.Client.String() + " " + r.Server.String()
				req := conn + " " + string(r.RequestResource)
				status := "ok"
				if r.Status == l7.StatusServerError {
					status = "err " + string(r.ResponseException)
				}
				if r.HasRequest {
					gotReq = append(gotReq, req)
				}
				if r.HasResponse {
					gotResp = append(gotResp, conn+" "+status)
				}
				if r.HasRequest && r.HasResponse {
					gotPairs = append(gotPairs, req+" -> "+status)
				}
			}
			l7test.CompareMultiset(t, "requests", gotReq, wantReq)
			l7test.CompareMultiset(t, "responses", gotResp, wantResp)
			l7test.CompareMultiset(t, "pairs", gotPairs, wantPairs)
		})
	}
}

func runEngine(t *testing.T, path string) []l7.Record {
	t.Helper()
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	// zeek_bulk-loading pipelines 1,000 SETs before the first reply: more
	// than the engine's default 16 pending requests per flow.
	return l7test.Run(t, path, l7.Config{Registry: reg, MaxPendingPerFlow: 2048}).Records
}

// readGolden reads scripts/l7-redis-goldens.py output. Command lines are
// cut at 256 bytes by both sides, within the engine's resource limit.
func readGolden(t *testing.T, path string) (reqs, resps, pairs []string) {
	t.Helper()
	pending := map[string][]string{}
	for _, l := range l7test.ReadLines(t, path) {
		fs := strings.Split(l, "\t")
		conn := fs[1] + " " + fs[2]
		switch fs[0] {
		case "req":
			r := conn + " " + unesc(fs[4])
			reqs = append(reqs, r)
			if fs[5] == "0" {
				pending[conn] = append(pending[conn], r)
			}
		case "resp":
			status := "ok"
			if fs[3] == "err" {
				status = "err " + unesc(fs[5])
			}
			resps = append(resps, conn+" "+status)
			if fs[4] == "1" {
				continue // streaming: a lone response
			}
			if q := pending[conn]; len(q) > 0 {
				pairs = append(pairs, q[0]+" -> "+status)
				pending[conn] = q[1:]
			}
		}
	}
	return reqs, resps, pairs
}

// unesc reverses the golden's escaping (\\ and \xNN).
func unesc(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\' {
			b = append(b, '\\')
			i++
			continue
		}
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			var v byte
			for _, c := range []byte(s[i+2 : i+4]) {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= c - '0'
				default:
					v |= c - 'a' + 10
				}
			}
			b = append(b, v)
			i += 3
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}
