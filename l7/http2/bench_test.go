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

// BenchmarkParse_Conn decodes a short connection as a busy capture carries
// many of (two requests, each answered, on a connection that then ends),
// the parser told it is idle after every frame and reset for the next
// connection, as the engine does with interleaved connections: the tables
// fill from empty, are packed after every header block and laid out again
// for the next one.
func BenchmarkParse_Conn(b *testing.B) {
	c := shortConn()
	p := http2.New(nil).NewParser(l7.TCP)
	var m l7.Message
	n := 0
	for _, ch := range c.chunks {
		n += len(ch.b)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		parseConn(p, c, &m)
	}
}

// parseConn decodes c's frames with p, told it is idle after every one,
// then resets p for the next connection.
func parseConn(p l7.Parser, c *conv, m *l7.Message) {
	for _, ch := range c.chunks {
		l7test.ParseAll(p, ch.b, ch.dir, m)
		p.(l7.Idler).Idle()
	}
	p.(l7.Resetter).Reset(l7.TCP)
}

// shortConn is a connection carrying two requests, each answered, with
// the header fields of a real client and server.
func shortConn() *conv {
	c := newConv().preface()
	reqFields := []string{":authority", "api.example.com:8080", ":method", "GET", ":path", "/v1/items/42?fields=name,price",
		":scheme", "http", "uuid", "4f1c3b9e-2d6a-4c1b-9f7e-0a8b6c5d4e3f", "version", "1.4.2",
		"accept-encoding", "gzip, deflate, br", "user-agent", "Go-http-client/2.0"}
	respFields := []string{":status", "200", "x-content-type-options", "nosniff",
		"strict-transport-security", "max-age=31536000; includeSubDomains", "access-control-allow-origin", "*",
		"date", "Sat, 05 Dec 2026 02:30:00 GMT", "expires", "-1", "cache-control", "private, max-age=0",
		"content-type", "application/json; charset=utf-8", "server", "gws", "content-length", "512",
		"x-xss-protection", "0", "x-frame-options", "SAMEORIGIN", "alt-svc", `h3=":443"; ma=2592000,h3-29=":443"; ma=2592000`}
	for _, id := range []uint32{1, 3} {
		c.headers(cs, id, true, reqFields...)
		c.headers(sc, id, false, respFields...)
		c.data(sc, id, true, 512)
	}
	return c
}
