package http2_test

import (
	"net/netip"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
)

var (
	cliAddr = netip.MustParseAddrPort("10.0.0.1:40000")
	srvAddr = netip.MustParseAddrPort("10.0.0.2:8080")
)

const (
	cs = l7.ToServer
	sc = l7.ToClient
)

func req(method, path string, extra ...string) []string {
	return append([]string{":method", method, ":scheme", "http", ":authority", "example.com", ":path", path}, extra...)
}

func grpcReq(path string, extra ...string) []string {
	return req("POST", path, append([]string{"content-type", "application/grpc", "te", "trailers"}, extra...)...)
}

// httpConv is two HTTP/2 exchanges with tracing headers, the second using
// the dynamic table entries the first inserted.
func httpConv() *conv {
	c := newConv().preface()
	c.headers(cs, 1, true, req("GET", "/a?x=1", "user-agent", "curl/8", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x-request-id", "r1")...)
	c.headers(sc, 1, false, ":status", "200", "content-type", "text/plain", "x-request-id", "s1")
	c.data(sc, 1, true, 10)
	c.headers(cs, 3, true, req("GET", "/b", "user-agent", "curl/8", "b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")...)
	c.headers(sc, 3, true, ":status", "404")
	c.headers(cs, 5, false, req("POST", "/c", "content-length", "3")...)
	c.data(cs, 5, true, 3)
	c.headers(sc, 5, false, ":status", "503", "content-length", "4")
	c.data(sc, 5, true, 4)
	return c
}

var httpWant = []string{
	"HTTP2 GET example.com /a?x=1 /a id=1 Ok 200 trace=0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331/ xrid=r1/s1",
	"HTTP2 GET example.com /b /b id=3 ClientError 404 trace=80f198ee56343ba864fe8b2a57d3eff7/e457b5a2e4d86bd1/05e3ac9a4f6e3b90",
	"HTTP2 POST example.com /c /c id=5 ServerError 503",
}

// grpcConv is a unary call, a NotFound trailers-only answer, an Internal
// error with a message, and server, client and bidirectional streaming
// calls, two of them interleaved.
func grpcConv() *conv {
	c := newConv().preface()
	ok := []string{":status", "200", "content-type", "application/grpc"}
	c.headers(cs, 1, false, grpcReq("/helloworld.Greeter/SayHello")...)
	c.data(cs, 1, true, 12)
	c.headers(sc, 1, false, ok...)
	c.data(sc, 1, false, 20)
	c.headers(sc, 1, true, "grpc-status", "0", "grpc-message", "")

	c.headers(cs, 3, false, grpcReq("/helloworld.Greeter/SayHello")...)
	c.data(cs, 3, true, 5)
	c.headers(sc, 3, true, append(ok, "grpc-status", "5", "grpc-message", "no such user")...)

	c.headers(cs, 5, false, grpcReq("/helloworld.Greeter/Fail")...)
	c.data(cs, 5, true, 5)
	c.headers(sc, 5, false, ok...)
	c.headers(sc, 5, true, "grpc-status", "13", "grpc-message", "boom%3A 100%25")

	// Server streaming (7) interleaved with client streaming (9).
	c.headers(cs, 7, false, grpcReq("/pkg.Svc/ServerStream")...)
	c.data(cs, 7, true, 5)
	c.headers(cs, 9, false, grpcReq("/pkg.Svc/ClientStream")...)
	c.headers(sc, 7, false, ok...)
	for range 3 {
		c.data(sc, 7, false, 8)
		c.data(cs, 9, false, 6)
	}
	c.headers(sc, 7, true, "grpc-status", "0")
	c.data(cs, 9, true, 0)
	c.headers(sc, 9, false, ok...)
	c.data(sc, 9, false, 7)
	c.headers(sc, 9, true, "grpc-status", "0")

	// Bidirectional (11), cancelled by the client after two messages.
	c.headers(cs, 11, false, grpcReq("/pkg.Svc/Bidi")...)
	c.data(cs, 11, false, 6)
	c.headers(sc, 11, false, ok...)
	c.data(sc, 11, false, 6)
	c.add(cs, frame(3, 0, 11, []byte{0, 0, 0, 8}))
	return c
}

var grpcWant = []string{
	"gRPC POST example.com /helloworld.Greeter/SayHello /helloworld.Greeter/SayHello id=1 Ok 0",
	"gRPC POST example.com /helloworld.Greeter/SayHello /helloworld.Greeter/SayHello id=3 ClientError 5 exc=\"no such user\"",
	"gRPC POST example.com /helloworld.Greeter/Fail /helloworld.Greeter/Fail id=5 ServerError 13 exc=\"boom: 100%\"",
	"gRPC POST example.com /pkg.Svc/ServerStream /pkg.Svc/ServerStream id=7 Ok 0",
	"gRPC POST example.com /pkg.Svc/ClientStream /pkg.Svc/ClientStream id=9 Ok 0",
	"gRPC POST example.com /pkg.Svc/Bidi /pkg.Svc/Bidi id=11 ClientError 200 exc=\"CANCEL\"",
}

func TestParser_HTTP(t *testing.T) {
	for _, piece := range []int{0, 1, 5, 9, 100} {
		got, st := run(t, httpConv().chunks, piece, nil)
		expect(t, got, httpWant...)
		if st.ParseErrors != 0 {
			t.Errorf("piece %d: %d parse errors", piece, st.ParseErrors)
		}
	}
}

func TestParser_GRPC(t *testing.T) {
	for _, piece := range []int{0, 1, 3, 10, 1000} {
		got, _ := run(t, grpcConv().chunks, piece, nil)
		expect(t, got, grpcWant...)
	}
}

// A whole conversation in one chunk: the engine asks again after each
// message, and every record still comes out.
func TestParser_OneChunk(t *testing.T) {
	c := httpConv()
	var cli, srv []byte
	for _, ch := range c.chunks {
		if ch.dir == cs {
			cli = append(cli, ch.b...)
		} else {
			srv = append(srv, ch.b...)
		}
	}
	got, _ := run(t, []chunk{{cs, cli}, {sc, srv}}, 0, nil)
	expect(t, got, httpWant...)
}

func TestParser_Continuation(t *testing.T) {
	c := newConv().preface()
	blk := c.block(cs, req("GET", "/split", "x-long", "0123456789012345678901234567890123456789")...)
	c.add(cs, frame(1, 1, 1, blk[:7]))   // HEADERS, END_STREAM, no END_HEADERS
	c.add(cs, frame(9, 0, 1, blk[7:20])) // CONTINUATION
	c.add(cs, frame(9, 4, 1, blk[20:]))  // CONTINUATION, END_HEADERS
	// Padded and prioritised response headers.
	rb := c.block(sc, ":status", "200")
	p := append([]byte{3, 0, 0, 0, 0, 16}, rb...)
	p = append(p, 0, 0, 0)
	c.add(sc, frame(1, 4|1|8|0x20, 1, p))
	for _, piece := range []int{0, 2} {
		got, _ := run(t, c.chunks, piece, nil)
		expect(t, got, "HTTP2 GET example.com /split /split id=1 Ok 200")
	}
}

func TestParser_Upgrade(t *testing.T) {
	c := newConv()
	c.add(cs, []byte("GET /up?q=1 HTTP/1.1\r\nHost: h.example:8080\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nUser-Agent: curl/8\r\n\r\n"))
	c.add(sc, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
	c.add(sc, frame(4, 0, 0, nil))
	c.headers(sc, 1, false, ":status", "200")
	c.data(sc, 1, true, 5)
	c.preface()
	c.headers(cs, 3, true, req("GET", "/next")...)
	c.headers(sc, 3, true, ":status", "204")
	for _, piece := range []int{0, 4} {
		got, _ := run(t, c.chunks, piece, nil)
		expect(t, got,
			"HTTP2 GET h.example:8080 /up?q=1 /up id=1 Ok 200",
			"HTTP2 GET example.com /next /next id=3 Ok 204")
	}
	if v := http2.New(nil).Check(c.chunks[0].b, cs, l7.TCP); v != l7.Request {
		t.Errorf("Check(upgrade request) = %v", v)
	}
}

func TestParser_UpgradeRefused(t *testing.T) {
	c := newConv()
	c.add(cs, []byte("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"))
	c.add(sc, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
	c.add(cs, []byte("GET /again HTTP/1.1\r\nHost: h\r\n\r\n"))
	got, st := run(t, c.chunks, 0, nil)
	expect(t, got, "HTTP2 GET h / / id=1 Ok 200")
	if st.Stopped != 1 {
		t.Errorf("Stopped %d, want 1", st.Stopped)
	}
}

func TestDecoder_Check(t *testing.T) {
	d := http2.New(nil)
	h := httpConv()
	all := h.bytes()
	tests := []struct {
		name string
		b    []byte
		dir  l7.Direction
		want l7.Verdict
	}{
		{"preface", all, cs, l7.Request},
		{"preface start", all[:10], cs, l7.Request},
		{"request headers mid-stream", h.chunks[5].b, sc, l7.Request},
		{"response headers mid-stream", h.chunks[6].b, cs, l7.Response},
		{"settings", frame(4, 0, 0, []byte{0, 3, 0, 0, 0, 100}), sc, l7.Response},
		{"two frames", append(frame(8, 0, 0, []byte{0, 0, 1, 0}), frame(6, 0, 0, make([]byte, 8))...), cs, l7.Request},
		{"lone window update", frame(8, 0, 0, []byte{0, 0, 1, 0}), cs, l7.No},
		{"http1", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), cs, l7.No},
		{"http1 upgrade websocket", []byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), cs, l7.No},
		{"mysql greeting", []byte{0x4a, 0, 0, 0, 0x0a, '8', '.', '0', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, sc, l7.No},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), cs, l7.No},
		{"empty", nil, cs, l7.No},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Check(tc.b, tc.dir, l7.TCP); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
	if d.Check(all, cs, l7.UDP) != l7.No {
		t.Errorf("Check on UDP: not No")
	}
}

// TestParser_Bounds: streams that never get a response are bounded per
// connection (the oldest dropped and counted), informational responses are
// skipped, and the parser counts what it met.
func TestParser_Bounds(t *testing.T) {
	c := newConv().preface()
	for i := range 40 {
		c.headers(cs, uint32(2*i+1), true, req("GET", "/pending")...)
	}
	c.headers(cs, 101, false, req("POST", "/upload", "expect", "100-continue")...)
	c.headers(sc, 101, false, ":status", "100")
	c.data(cs, 101, true, 10)
	c.headers(sc, 101, true, ":status", "201")
	got, _ := run(t, c.chunks, 0, &http2.Config{MaxStreams: 8})
	if n := len(got); n != 41 {
		t.Fatalf("%d records, want 41", n)
	}
	// The engine emits requests past its own per-flow cap early, as
	// Unknown; the upload pairs past its 100 Continue.
	found := false
	for _, r := range got {
		found = found || r == "HTTP2 POST example.com /upload /upload id=101 Ok 201"
	}
	if !found {
		t.Errorf("no upload record in %q", got)
	}

	p := http2.New(&http2.Config{MaxStreams: 8}).NewParser(l7.TCP).(*http2.Parser)
	var m l7.Message
	for _, ch := range c.chunks {
		for b := ch.b; len(b) > 0; {
			m.Reset()
			n, _, err := p.Parse(b, ch.dir, &m)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			b = b[n:]
		}
	}
	st := p.Stats()
	if st.StreamsDropped != 33 || st.Frames == 0 || st.UnknownFields != 0 {
		t.Errorf("stats %+v, want 33 streams dropped", st)
	}
}

// TestParser_GRPCRequestID: the x-request-id of a gRPC call's response
// headers reaches its record at the trailers, for calls that interleave
// and end out of order (the stream table moves them as others end).
func TestParser_GRPCRequestID(t *testing.T) {
	c := newConv().preface()
	ok := []string{":status", "200", "content-type", "application/grpc"}
	for _, id := range []uint32{1, 3, 5} {
		c.headers(cs, id, true, grpcReq("/pkg.Svc/Call")...)
	}
	c.headers(sc, 1, false, append(ok, "x-request-id", "s1")...)
	c.headers(sc, 3, false, append(ok, "x-request-id", "s3-0123456789012345678901234567890123456789012345678901234567890123456789")...)
	c.headers(sc, 5, false, ok...)
	c.headers(sc, 1, true, "grpc-status", "0")
	c.headers(sc, 5, true, "grpc-status", "0", "x-request-id", "t5")
	c.headers(sc, 3, true, "grpc-status", "0")
	for _, piece := range []int{0, 7} {
		got, _ := run(t, c.chunks, piece, nil)
		expect(t, got,
			"gRPC POST example.com /pkg.Svc/Call /pkg.Svc/Call id=1 Ok 0 xrid=/s1",
			"gRPC POST example.com /pkg.Svc/Call /pkg.Svc/Call id=5 Ok 0 xrid=/t5",
			// Cut to 64 bytes.
			"gRPC POST example.com /pkg.Svc/Call /pkg.Svc/Call id=3 Ok 0 xrid=/s3-0123456789012345678901234567890123456789012345678901234567890")
	}
}
