package http1

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversations are HTTP/1.x exchanges for the contract checks: bodies
// framed each way, pipelining, interim responses, HEAD, errors and a
// protocol switch.
func conversations() []*l7test.Conversation {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	conv := func() *l7test.Conversation { return l7test.NewConversation(cli, srv, l7.TCP) }
	return []*l7test.Conversation{
		conv().
			Request([]byte("GET /a?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: t/1\r\n\r\n")).
			Response([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")).
			Request([]byte("POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")).
			Response([]byte("HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfail\r\n0\r\nX-T: 1\r\n\r\n")),
		conv().
			Request([]byte("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nPUT /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")).
			Response([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")).
			Request([]byte("ok")).
			Response([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")).
			Wait(time.Second).
			Request([]byte("GET /close HTTP/1.0\r\n\r\n")).
			Response([]byte("HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("body ", 400))),
		// One request per round trip, a body each way: the kit's hole and
		// cut cases run on it.
		conv().
			Request([]byte("GET /one HTTP/1.1\r\nHost: h\r\n\r\n")).
			Response([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")).
			Request([]byte("POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 300\r\n\r\n" + strings.Repeat("p", 300))).
			Response([]byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")).
			Request([]byte("GET /three HTTP/1.1\r\nHost: h\r\n\r\n")).
			Response([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")).
			Request([]byte("DELETE /four HTTP/1.1\r\nHost: h\r\n\r\n")).
			Response([]byte("HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\n\r\nbusy")),
		conv().
			Request([]byte("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")).
			Response([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")).
			Request([]byte("\x81\x85abcd1234")),
		conv().
			Request([]byte("GET / HTTP/1.1\r\nHost: h\r\nBad header line\r\n\r\nGET /again HTTP/1.1\r\nHost: h\r\n\r\n")).
			Response([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")),
	}
}

func TestContract(t *testing.T) {
	l7test.CheckContract(t, New(nil), conversations()...)
}

// FuzzContract fuzzes conversations through the engine under the contract
// checks (l7test.FuzzDecoder).
func FuzzContract(f *testing.F) {
	l7test.FuzzDecoder(f, New(nil), conversations()...)
}
