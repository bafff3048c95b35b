package http2_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http1"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// pipelineRecords runs a recorded capture through decode, the flow table
// and the engine with the HTTP/2 decoder listed before HTTP/1's, as
// l7/builtin lists them, and returns its records as recString lines
// (sorted) with the flows' l7_protocol.
func pipelineRecords(t *testing.T, name string) ([]string, *l7test.Result) {
	reg, err := l7.NewRegistry(http2.New(nil), http1.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := l7test.Run(t, filepath.Join("testdata", name), l7.Config{Registry: reg})
	var out []string
	for i := range p.Records {
		r := &p.Records[i]
		line := recString(r)
		if r.HasRequest && r.HasResponse {
			line += " paired"
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out, p
}

// TestPipeline_Recorded checks the records of the captures recorded on this
// machine end to end. The values come from the scripted conversations
// (scripts/record-http2.sh, scripts/grpc-recorder) and agree with the
// tshark goldens that TestOracle compares field by field.
func TestPipeline_Recorded(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"grpc.pcap", []string{
			"gRPC POST 127.0.0.1:17201 /demo.Echo/Bidi /demo.Echo/Bidi id=11 Ok 0 paired",
			"gRPC POST 127.0.0.1:17201 /demo.Echo/Bidi /demo.Echo/Bidi id=13 ClientError 200 exc=\"CANCEL\" paired",
			"gRPC POST 127.0.0.1:17201 /demo.Echo/ClientStream /demo.Echo/ClientStream id=9 Ok 0 paired",
			"gRPC POST 127.0.0.1:17201 /demo.Echo/ServerStream /demo.Echo/ServerStream id=7 Ok 0 paired",
			"gRPC POST 127.0.0.1:17201 /demo.Echo/Unary /demo.Echo/Unary id=1 Ok 0 trace=0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331/ xrid=req-0001/ paired",
			"gRPC POST 127.0.0.1:17201 /demo.Echo/Unary /demo.Echo/Unary id=3 ClientError 5 exc=\"no such key\" paired",
			"gRPC POST 127.0.0.1:17201 /demo.Echo/Unary /demo.Echo/Unary id=5 ServerError 13 exc=\"boom: disk 100% full, ünïcode\" paired",
			"gRPC POST 127.0.0.1:17201 /grpc.health.v1.Health/Check /grpc.health.v1.Health/Check id=15 Ok 0 paired",
		}},
		{"h2c-prior-knowledge.pcap", []string{
			"HTTP2 GET 127.0.0.1:17202 /big /big id=5 Ok 200 trace=1234567890/segment1-3/ paired",
			"HTTP2 GET 127.0.0.1:17202 /error?p=4 /error id=11 ServerError 500 trace=1234567890/segment1-3/ paired",
			"HTTP2 GET 127.0.0.1:17202 /hello?name=h2&x=1 /hello id=1 Ok 200 trace=4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7/ xrid=curl-1/curl-1 paired",
			"HTTP2 GET 127.0.0.1:17202 /hello?p=0 /hello id=1 Ok 200 trace=1234567890/segment1-3/ paired",
			"HTTP2 GET 127.0.0.1:17202 /hello?p=1 /hello id=3 Ok 200 trace=1234567890/segment1-3/ paired",
			"HTTP2 GET 127.0.0.1:17202 /hello?p=2 /hello id=7 Ok 200 trace=1234567890/segment1-3/ paired",
			"HTTP2 GET 127.0.0.1:17202 /missing /missing id=1 ClientError 404 paired",
			"HTTP2 GET 127.0.0.1:17202 /missing?p=3 /missing id=9 ClientError 404 trace=1234567890/segment1-3/ paired",
			"HTTP2 POST 127.0.0.1:17202 /hello?post=1 /hello id=1 Ok 200 paired",
		}},
		// The Upgrade request is HTTP/1.1 and stream 1's; the Go server
		// echoes x-request-id only on /hello.
		{"h2c-upgrade.pcap", []string{
			"HTTP2 GET 127.0.0.1:17200 /hello?via=upgrade /hello id=1 Ok 200 xrid=up-1/up-1 paired",
			"HTTP2 GET 127.0.0.1:17200 /missing /missing id=3 ClientError 404 xrid=up-1/ paired",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, p := pipelineRecords(t, tc.name)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if p.Stats.ParseErrors != 0 {
				t.Errorf("%d parse errors", p.Stats.ParseErrors)
			}
			// A flow carrying gRPC calls is named gRPC, as its records.
			want := http2.Name
			if strings.Contains(tc.name, "grpc") {
				want = "gRPC"
			}
			for _, f := range p.Flows {
				if f.L7Protocol != want {
					t.Errorf("flow %d: l7_protocol %q, want %q", f.FlowID, f.L7Protocol, want)
				}
			}
		})
	}
}
