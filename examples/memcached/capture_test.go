package memcached_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// The capture: memcached 1.6 on port 17111 and real clients
// (libmemcached-tools, a hand-written text client), recorded by
// scripts/record-memcached.sh; the golden comes from tshark through
// scripts/memcached-goldens.sh.
const capturePath = "testdata/memcached.pcap"

// result is what a capture run through decode, a flow table and an engine
// produced.
type result struct {
	recs  []l7.Record // byte fields copied
	flows []flow.Record
	stats l7.Stats
}

// run replays path through the public pipeline: capture.OpenFile,
// decode, flow.Table and l7.Engine with cfg.
func run(t *testing.T, path string, cfg l7.Config) *result {
	t.Helper()
	res := &result{}
	cfg.OnRecord = func(r *l7.Record) {
		c := *r
		for _, f := range []*[]byte{&c.Version, &c.RequestType, &c.RequestResource,
			&c.ResponseException, &c.ResponseResult} {
			*f = slices.Clone(*f)
		}
		res.recs = append(res.recs, c)
	}
	eng, err := l7.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tab := flow.NewTable(flow.Config{Handler: eng, OnRecord: func(r *flow.Record) { res.flows = append(res.flows, *r) }})
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder(decode.Config{})
	var pkt capture.Packet
	var m decode.Meta
	for {
		if err := src.ReadPacket(&pkt); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if dec.Decode(&pkt, &m) == nil {
			tab.Packet(&m)
		}
	}
	tab.Flush()
	res.stats = eng.Stats()
	return res
}

// golden reads the tshark-derived golden: requests, responses and, zipping
// each connection's requests that take a reply with its replies in order,
// the pairs, as "client server ..." lines.
func golden(t *testing.T, path string) (reqs, resps, pairs []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pending := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, "\t")
		conn := f[1] + " " + f[2]
		switch f[0] {
		case "req":
			r := conn + " " + unesc(f[4])
			reqs = append(reqs, r)
			if f[5] == "0" {
				pending[conn] = append(pending[conn], r)
			}
		case "resp":
			r := conn + " " + f[3] + " " + unesc(f[4])
			resps = append(resps, r)
			if q := pending[conn]; len(q) > 0 {
				pairs = append(pairs, q[0]+" -> "+f[3]+" "+unesc(f[4]))
				pending[conn] = q[1:]
			}
		}
	}
	return reqs, resps, pairs
}

func unesc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x':
			var v byte
			fmt.Sscanf(s[i+2:i+4], "%02x", &v)
			b.WriteByte(v)
			i += 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// lines renders records as the golden's lines.
func lines(recs []l7.Record) (reqs, resps, pairs []string) {
	for _, r := range recs {
		conn := r.Client.String() + " " + r.Server.String()
		req := conn + " " + string(r.RequestResource)
		var resp string
		switch r.Status {
		case l7.StatusOk:
			resp = "ok " + string(r.ResponseResult)
		case l7.StatusClientError:
			resp = "client CLIENT_ERROR " + string(r.ResponseException)
			if string(r.ResponseException) == "ERROR" {
				resp = "client ERROR"
			}
		case l7.StatusServerError:
			resp = "server SERVER_ERROR " + string(r.ResponseException)
		default:
			resp = r.Status.String()
		}
		if r.HasRequest {
			reqs = append(reqs, req)
		}
		if r.HasResponse {
			resps = append(resps, conn+" "+resp)
		}
		if r.HasRequest && r.HasResponse {
			pairs = append(pairs, req+" -> "+resp)
		}
	}
	return reqs, resps, pairs
}

func compare(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if slices.Equal(got, want) {
		return
	}
	var missing, extra []string
	for _, w := range want {
		if i, ok := slices.BinarySearch(got, w); ok {
			got = slices.Delete(got, i, i+1)
		} else {
			missing = append(missing, w)
		}
	}
	extra = got
	t.Errorf("%s: %d missing, %d extra\nmissing: %q\nextra: %q", what, len(missing), len(extra),
		missing[:min(len(missing), 5)], extra[:min(len(extra), 5)])
}

