package http1

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/l7"
)

var (
	benchRequest = []byte("GET /api/v1/items?id=42&x=y HTTP/1.1\r\nHost: shop.example.com\r\n" +
		"User-Agent: curl/8.5.0\r\nAccept: */*\r\nX-Request-ID: 7f9c2ba4-e88f-11ee\r\n" +
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n")
	benchSW8Request = []byte("POST /order HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n" +
		"sw8: 1-dHJhY2UtMQ==-c2VnLTE=-3-c3Zj-aW5z-L2E=-aDo4MA==\r\n\r\n")
	benchResponse = []byte("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 01:00:00 GMT\r\n" +
		"Content-Type: application/json\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\n{\"id\":42,\"ok\":1}\n")
	benchChunked = []byte("HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
	benchLarge = []byte("HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n" + strings.Repeat("x", 65536))
)

func TestParser_ParseAllocs(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		dir  l7.Direction
	}{
		{"request", benchRequest, l7.ToServer},
		{"sw8", benchSW8Request, l7.ToServer},
		{"response", benchResponse, l7.ToClient},
		{"chunked", benchChunked, l7.ToClient},
	}
	for _, tc := range cases {
		p := New().NewParser(l7.TCP)
		var m l7.Message
		if l7test.ParseAll(p, tc.in, tc.dir, &m) != 1 {
			t.Fatalf("%s: no message", tc.name)
		}
		allocs := testing.AllocsPerRun(200, func() { l7test.ParseAll(p, tc.in, tc.dir, &m) })
		if allocs != 0 {
			t.Errorf("%s: %v allocations per message, want 0", tc.name, allocs)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name string
		in   []byte
		dir  l7.Direction
	}{
		{"request", benchRequest, l7.ToServer},
		{"request_sw8", benchSW8Request, l7.ToServer},
		{"response", benchResponse, l7.ToClient},
		{"response_chunked", benchChunked, l7.ToClient},
		{"response_64KiB", benchLarge, l7.ToClient},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p := New().NewParser(l7.TCP)
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.in)))
			for b.Loop() {
				l7test.ParseAll(p, tc.in, tc.dir, &m)
			}
		})
	}
}

func TestDecoder_CheckAllocs(t *testing.T) {
	d := New()
	for _, in := range [][]byte{benchRequest, benchResponse, []byte("CCM_POST / HTTP/1.1\r\n"), []byte("\x16\x03\x01")} {
		if a := testing.AllocsPerRun(100, func() { d.Check(in, l7.ToServer, l7.TCP) }); a != 0 {
			t.Errorf("Check(%.10q): %v allocations", in, a)
		}
	}
}
