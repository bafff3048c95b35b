package http2_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// benchCases are HEADERS frames as a browser-like client and a gRPC server
// send them: the first request of a connection (literals, Huffman-coded,
// inserted into the dynamic table), the same request again (dynamic table
// references), a response and gRPC trailers.
func benchCases() []l7test.Case {
	c := newConv()
	fields := req("GET", "/api/v1/items?id=42&x=y", "user-agent", "curl/8.5.0", "accept", "*/*",
		"x-request-id", "7f9c2ba4-e88f-11ee",
		"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	first := frame(1, 5, 1, c.block(cs, fields...))
	again := frame(1, 5, 1, c.block(cs, fields...))
	resp := frame(1, 4, 1, c.block(sc, ":status", "200", "content-type", "application/json", "server", "nginx", "date", "Thu, 26 Nov 2026 01:00:00 GMT"))
	trailers := frame(1, 5, 1, c.block(sc, ":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "user%20not%20found"))
	return []l7test.Case{
		{Name: "request_literal", In: first, Dir: l7.ToServer},
		{Name: "request_indexed", In: again, Dir: l7.ToServer},
		{Name: "response", In: resp, Dir: l7.ToClient},
		{Name: "grpc_trailers_only", In: trailers, Dir: l7.ToClient},
	}
}

// TestCheckZeroAlloc: Check, and Parse on a warm parser, allocate nothing
// (the HPACK decoder reuses its buffers and decodes Huffman strings into
// them).
func TestCheckZeroAlloc(t *testing.T) {
	cases := benchCases()
	for i, b := range [][]byte{httpConv().bytes(), httpConv().chunks[5].b,
		[]byte("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"), []byte("\x16\x03\x01")} {
		cases = append(cases, l7test.Case{Name: "check" + string(rune('0'+i)), In: b, CheckOnly: true})
	}
	l7test.CheckZeroAlloc(t, http2.New(nil), cases...)
}

func BenchmarkParse(b *testing.B) {
	l7test.BenchmarkParse(b, http2.New(nil), benchCases())
}

// BenchmarkParse_Idle parses each case with a parser told it is idle after
// every message, as a connection that sleeps between its messages is: the
// scratch and the HPACK rings come from their pools each time, and the
// tables are laid out and packed again.
func BenchmarkParse_Idle(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.Name, func(b *testing.B) {
			p := http2.New(nil).NewParser(l7.TCP)
			idler := p.(l7.Idler)
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(c.In)))
			for b.Loop() {
				l7test.ParseAll(p, c.In, c.Dir, &m)
				idler.Idle()
			}
		})
	}
}
