package http1

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
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
	l7test.CheckZeroAlloc(t, New(nil),
		l7test.Case{Name: "request", In: benchRequest, Dir: l7.ToServer},
		l7test.Case{Name: "sw8", In: benchSW8Request, Dir: l7.ToServer},
		l7test.Case{Name: "response", In: benchResponse, Dir: l7.ToClient},
		l7test.Case{Name: "chunked", In: benchChunked, Dir: l7.ToClient},
	)
}

func BenchmarkParse(b *testing.B) {
	l7test.BenchmarkParse(b, New(nil), []l7test.Case{
		{Name: "request", In: benchRequest, Dir: l7.ToServer},
		{Name: "request_sw8", In: benchSW8Request, Dir: l7.ToServer},
		{Name: "response", In: benchResponse, Dir: l7.ToClient},
		{Name: "response_chunked", In: benchChunked, Dir: l7.ToClient},
		{Name: "response_64KiB", In: benchLarge, Dir: l7.ToClient},
	})
}

func TestDecoder_CheckAllocs(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil),
		l7test.Case{Name: "unknown method", In: []byte("CCM_POST / HTTP/1.1\r\n"), CheckOnly: true},
		l7test.Case{Name: "TLS", In: []byte("\x16\x03\x01"), CheckOnly: true},
	)
}
