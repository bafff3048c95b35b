package dns

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// records runs a capture through decode, the flow table and an engine
// whose registry holds the DNS decoder alone, and returns one line per
// l7_flow_log record: "req <id> <name> <type>" and/or "resp <id> <rcode>
// <status>".
func records(t *testing.T, path string) (reqs, resps []string, stats l7.Stats) {
	t.Helper()
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := l7test.Run(t, path, l7.Config{Registry: reg})
	for _, r := range p.Records {
		if r.L7Protocol != Name {
			t.Errorf("record of protocol %q", r.L7Protocol)
		}
		id := strconv.Itoa(int(r.RequestID))
		if r.HasRequest {
			reqs = append(reqs, "req "+id+" "+string(r.RequestResource)+" "+string(r.RequestType))
		}
		if r.HasResponse {
			resps = append(resps, "resp "+id+" "+strconv.Itoa(int(r.ResponseCode&0xf))+" "+r.Status.String())
		}
	}
	slices.Sort(reqs)
	slices.Sort(resps)
	return reqs, resps, p.Stats
}

// TestEngine runs every capture with a golden through the whole pipeline:
// the records must carry exactly tshark's queries (id, name, type) and
// responses (id, rcode, status), with the same exceptions as TestOracle.
func TestEngine(t *testing.T) {
	root := testutil.ModuleRoot(t)
	goldens, _ := filepath.Glob(filepath.Join(root, "testdata", "l7", "dns", "*.golden"))
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".golden")
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(root, "testdata", "l7", name)
			if _, err := os.Stat(path); err != nil {
				path = filepath.Join(testutil.SharedPcaps(t, "dns"), name)
			}
			want := corpus.GoldenLines(t, "dns", name)
			if exp, ok := oracleExceptions[name]; ok {
				want = exp.apply(want)
			}
			var wantReq, wantResp []string
			for _, l := range want {
				f := strings.Split(l, "\t")
				if len(f) < 10 {
					continue
				}
				qname := f[6]
				if qname == "<Root>" {
					qname = "."
				}
				qt, _ := strconv.Atoi(f[7])
				typ := TypeName(uint16(qt))
				if typ == "" {
					typ = "TYPE" + f[7]
				}
				if f[5] == "0" {
					wantReq = append(wantReq, "req "+f[4]+" "+qname+" "+typ)
					continue
				}
				rc, _ := strconv.Atoi(f[8])
				st := l7.StatusServerError
				switch rc {
				case 0:
					st = l7.StatusOk
				case 3:
					st = l7.StatusClientError
				}
				wantResp = append(wantResp, "resp "+f[4]+" "+f[8]+" "+st.String())
			}
			slices.Sort(wantReq)
			slices.Sort(wantResp)
			gotReq, gotResp, stats := records(t, path)
			if !slices.Equal(gotReq, wantReq) {
				t.Errorf("requests\n got %q\nwant %q", gotReq, wantReq)
			}
			if !slices.Equal(gotResp, wantResp) {
				t.Errorf("responses\n got %q\nwant %q", gotResp, wantResp)
			}
			t.Logf("%d requests, %d responses; engine stats %+v", len(gotReq), len(gotResp), stats)
		})
	}
}
