package kafka

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// pairLines zips request and response lines (golden format) of one
// connection by correlation id: "port key version corr topic -> code", or
// "-> none" for a request without a response.
func pairLines(ls []string) []string {
	resp := map[string]string{}
	for _, l := range ls {
		if f := strings.Split(l, "\t"); f[0] == "resp" {
			resp[f[1]+" "+f[3]] = f[4]
		}
	}
	var out []string
	for _, l := range ls {
		f := strings.Split(l, "\t")
		if f[0] != "req" {
			continue
		}
		code, ok := resp[f[1]+" "+f[4]]
		if !ok {
			code = "none"
		}
		out = append(out, strings.Join(f[1:], " ")+" -> "+code)
	}
	return out
}

func recordLine(r *l7.Record) string {
	topic := "-"
	if len(r.RequestResource) > 0 {
		topic = string(r.RequestResource)
	}
	code := "none"
	if r.HasResponse {
		code = "-"
		if r.HasResponseCode {
			code = strconv.Itoa(int(r.ResponseCode))
		}
	}
	return fmt.Sprintf("%d %s %s %d %s -> %s", r.Client.Port(), keyOf(r.RequestType), r.Version, r.RequestID, topic, code)
}

// TestEngine_Recorded runs the recorded captures through capture/decode,
// the flow table and the engine with the Kafka decoder, and checks that
// the records pair each request with its response as the parser's
// messages (checked against tshark and the recorder) say, with the
// statuses and trace context of RECORDS.md.
func TestEngine_Recorded(t *testing.T) {
	for _, name := range []string{"kafka-v2.4", "kafka-latest"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".pcap")
			want := pairLines(lines(l7test.ReplayTCP(t, path, New(nil)).Msgs))
			reg, err := l7.NewRegistry(New(nil))
			if err != nil {
				t.Fatal(err)
			}
			res := l7test.Run(t, path, l7.Config{Registry: reg})
			var got []string
			traces := 0
			for i := range res.Records {
				r := &res.Records[i]
				if r.L7Protocol != Name || !r.HasRequest {
					t.Errorf("record %s without request or of protocol %q", recordLine(r), r.L7Protocol)
					continue
				}
				got = append(got, recordLine(r))
				if r.HasResponse && r.HasResponseCode {
					want := l7.StatusOk
					if r.ResponseCode != 0 {
						want = l7.StatusServerError
					}
					if r.Status != want {
						t.Errorf("%s: status %v", recordLine(r), r.Status)
					}
				}
				if !bytesEqual(r.RequestResource, r.Endpoint) {
					t.Errorf("%s: endpoint %q", recordLine(r), r.Endpoint)
				}
				if len(r.TraceID) > 0 {
					traces++
				}
			}
			l7test.CompareMultiset(t, "records", got, want)
			if traces != 6 {
				t.Errorf("%d records with a trace id, want 6", traces)
			}
			if res.Stats.ParseErrors != 0 {
				t.Errorf("engine stats: %+v", res.Stats)
			}
		})
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
