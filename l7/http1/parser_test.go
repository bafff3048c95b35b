package http1

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// chunkMsg is one step of a conversation: bytes in one direction.
type chunkMsg = l7test.Chunk

type gotMsg struct {
	kind                                            l7.Kind
	method, resource, endpoint, domain, version, ua string
	xrid, trace, span, exc                          string
	code                                            int32
	status                                          l7.Status
	length                                          int
}

// run feeds the steps to one parser, each split into pieces of at most
// step bytes (0: whole), keeping unconsumed bytes as the engine does.
func run(t *testing.T, steps []chunkMsg, step int) (msgs []gotMsg, stopped bool, errs int) {
	t.Helper()
	p := New(nil).NewParser(l7.TCP)
	stopped, errs = l7test.Feed(t, p, steps, step, func(m *l7.Message) {
		msgs = append(msgs, gotMsg{m.Kind, string(m.RequestType), string(m.RequestResource),
			string(m.Endpoint), string(m.RequestDomain), string(m.Version), string(m.UserAgent),
			string(m.XRequestID), string(m.TraceID), string(m.SpanID), string(m.Exception),
			m.Code, m.Status, m.Length})
	})
	if stopped {
		return msgs, true, errs
	}
	// A protocol switch is reported on the next call.
	var m l7.Message
	if _, _, err := p.Parse([]byte("x"), l7.ToServer, &m); errors.Is(err, l7.ErrStop) {
		stopped = true
	}
	return msgs, stopped, errs
}

func req(s string) chunkMsg  { return chunkMsg{Dir: l7.ToServer, Data: s} }
func resp(s string) chunkMsg { return chunkMsg{Dir: l7.ToClient, Data: s} }

func TestParser_Parse(t *testing.T) {
	tests := []struct {
		name    string
		steps   []chunkMsg
		want    []gotMsg
		stopped bool
		errs    int
	}{{
		name: "get with query and tracing",
		steps: []chunkMsg{
			req("GET /a/b?x=1 HTTP/1.1\r\nhOsT: example.com\r\nUser-Agent: curl/8\r\nX-Request-ID: r-1\r\n" +
				"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"),
			resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-request-id: r-2\r\n\r\nhello"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "GET", resource: "/a/b?x=1", endpoint: "/a/b", domain: "example.com",
				version: "1.1", ua: "curl/8", xrid: "r-1", trace: "0af7651916cd43dd8448eb211c80319c",
				span: "b7ad6b7169203331", length: -1},
			{kind: l7.KindResponse, version: "1.1", code: 200, status: l7.StatusOk, xrid: "r-2", length: 5},
		},
	}, {
		name: "sw8",
		steps: []chunkMsg{
			req("GET / HTTP/1.1\r\nHost: h\r\nsw8: 1-dHJhY2UtMQ==-c2VnLTE=-3-c3Zj-aW5z-L2E=-aDo4MA==\r\n\r\n"),
		},
		want: []gotMsg{{kind: l7.KindRequest, method: "GET", resource: "/", endpoint: "/", domain: "h",
			version: "1.1", trace: "trace-1", span: "seg-1-3", length: -1}},
	}, {
		name: "pipelined keep-alive with chunked and errors",
		steps: []chunkMsg{
			req("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
				"PUT /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nT: v\r\n\r\n"),
			resp("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 500 Internal Server Error\r\n" +
				"Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "GET", resource: "/1", endpoint: "/1", domain: "h", version: "1.1", length: -1},
			{kind: l7.KindRequest, method: "POST", resource: "/2", endpoint: "/2", domain: "h", version: "1.1", length: 3},
			{kind: l7.KindRequest, method: "PUT", resource: "/3", endpoint: "/3", domain: "h", version: "1.1", length: -1},
			{kind: l7.KindResponse, version: "1.1", code: 404, status: l7.StatusClientError, exc: "Not Found", length: 2},
			{kind: l7.KindResponse, version: "1.1", code: 500, status: l7.StatusServerError, exc: "Internal Server Error", length: -1},
			{kind: l7.KindResponse, version: "1.1", code: 201, status: l7.StatusOk, length: 0},
		},
	}, {
		name: "HEAD response has no body",
		steps: []chunkMsg{
			req("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n"),
			resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "HEAD", resource: "/x", endpoint: "/x", domain: "h", version: "1.1", length: -1},
			{kind: l7.KindRequest, method: "GET", resource: "/y", endpoint: "/y", domain: "h", version: "1.1", length: -1},
			{kind: l7.KindResponse, version: "1.1", code: 200, length: 100},
			{kind: l7.KindResponse, version: "1.1", code: 304, length: 100},
		},
	}, {
		name: "100 continue is not a message",
		steps: []chunkMsg{
			req("POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
			resp("HTTP/1.1 100 Continue\r\n\r\n"),
			req("data"),
			resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "POST", resource: "/u", endpoint: "/u", domain: "h", version: "1.1", length: 4},
			{kind: l7.KindResponse, version: "1.1", code: 200, length: 0},
		},
	}, {
		name: "upgrade stops after 101",
		steps: []chunkMsg{
			req("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
			resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "GET", resource: "/ws", endpoint: "/ws", domain: "h", version: "1.1", length: -1},
			{kind: l7.KindResponse, version: "1.1", code: 101, length: -1},
		},
		stopped: true,
	}, {
		name: "obs-fold and case-insensitive names",
		steps: []chunkMsg{
			req("GET http://proxy.example/p?q HTTP/1.0\r\nUSER-AGENT: a\r\n  b\r\n\tc\r\n\r\n"),
		},
		want: []gotMsg{{kind: l7.KindRequest, method: "GET", resource: "http://proxy.example/p?q", endpoint: "/p",
			domain: "proxy.example", version: "1.0", ua: "a b c", length: -1}},
	}, {
		name: "body until close",
		steps: []chunkMsg{
			req("GET / HTTP/1.0\r\n\r\n"),
			resp("HTTP/1.0 200 OK\r\n\r\nHTTP/1.0 200 OK\r\n\r\nmore"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "GET", resource: "/", endpoint: "/", version: "1.0", length: -1},
			{kind: l7.KindResponse, version: "1.0", code: 200, length: -1},
		},
	}, {
		name: "garbage then a request resynchronises",
		steps: []chunkMsg{
			req("\x16\x03\x01 junk\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"),
		},
		want: []gotMsg{
			{kind: l7.KindRequest, method: "GET", resource: "/ok", endpoint: "/ok", domain: "h", version: "1.1", length: -1},
		},
		errs: 1,
	}, {
		name: "chunk size overflow stops framing the direction",
		steps: []chunkMsg{
			req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
		},
		want: []gotMsg{{kind: l7.KindRequest, method: "POST", resource: "/", endpoint: "/", version: "1.1", length: -1}},
		errs: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 7} {
				got, stopped, errs := run(t, tc.steps, step)
				l7test.CompareMessages(t, "step "+strconv.Itoa(step), got, tc.want)
				if stopped != tc.stopped || errs != tc.errs {
					t.Errorf("step %d: stopped %v errs %d, want %v %d", step, stopped, errs, tc.stopped, tc.errs)
				}
			}
		})
	}
}

