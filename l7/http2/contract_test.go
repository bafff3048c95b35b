package http2_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// conversation turns a scripted conv into a kit conversation.
func conversation(c *conv) *l7test.Conversation {
	k := l7test.NewConversation(cliAddr, srvAddr, l7.TCP)
	for _, ch := range c.chunks {
		k.Send(ch.dir, ch.b)
	}
	return k
}

// conversations are the contract checks' inputs: HTTP/2 with tracing
// headers and dynamic table reuse, gRPC unary and streaming calls with
// trailers and a reset, an h2c upgrade, and a large response whose DATA
// frames span many segments.
func conversations() []*l7test.Conversation {
	up := newConv()
	up.add(cs, []byte("GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"))
	up.add(sc, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
	up.add(sc, frame(4, 0, 0, nil))
	up.headers(sc, 1, false, ":status", "200")
	up.data(sc, 1, true, 5)
	up.preface()
	up.headers(cs, 3, true, req("GET", "/next")...)
	up.headers(sc, 3, true, ":status", "204")

	big := newConv().preface()
	big.headers(cs, 1, true, req("GET", "/big")...)
	big.headers(sc, 1, false, ":status", "200", "content-length", "40000")
	for range 3 {
		big.data(sc, 1, false, 12000)
	}
	big.data(sc, 1, true, 4000)
	big.headers(cs, 3, true, req("GET", "/after")...)
	big.headers(sc, 3, true, ":status", "500")

	return []*l7test.Conversation{conversation(httpConv()), conversation(grpcConv()), conversation(up), conversation(big)}
}

func TestContract(t *testing.T) {
	l7test.CheckContract(t, http2.New(nil), conversations()...)
}

// FuzzContract fuzzes conversations through the engine under the contract
// checks (l7test.FuzzDecoder).
func FuzzContract(f *testing.F) {
	l7test.FuzzDecoder(f, http2.New(nil), conversations()...)
}