// checkCapture runs the capture with reg and no port hints and compares the
// records with the golden: every request, every response, every pair, no
// record of another protocol, no Timeout, no parse error.
func checkCapture(t *testing.T, reg *l7.Registry) {
	t.Helper()
	// One connection pipelines 20 sets before reading a reply: more than
	// the engine's default 16 requests waiting per flow.
	res := run(t, capturePath, l7.Config{Registry: reg, MaxPendingPerFlow: 64})
	wantReq, wantResp, wantPairs := golden(t, strings.TrimSuffix(capturePath, ".pcap")+".golden")
	gotReq, gotResp, gotPairs := lines(res.recs)
	compare(t, "requests", gotReq, wantReq)
	compare(t, "responses", gotResp, wantResp)
	compare(t, "pairs", gotPairs, wantPairs)
	for _, r := range res.recs {
		if r.L7Protocol != memcached.Name || r.Status == l7.StatusTimeout {
			t.Errorf("record %s %q: protocol %s status %v", r.Client, r.RequestResource, r.L7Protocol, r.Status)
		}
	}
	for _, f := range res.flows {
		if f.L7Protocol != memcached.Name || f.L7ServerTimeout != 0 {
			t.Errorf("flow %v: protocol %q, %d timeouts", f.ClientPort, f.L7Protocol, f.L7ServerTimeout)
		}
	}
	st := res.stats
	if st.Timeouts != 0 || st.ParseErrors != 0 || st.Reinferred != 0 || st.LoneResponses != 0 {
		t.Errorf("timeouts %d parse errors %d reinferred %d lone responses %d, want none",
			st.Timeouts, st.ParseErrors, st.Reinferred, st.LoneResponses)
	}
	t.Logf("%d records, %d flows, %d requests, %d responses; weak verdicts rejected %d",
		len(res.recs), len(res.flows), len(gotReq), len(gotResp), st.WeakRejected)
}

// TestCapture_AfterBuiltins is the worst case of issue 7: the decoder
// registered after every built-in one, on an uncommon port, with no port
// hints. The built-in Redis decoder would take "get k" for an inline
// command; it answers l7.WeakRequest, so memcached gets every flow.
func TestCapture_AfterBuiltins(t *testing.T) {
	reg, err := builtin.Registry(memcached.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkCapture(t, reg)
}

// TestCapture_First places the decoder before the built-in ones.
func TestCapture_First(t *testing.T) {
	reg, err := builtin.RegistryFirst(memcached.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkCapture(t, reg)
}

// TestCapture_StockRegistry runs the capture with the built-in decoders
// alone: memcached traffic is no built-in protocol, so it stays unknown:
// no record, in particular no Redis record and no false Timeout.
func TestCapture_StockRegistry(t *testing.T) {
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, capturePath, l7.Config{Registry: reg})
	for _, r := range res.recs {
		t.Errorf("record %s %q: protocol %s status %v", r.Client, r.RequestResource, r.L7Protocol, r.Status)
	}
	for _, f := range res.flows {
		if f.L7Protocol != "" {
			t.Errorf("flow %v: protocol %q", f.ClientPort, f.L7Protocol)
		}
	}
	if st := res.stats; st.Timeouts != 0 || st.Requests != 0 {
		t.Errorf("timeouts %d requests %d, want 0 0", st.Timeouts, st.Requests)
	}
}

func TestGoldenPresent(t *testing.T) {
	m, _ := filepath.Glob("testdata/*.golden")
	if len(m) == 0 {
		t.Fatal("no golden: run scripts/memcached-goldens.sh")
	}
}

// strongInline is the built-in Redis decoder as it was at issue 7: its
// Check said Request, not l7.WeakRequest, for inline commands.
type strongInline struct{ l7.Decoder }

func (d strongInline) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if v := d.Decoder.Check(p, dir, t); v != l7.WeakRequest {
		return v
	}
	return l7.Request
}

// TestCapture_Reinfer runs the capture as issue 7 did, the Redis decoder
// taking "get k" for an inline command, to check the engine's second line
// of defence: Redis fails on memcached's replies, the flows are inferred
// again, the endpoint avoids Redis, and no request comes out as a false
// Timeout.
func TestCapture_Reinfer(t *testing.T) {
	decs := builtin.Decoders()
	for i, d := range decs {
		if d.Name() == "Redis" {
			decs[i] = strongInline{d}
		}
	}
	reg, err := l7.NewRegistry(append(decs, memcached.New(nil))...)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, capturePath, l7.Config{Registry: reg, MaxPendingPerFlow: 64})
	var redis, unknown int
	for _, r := range res.recs {
		if r.L7Protocol != memcached.Name {
			redis++
		}
		if r.Status == l7.StatusUnknown {
			unknown++
		}
		if r.Status == l7.StatusTimeout {
			t.Errorf("record %s %q: false Timeout", r.Client, r.RequestResource)
		}
	}
	var memc int
	for _, f := range res.flows {
		if f.L7Protocol == memcached.Name {
			memc++
		}
	}
	st := res.stats
	t.Logf("records %d (not Memcached %d, Unknown %d); flows %d (Memcached %d); reinferred %d, abandoned requests %d, parse errors %d",
		len(res.recs), redis, unknown, len(res.flows), memc, st.Reinferred, st.AbandonedRequests, st.ParseErrors)
	if st.Reinferred == 0 || st.Timeouts != 0 {
		t.Errorf("reinferred %d timeouts %d, want some and none", st.Reinferred, st.Timeouts)
	}
}