func TestParser_Gap(t *testing.T) {
	p := New(nil).NewParser(l7.TCP)
	var m l7.Message
	in := []byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
	if _, ok, _ := p.Parse(in, l7.ToClient, &m); !ok {
		t.Fatal("no response")
	}
	// The rest of the header block was consumed; 10 body bytes follow.
	if n, _, err := p.Parse(in[len(in)-10:], l7.ToClient, &m); n != 10 || err != nil {
		t.Fatalf("body: %d %v", n, err)
	}
	p.Gap(l7.ToClient, 80) // inside the body: absorbed
	next := []byte("0123456789HTTP/1.1 204 No Content\r\n\r\n")
	n, _, err := p.Parse(next, l7.ToClient, &m)
	if n != 10 || err != nil {
		t.Fatalf("after gap: %d %v", n, err)
	}
	m.Reset()
	if _, ok, err := p.Parse(next[10:], l7.ToClient, &m); !ok || m.Code != 204 {
		t.Fatalf("next response: %v %v %d", ok, err, m.Code)
	}
	// An unknown gap resynchronises on the next start line.
	p.Gap(l7.ToClient, -1)
	data := []byte("tail of something\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	n, ok, err := p.Parse(data, l7.ToClient, &m)
	if ok || err != nil || string(data[n:n+8]) != "HTTP/1.1" {
		t.Fatalf("resync: %d %v %v", n, ok, err)
	}
	m.Reset()
	if _, ok, _ := p.Parse(data[n:], l7.ToClient, &m); !ok || m.Code != 200 {
		t.Fatalf("after resync: %v %d", ok, m.Code)
	}
	st := p.(*Parser).Stats()
	if st.Skipped != uint64(len("tail of something\r\n")) || st.Responses != 3 || st.Unmatched != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestDecoder_Check(t *testing.T) {
	d := New(nil)
	tests := []struct {
		in   string
		t    l7.Transport
		want l7.Verdict
	}{
		{"GET / HTTP/1.1\r\n", l7.TCP, l7.Request},
		{"GET ", l7.TCP, l7.Request},
		{"CCM_POST / HTTP/1.1\r\n", l7.TCP, l7.Request},
		{"CCM_POST /x", l7.TCP, l7.No},
		{"HTTP/1.1 200 OK\r\n", l7.TCP, l7.Response},
		{"HTTP/2.0 200", l7.TCP, l7.No},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", l7.TCP, l7.No},
		{"GET / HTTP/1.1\r\n", l7.UDP, l7.No},
		{"SET key value\r\n", l7.TCP, l7.No},
		{"*1\r\n$4\r\nPING\r\n", l7.TCP, l7.No},
		{"get / HTTP/1.1", l7.TCP, l7.No},
		{"", l7.TCP, l7.No},
	}
	for _, tc := range tests {
		if got := d.Check([]byte(tc.in), l7.ToServer, tc.t); got != tc.want {
			t.Errorf("Check(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParser_HeaderTooLarge(t *testing.T) {
	d := New(&Config{MaxHeaderBytes: 64})
	p := d.NewParser(l7.TCP)
	var m l7.Message
	in := []byte("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 100) + "\r\n\r\n")
	_, ok, err := p.Parse(in, l7.ToServer, &m)
	var pe *l7.ParseError
	if ok || !errors.As(err, &pe) || !errors.Is(err, ErrHeaderTooLarge) || !errors.Is(err, l7.ErrMalformed) {
		t.Fatalf("got %v %v", ok, err)
	}
}

func TestParser_Trailing(t *testing.T) {
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var m l7.Message
	in := []byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
	n, ok, _ := p.Parse(in, l7.ToClient, &m)
	if !ok || !p.Trailing(l7.ToClient) || p.Trailing(l7.ToServer) {
		t.Fatalf("after headers: ok %v trailing %v", ok, p.Trailing(l7.ToClient))
	}
	if k, _, err := p.Parse(in[n:], l7.ToClient, &m); k != 4 || err != nil || p.Trailing(l7.ToClient) {
		t.Fatalf("after body: %d %v trailing %v", k, err, p.Trailing(l7.ToClient))
	}
}

// TestParser_Reset checks that a parser dirtied by another flow (a body
// in progress, requests pending, a folded header, a resynchronising
// direction) and then Reset decodes a conversation exactly as a new
// parser does, and that Idle between calls changes nothing.
func TestParser_Reset(t *testing.T) {
	d := New(nil)
	conv := []chunkMsg{
		req("GET /a HTTP/1.1\r\nHost: x\r\nX-Long: one\r\n two\r\nsw8: 1-MTIz-NDU2-0-c2Vydmlj-aW5zdA==-L2E=-aG9zdA==\r\n\r\n"),
		resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
		req("POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"),
		resp("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"),
	}
	decode := func(p l7.Parser, idle bool) []string {
		var out []string
		for _, c := range conv {
			data := []byte(c.Data)
			for len(data) > 0 {
				var m l7.Message
				n, ok, err := p.Parse(data, c.Dir, &m)
				out = append(out, fmt.Sprintf("%d %v %v %+v", n, ok, err, m))
				if idle {
					p.(l7.Idler).Idle()
				}
				if n == 0 {
					break
				}
				data = data[n:]
			}
		}
		return out
	}
	want := decode(d.NewParser(l7.TCP), false)
	if got := decode(d.NewParser(l7.TCP), true); !slices.Equal(got, want) {
		t.Fatalf("with Idle:\n%q\nwant\n%q", got, want)
	}
	dirty := d.NewParser(l7.TCP)
	var m l7.Message
	dirty.Parse([]byte("GET /x HTTP/1.1\r\nA: b\r\n c\r\n\r\nGET /y HTTP/1.1\r\n\r\n"), l7.ToServer, &m)
	dirty.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"), l7.ToClient, &m)
	dirty.Gap(l7.ToServer, -1)
	dirty.(l7.Resetter).Reset(l7.TCP)
	if got := decode(dirty, false); !slices.Equal(got, want) {
		t.Fatalf("after Reset:\n%q\nwant\n%q", got, want)
	}
	first := []byte(conv[0].Data)
	if !l7test.RaceEnabled && testing.AllocsPerRun(100, func() {
		m.Reset()
		dirty.(l7.Resetter).Reset(l7.TCP)
		dirty.Parse(first, l7.ToServer, &m)
		dirty.(l7.Idler).Idle()
	}) != 0 {
		t.Errorf("Reset, Parse and Idle allocate")
	}
}

func TestParser_ResetKit(t *testing.T) {
	l7test.CheckReset(t, New(nil),
		l7test.Case{Name: "request", In: benchRequest, Dir: l7.ToServer},
		l7test.Case{Name: "sw8", In: benchSW8Request, Dir: l7.ToServer},
		l7test.Case{Name: "response", In: benchResponse, Dir: l7.ToClient},
		l7test.Case{Name: "chunked", In: benchChunked, Dir: l7.ToClient},
	)
}
