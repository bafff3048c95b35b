package l7_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// runCapture runs a capture file through decode, the flow table and the
// engine with the built-in decoders, and returns the l7 and l4 records.
func runCapture(t *testing.T, path string, cfg l7.Config) *l7test.Result {
	t.Helper()
	reg, err := builtin.Registry()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Registry = reg
	return l7test.Run(t, path, cfg)
}

// TestEngine_HTTPCaptures runs every HTTP capture that has a tshark-derived
// golden (scripts/l7-http1-goldens.py) through the whole pipeline and checks
// that the engine's records carry the same requests and responses, and that
// pairing by order matches tshark's request/response order per connection.
func TestEngine_HTTPCaptures(t *testing.T) {
	root := testutil.ModuleRoot(t)
	goldens, _ := filepath.Glob(filepath.Join(root, "testdata", "l7", "http1", "*.golden"))
	if len(goldens) == 0 {
		t.Skip("no HTTP goldens")
	}
	shared := testutil.SharedPcaps(t, "http1")
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".golden")
		t.Run(name, func(t *testing.T) {
			pcap := filepath.Join(shared, name)
			if _, err := os.Stat(pcap); err != nil {
				pcap = filepath.Join(root, "testdata", "l7", name)
				if _, err := os.Stat(pcap); err != nil {
					t.Skipf("capture %s absent", name)
				}
			}
			wantReq, wantResp, wantPairs := readHTTPGolden(t, g, l7.DefaultMaxResourceLen)
			if ex, ok := httpExceptions[name]; ok {
				t.Logf("known difference from tshark: %s", ex.why)
				wantReq = append(wantReq, ex.req...)
				wantResp = append(wantResp, ex.resp...)
				wantPairs = append(wantPairs, ex.pairs...)
			}
			p := runCapture(t, pcap, l7.Config{})
			var gotReq, gotResp, gotPairs []string
			for _, r := range p.Records {
				if r.L7Protocol != "HTTP" {
					continue
				}
				conn := r.Client.String() + " " + r.Server.String()
				req := conn + " " + string(r.RequestType) + " " + string(r.RequestResource)
				resp := conn + " " + strconv.Itoa(int(r.ResponseCode))
				if r.HasRequest {
					gotReq = append(gotReq, req)
				}
				if r.HasResponse {
					gotResp = append(gotResp, resp)
				}
				if r.HasRequest && r.HasResponse {
					gotPairs = append(gotPairs, req+" -> "+strconv.Itoa(int(r.ResponseCode)))
				}
			}
			l7test.CompareMultiset(t, "requests", gotReq, wantReq)
			l7test.CompareMultiset(t, "responses", gotResp, wantResp)
			l7test.CompareMultiset(t, "pairs", gotPairs, wantPairs)
			var l4req, l4resp uint32
			for _, r := range p.Flows {
				l4req += r.L7Request
				l4resp += r.L7Response
			}
			if int(l4req) != len(wantReq) || int(l4resp) != len(wantResp) {
				t.Errorf("l4 records count %d requests %d responses, want %d %d", l4req, l4resp, len(wantReq), len(wantResp))
			}
		})
	}
}

// httpExceptions are captures where the engine's records differ from
// tshark's view for a documented reason.
var httpExceptions = map[string]struct {
	why              string
	req, resp, pairs []string // records tshark has no message for
}{
	"http-post-cut.pcap": {
		why: "the capture ends in the middle of a 400 KB upload's body, and nginx answered 200 " +
			"before reading it; tshark waits for the whole body and never dissects the request; " +
			"the engine emits the request from its complete head and pairs it with the 200",
		req:   []string{"10.201.0.1:35068 10.201.0.2:30080 POST /upload?name=big.bin"},
		pairs: []string{"10.201.0.1:35068 10.201.0.2:30080 POST /upload?name=big.bin -> 200"},
	},
	"http-cut-head.pcap": {
		why: "the capture ends after the response's first two head lines; tshark dissects " +
			"no response; the engine parses the cut head at the end of input (HTTP/1.0 200 OK)",
		resp:  []string{"10.201.0.1:37206 10.201.0.2:30081 200"},
		pairs: []string{"10.201.0.1:37206 10.201.0.2:30081 GET /cut -> 200"},
	},
	"zeek_entity_gap.pcap": {
		why: "a segment of the response body is missing; tshark waits for the whole body " +
			"and never dissects the response; the engine reports it from its header block " +
			"and the gap to the parser",
		resp:  []string{"141.142.228.5:59856 192.150.187.43:80 200"},
		pairs: []string{"141.142.228.5:59856 192.150.187.43:80 GET /download/CHANGES.bro-aux.txt -> 200"},
	},
}

// readHTTPGolden returns requests, responses and, zipping them in order per
// connection, pairs ("client server METHOD URI -> CODE").
// URIs are cut at maxURI bytes as the engine's records are.
func readHTTPGolden(t *testing.T, path string, maxURI int) (reqs, resps, pairs []string) {
	pending := map[string][]string{}
	for _, l := range l7test.ReadLines(t, path) {
		fs := strings.Split(l, "\t")
		if len(fs) < 4 {
			continue
		}
		conn := fs[1] + " " + fs[2]
		switch fs[0] {
		case "req":
			if len(fs) < 5 {
				continue
			}
			uri := fs[4]
			if len(uri) > maxURI {
				uri = uri[:maxURI]
			}
			r := conn + " " + fs[3] + " " + uri
			reqs = append(reqs, r)
			pending[conn] = append(pending[conn], r)
		case "resp":
			if fs[3] == "100" {
				continue // interim response, not a session of its own
			}
			resps = append(resps, conn+" "+fs[3])
			if q := pending[conn]; len(q) > 0 {
				pairs = append(pairs, q[0]+" -> "+fs[3])
				pending[conn] = q[1:]
			}
		}
	}
	return reqs, resps, pairs
}
