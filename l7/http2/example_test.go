package http2_test

import (
	"bytes"
	"fmt"

	"golang.org/x/net/http2/hpack"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
)

// A gRPC call: its request at the end of its HEADERS frame, its response at
// the trailers that end the stream, paired by stream id.
func Example() {
	// HEADERS frames as a client and a server encode them.
	headers := func(enc *hpack.Encoder, buf *bytes.Buffer, stream byte, flags byte, kv ...string) []byte {
		buf.Reset()
		for i := 0; i < len(kv); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		n := buf.Len()
		return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), 1, flags, 0, 0, 0, stream}, buf.Bytes()...)
	}
	var cb, sb bytes.Buffer
	cenc, senc := hpack.NewEncoder(&cb), hpack.NewEncoder(&sb)
	client := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), headers(cenc, &cb, 1, 0x4,
		":method", "POST", ":scheme", "http", ":authority", "greeter:50051",
		":path", "/helloworld.Greeter/SayHello", "content-type", "application/grpc")...)
	server := append(headers(senc, &sb, 1, 0x4, ":status", "200", "content-type", "application/grpc"),
		headers(senc, &sb, 1, 0x5, "grpc-status", "5", "grpc-message", "user%20not%20found")...)

	p := http2.New(nil).NewParser(l7.TCP)
	var m l7.Message
	feed := func(dir l7.Direction, b []byte) {
		for len(b) > 0 {
			m.Reset()
			n, ok, err := p.Parse(b, dir, &m)
			if err != nil {
				return
			}
			if ok && m.Kind == l7.KindRequest {
				fmt.Printf("%s request %d: %s %s %s\n", m.Protocol, m.ID, m.RequestType, m.RequestDomain, m.RequestResource)
			} else if ok {
				fmt.Printf("%s response %d: %s %d %q\n", m.Protocol, m.ID, m.Status, m.Code, m.Exception)
			}
			b = b[n:]
		}
	}
	feed(l7.ToServer, client)
	feed(l7.ToClient, server)
	// Output:
	// gRPC request 1: POST greeter:50051 /helloworld.Greeter/SayHello
	// gRPC response 1: ClientError 5 "user not found"
}
