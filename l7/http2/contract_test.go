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

// TestContract_Holes runs the kit's hole and cut cases on one request per
// round trip: the preface and SETTINGS travel with the first request and
// response, each later message is one HEADERS frame whose fields are
// literals not indexed (a hole in a block that added to the dynamic table
// would leave the decoder's table behind the peer's for the rest of the
// connection, which no decoder can repair).
func TestContract_Holes(t *testing.T) {
	k := l7test.NewConversation(cliAddr, srvAddr, l7.TCP)
	preface := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(4, 0, 0, nil)...)
	for i, path := range []string{"/one", "/two", "/three", "/four"} {
		id := uint32(2*i + 1)
		reqBlock := literal(":method", "GET", ":scheme", "http", ":authority", "example.com", ":path", path)
		respBlock := literal(":status", []string{"200", "404", "500", "204"}[i])
		r := frame(1, 5, id, reqBlock)
		w := frame(1, 5, id, respBlock)
		if i == 0 {
			r = append(preface, r...)
			w = append(frame(4, 0, 0, nil), w...)
		}
		k.Request(r).Response(w)
	}
	l7test.CheckContract(t, http2.New(nil), k)
}

// literal encodes header fields as HPACK literals without indexing, with
// literal names (RFC 7541 6.2.2), strings not Huffman-coded.
func literal(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, 0)
		for _, s := range kv[i : i+2] {
			b = append(b, byte(len(s)))
			b = append(b, s...)
		}
	}
	return b
}
