package mysql

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// engineLines runs a capture through decode, the flow table and an engine
// whose registry holds the MySQL decoder alone, and renders its records as
// golden lines (requests and errors; a record with both gives two lines).
func engineLines(t *testing.T, path string) ([]string, l7.Stats) {
	t.Helper()
	reg, err := l7.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := l7test.Run(t, path, l7.Config{Registry: reg, MaxResourceLen: bodyCap})
	var out []string
	for _, r := range p.Records {
		if r.L7Protocol != Name {
			t.Errorf("record of protocol %q", r.L7Protocol)
		}
		key := r.Client.String() + "\t" + r.Server.String()
		if r.HasRequest {
			arg, id := "", ""
			switch string(r.RequestType) {
			case "COM_QUERY", "COM_STMT_PREPARE", "COM_INIT_DB":
				arg = clean(r.RequestResource)
			}
			if r.HasRequestID {
				id = strconv.Itoa(int(r.RequestID))
				if string(r.RequestType) == "COM_STMT_PREPARE" {
					// The id comes from the response; tshark
					// shows it there.
					out = append(out, "stmt\t"+key+"\t"+id)
					id = ""
				}
			}
			out = append(out, "req\t"+key+"\t"+string(r.RequestType)+"\t"+arg+"\t"+id)
		}
		if r.HasResponse && r.HasResponseCode {
			out = append(out, "err\t"+key+"\t"+strconv.Itoa(int(r.ResponseCode))+"\t"+clean(r.ResponseException))
		}
		if rows, ok := strings.CutPrefix(string(r.ResponseResult), "rows="); ok {
			out = append(out, "rows\t"+key+"\t"+rows)
		}
	}
	return out, p.Stats
}

// TestEngine runs every capture with a golden through the whole pipeline:
// the records carry tshark's requests, errors and row counts, connection by
// connection, with the statement ids that COM_STMT_PREPARE responses assign.
func TestEngine(t *testing.T) {
	for _, path := range corpus.Captures(t, "mysql", "mysql") {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := corpus.GoldenLines(t, "mysql", name)
			if ex, ok := oracleExceptions[name]; ok {
				want = ex.apply(want)
			}
			got, stats := engineLines(t, path)
			// Records come as sessions complete (a request without
			// response at once, the others with their response): compare
			// the sets.
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("records differ from tshark's\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			t.Logf("%d lines; engine stats %+v", len(got), stats)
		})
	}
}
