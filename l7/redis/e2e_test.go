package redis_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/l7/redis"
)

// TestEngine_RedisCaptures runs every Redis capture through capture, decode,
// the flow table and the engine with the built-in decoders, and
// checks the records against the oracle goldens: the same commands, the
// same replies, and pairs that zip each connection's commands expecting a
// reply with its non-streaming replies in order.
func TestEngine_RedisCaptures(t *testing.T) {
	dir := testutil.SharedPcaps(t, "redis")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	rec, _ := filepath.Glob(testutil.Testdata(t, filepath.Join("l7", "redis*.pcap*")))
	for _, path := range append(files, rec...) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			g := testutil.Testdata(t, filepath.Join("l7", "redis", name+".golden"))
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
			compare(t, "requests", gotReq, wantReq)
			compare(t, "responses", gotResp, wantResp)
			compare(t, "pairs", gotPairs, wantPairs)
		})
	}
}

func runEngine(t *testing.T, path string) []l7.Record {
	t.Helper()
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	var recs []l7.Record
	// zeek_bulk-loading pipelines 1,000 SETs before the first reply: more
	// than the engine's default 16 pending requests per flow.
	eng, err := l7.NewEngine(l7.Config{Registry: reg, MaxPendingPerFlow: 2048, OnRecord: func(r *l7.Record) {
		c := *r
		for _, f := range []*[]byte{&c.RequestType, &c.RequestResource, &c.ResponseException} {
			*f = slices.Clone(*f)
		}
		recs = append(recs, c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	tab := flow.NewTable(flow.Config{Handler: eng})
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	var pkt capture.Packet
	var m decode.Meta
	for {
		err := src.ReadPacket(&pkt)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if dec.Decode(&pkt, &m) == nil {
			tab.Packet(&m)
		}
	}
	tab.Flush()
	return recs
}

// readGolden reads scripts/l7-redis-goldens.py output. Command lines are
// cut at 256 bytes by both sides, within the engine's resource limit.
func readGolden(t *testing.T, path string) (reqs, resps, pairs []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pending := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
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

func compare(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if slices.Equal(g, w) {
		return
	}
	var missing, extra []string
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case j == len(g) || (i < len(w) && w[i] < g[j]):
			missing = append(missing, w[i])
			i++
		case i == len(w) || g[j] < w[i]:
			extra = append(extra, g[j])
			j++
		default:
			i++
			j++
		}
	}
	t.Errorf("%s: got %d, want %d; missing %d %q; extra %d %q", what, len(got), len(want),
		len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
}
