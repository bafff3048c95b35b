package dubbo

import (
	"errors"
	"testing"
	"unicode/utf16"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// Frames built from the specifications: the Dubbo 2 header
// (https://dubbo.apache.org/en/blog/2018/10/05/introduction-to-the-dubbo-protocol/)
// and Hessian 2.0 (http://hessian.caucho.com/doc/hessian-serialization.html).

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// hstr encodes s as one hessian2 string chunk, choosing the short,
// medium or 'S' form by its length in UTF-16 units.
func hstr(s string) []byte {
	n := len(utf16.Encode([]rune(s)))
	switch {
	case n <= 31:
		return cat([]byte{byte(n)}, []byte(s))
	case n <= 1023:
		return cat([]byte{0x30 + byte(n>>8), byte(n)}, []byte(s))
	}
	return cat([]byte{'S', byte(n >> 8), byte(n)}, []byte(s))
}

// hchunked encodes parts as a chunked string: 'R' chunks, then a final
// short one.
func hchunked(parts ...string) []byte {
	var out []byte
	for i, p := range parts {
		if i == len(parts)-1 {
			return cat(out, hstr(p))
		}
		n := len(utf16.Encode([]rune(p)))
		out = cat(out, []byte{'R', byte(n >> 8), byte(n)}, []byte(p))
	}
	return out
}

func hint(v int) []byte { return []byte{byte(0x90 + v)} } // -16..47

func hmap(kv ...[]byte) []byte { return cat([]byte{'H'}, cat(kv...), []byte{'Z'}) }

func frame(flag, status byte, id uint64, body []byte) []byte {
	h := []byte{0xda, 0xbb, flag, status}
	for i := 7; i >= 0; i-- {
		h = append(h, byte(id>>(8*i)))
	}
	n := len(body)
	h = append(h, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return cat(h, body)
}

func invocation(service, method, desc string, args []byte, attach []byte) []byte {
	return cat(hstr("2.0.2"), hstr(service), hstr("1.0.0"), hstr(method), hstr(desc), args, attach)
}

type msg struct {
	kind                        l7.Kind
	id                          uint64
	version, typ, domain, res   string
	endpoint, exc               string
	code                        int32
	status                      l7.Status
	trace, span, parent, xreqid string
	noResponse                  bool
}

func capture(m *l7.Message) msg {
	return msg{kind: m.Kind, id: m.ID, version: string(m.Version), typ: string(m.RequestType),
		domain: string(m.RequestDomain), res: string(m.RequestResource), endpoint: string(m.Endpoint),
		exc: string(m.Exception), code: m.Code, status: m.Status, trace: string(m.TraceID),
		span: string(m.SpanID), parent: string(m.ParentSpanID), xreqid: string(m.XRequestID), noResponse: m.NoResponse}
}

const svc = "org.example.GreetingService"

func req(id uint64, method string) msg {
	return msg{kind: l7.KindRequest, id: id, version: "2.0.2", typ: method, domain: svc,
		res: svc + "." + method, endpoint: svc + "/" + method}
}

func TestParser(t *testing.T) {
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	args := cat(hstr("world"), hint(7), []byte{'N'}, // String, int, a null Object
		[]byte{'C'}, hstr("org.example.Person"), hint(2), hstr("name"), hstr("tags"), // class def
		[]byte{0x60}, hstr("ann"), []byte{0x7a}, hstr("a"), hstr("b")) // object: name, untyped list of 2
	attach := hmap(hstr("traceparent"), hstr(tp), hstr("X-Request-ID"), hstr("req-1"),
		hstr("timeout"), hint(5), hstr("path"), hstr(svc))
	exceptionBody := cat(hint(3), // RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS
		[]byte{'C'}, hstr("java.lang.IllegalStateException"), hint(3), hstr("detailMessage"), hstr("cause"), hstr("stackTrace"),
		[]byte{0x60}, hstr("no greeting for Bob"), []byte{'Q', 0x90}, []byte{0x78}, // cause: ref to itself; empty list
		hmap(hstr("dubbo"), hstr("2.0.2")))
	withTrace := req(1, "greet")
	withTrace.trace, withTrace.span, withTrace.xreqid = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "req-1"
	// "服务" (3 bytes a character) and "🚀" (4 bytes, two UTF-16 units).
	uni := msg{kind: l7.KindRequest, id: 3, version: "2.0.2", typ: "say🚀Hi", domain: "org.服务.Svc",
		res: "org.服务.Svc.say🚀Hi", endpoint: "org.服务.Svc/say🚀Hi"}
	b3 := req(9, "b3")
	b3.trace, b3.span, b3.parent = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", "05e3ac9a4f6e3b90"
	for _, tc := range []struct {
		name   string
		cfg    *Config
		chunks []l7test.Chunk
		want   []msg
	}{
		{"request with arguments and attachments", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 1, invocation(svc, "greet", "Ljava/lang/String;ILjava/lang/Object;Lorg/example/Person;", args, attach)))},
			{Dir: l7.ToClient, Data: string(frame(0x02, 20, 1, cat(hint(4), hstr("hello"), hmap(hstr("dubbo"), hstr("2.0.2")))))},
		}, []msg{withTrace, {kind: l7.KindResponse, id: 1, code: 20, status: l7.StatusOk}}},
		{"exception", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 2, invocation(svc, "greet", "", nil, hmap())))},
			{Dir: l7.ToClient, Data: string(frame(0x02, 20, 2, exceptionBody))},
		}, []msg{req(2, "greet"), {kind: l7.KindResponse, id: 2, code: 20, status: l7.StatusServerError,
			exc: "java.lang.IllegalStateException: no greeting for Bob"}}},
		{"chunked and multi-byte strings", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 3, cat(hstr("2.0.2"), hchunked("org.", "服务", ".Svc"), []byte{'N'},
				hchunked("say🚀", "Hi"), hstr("[J"), []byte{0x58, 0x92, 0xe1, 0xe2}, []byte{'N'})))},
		}, []msg{uni}},
		{"service error status", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 4, invocation(svc, "greet", "", nil, hmap())))},
			{Dir: l7.ToClient, Data: string(frame(0x02, 70, 4, hstr("Failed to invoke the method greet")))},
			{Dir: l7.ToClient, Data: string(frame(0x02, 40, 5, hstr("bad request")))},
		}, []msg{req(4, "greet"), {kind: l7.KindResponse, id: 4, code: 70, status: l7.StatusServerError, exc: "Failed to invoke the method greet"},
			{kind: l7.KindResponse, id: 5, code: 40, status: l7.StatusClientError, exc: "bad request"}}},
		{"heartbeats consumed", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xe2, 0, 6, []byte{'N'}))},
			{Dir: l7.ToClient, Data: string(frame(0x22, 20, 6, []byte{'N'}))},
		}, nil},
		{"heartbeats reported", &Config{Events: true}, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xe2, 0, 6, []byte{'N'}))},
			{Dir: l7.ToClient, Data: string(frame(0x22, 20, 6, []byte{'N'}))},
			{Dir: l7.ToServer, Data: string(frame(0xa2, 0, 7, hstr("R")))}, // one-way readonly event
		}, []msg{{kind: l7.KindRequest, id: 6, typ: "heartbeat"}, {kind: l7.KindResponse, id: 6, code: 20},
			{kind: l7.KindRequest, id: 7, typ: "event", noResponse: true}}},
		{"other serializations", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc8, 0, 10, []byte("kryo bytes")))},           // kryo
			{Dir: l7.ToServer, Data: string(frame(0xc6, 0, 11, []byte("\"2.0.2\"\n\"svc\"\n")))}, // fastjson
			{Dir: l7.ToServer, Data: string(frame(0xd5, 0, 12, []byte{0x0a, 0x01}))},             // protobuf-json
			{Dir: l7.ToServer, Data: string(frame(0x96, 0, 13, []byte{0x0a, 0x01}))},             // protobuf, one-way
			{Dir: l7.ToClient, Data: string(frame(0x08, 20, 10, []byte{2}))},
			{Dir: l7.ToClient, Data: string(frame(0x06, 90, 11, []byte("\"oops\"")))},
		}, []msg{{kind: l7.KindRequest, id: 10}, {kind: l7.KindRequest, id: 11}, {kind: l7.KindRequest, id: 12},
			{kind: l7.KindRequest, id: 13, noResponse: true},
			{kind: l7.KindResponse, id: 10, code: 20}, {kind: l7.KindResponse, id: 11, code: 90, status: l7.StatusClientError}}},
		{"b3 attachments", nil, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 9, invocation(svc, "b3", "", nil, hmap(
				hstr("X-B3-TraceId"), hstr("80f198ee56343ba864fe8b2a57d3eff7"), hstr("X-B3-SpanId"), hstr("e457b5a2e4d86bd1"),
				hstr("X-B3-ParentSpanId"), hstr("05e3ac9a4f6e3b90")))))},
		}, []msg{b3}},
		{"long body skipped past MaxBody", &Config{MaxBody: 64}, []l7test.Chunk{
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 20, invocation(svc, "put", "[B", cat([]byte{'B', 0x03, 0xe8}, make([]byte, 1000)), hmap())))},
			{Dir: l7.ToServer, Data: string(frame(0xc2, 0, 21, invocation(svc, "greet", "", nil, hmap())))},
		}, []msg{{kind: l7.KindRequest, id: 20, version: "2.0.2", typ: "put", domain: svc, res: svc + ".put", endpoint: svc + "/put"}, req(21, "greet")}},
	} {
		for _, piece := range []int{0, 1, 5, 100} {
			p := New(tc.cfg).NewParser(l7.TCP)
			var got []msg
			_, errs := l7test.Feed(t, p, tc.chunks, piece, func(m *l7.Message) { got = append(got, capture(m)) })
			if errs != 0 {
				t.Errorf("%s piece %d: %d errors", tc.name, piece, errs)
			}
			l7test.CompareMessages(t, tc.name, got, tc.want)
		}
		// A parser reused through Reset (l7.Resetter) after another flow
		// that left class definitions and a frame half read behaves as a
		// new one.
		p := New(tc.cfg).NewParser(l7.TCP)
		full := frame(0xc2, 0, 99, invocation(svc, "dirty", "Lorg/example/Person;", args, attach))
		l7test.Feed(t, p, []l7test.Chunk{
			{Dir: l7.ToClient, Data: string(frame(0x02, 20, 2, exceptionBody))},
			{Dir: l7.ToServer, Data: string(full[:len(full)/2])},
		}, 0, func(*l7.Message) {})
		p.(l7.Resetter).Reset(l7.TCP)
		var got []msg
		if _, errs := l7test.Feed(t, p, tc.chunks, 0, func(m *l7.Message) { got = append(got, capture(m)) }); errs != 0 {
			t.Errorf("%s after Reset: %d errors", tc.name, errs)
		}
		l7test.CompareMessages(t, tc.name+" after Reset", got, tc.want)
	}
}

func TestParser_GapAndErrors(t *testing.T) {
	d := New(nil)
	var m l7.Message
	p := d.NewParser(l7.TCP)
	big := frame(0xc2, 0, 1, invocation(svc, "put", "[B", cat([]byte{'B', 0x4e, 0x20}, make([]byte, 20000)), hmap()))
	// The first 16 KiB of the body are read, the rest skipped: a hole
	// inside it keeps the framing.
	n, ok, err := p.Parse(big[:16+defaultMaxBody+100], l7.ToServer, &m)
	if !ok || err != nil || n != 16+defaultMaxBody {
		t.Fatalf("Parse = %d, %v, %v", n, ok, err)
	}
	if n, ok, err = p.Parse(big[n:16+defaultMaxBody+100], l7.ToServer, &m); ok || err != nil || n != 100 {
		t.Fatalf("Parse of the body = %d, %v, %v", n, ok, err)
	}
	p.Gap(l7.ToServer, 1000)
	next := frame(0xc2, 0, 2, invocation(svc, "greet", "", nil, hmap()))
	if got := l7test.ParseAll(p, cat(big[16+defaultMaxBody+1100:], next), l7.ToServer, &m); got != 1 || m.ID != 2 {
		t.Errorf("after a gap in a skipped body: %d messages, id %d", got, m.ID)
	}
	// Any other gap: the parser finds the next magic.
	p.Gap(l7.ToServer, -1)
	if got := l7test.ParseAll(p, cat([]byte("\xda\x00junk\xda"), next), l7.ToServer, &m); got != 1 || m.ID != 2 {
		t.Errorf("after resync: %d messages, id %d", got, m.ID)
	}
	p = d.NewParser(l7.TCP)
	_, _, err = p.Parse(cat([]byte{0xda, 0xbb, 0xc2, 0}, make([]byte, 8), []byte{0x7f, 0, 0, 0}), l7.ToServer, &m)
	if !errors.Is(err, ErrBadLength) || !errors.Is(err, l7.ErrMalformed) {
		t.Errorf("huge length: %v", err)
	}
	_, _, err = p.Parse([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), l7.ToServer, &m)
	var pe *l7.ParseError
	if !errors.Is(err, ErrBadHeader) || !errors.As(err, &pe) || pe.Protocol != Name {
		t.Errorf("not Dubbo: %v", err)
	}
}

func TestDecoder_Check(t *testing.T) {
	d := New(nil)
	reqF := frame(0xc2, 0, 1, hstr("2.0.2"))
	for _, tc := range []struct {
		name string
		in   []byte
		t    l7.Transport
		want l7.Verdict
	}{
		{"request", reqF, l7.TCP, l7.Request},
		{"response", frame(0x02, 20, 1, []byte{0x91}), l7.TCP, l7.Response},
		{"kryo request", frame(0xc8, 0, 1, nil), l7.TCP, l7.Request},
		{"udp", reqF, l7.UDP, l7.No},
		{"short", reqF[:15], l7.TCP, l7.No},
		{"unknown serialization", frame(0xc1, 0, 1, nil), l7.TCP, l7.No},
		{"request with status", frame(0xc2, 20, 1, nil), l7.TCP, l7.No},
		{"unknown status", frame(0x02, 21, 1, nil), l7.TCP, l7.No},
		{"tls", []byte{22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3, 0, 0, 0, 0, 0}, l7.TCP, l7.No},
	} {
		if got := d.Check(tc.in, l7.ToServer, tc.t); got != tc.want {
			t.Errorf("%s: Check = %d, want %d", tc.name, got, tc.want)
		}
	}
	l7test.CheckZeroAlloc(t, d, l7test.Case{Name: "request", In: reqF, CheckOnly: true})
}

var benchCases = []l7test.Case{
	{Name: "Request", Dir: l7.ToServer, In: frame(0xc2, 0, 1, invocation(svc, "greet", "Ljava/lang/String;I", cat(hstr("world"), hint(7)),
		hmap(hstr("traceparent"), hstr("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), hstr("path"), hstr(svc))))},
	{Name: "RequestSW8Chunked", Dir: l7.ToServer, In: frame(0xc2, 0, 1, cat(hstr("2.0.2"), hchunked("org.example.", "GreetingService"), hstr("1.0.0"),
		hstr("greet"), hstr(""), hmap(hstr("sw8"), hstr("1-MS4yLjM=-YS5iLmM=-3-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-MTI3LjAuMC4xOjgwODA="))))},
	{Name: "Response", Dir: l7.ToClient, In: frame(0x02, 20, 1, cat(hint(1), []byte{'C'}, hstr("org.example.Reply"), hint(1), hstr("text"), []byte{0x60}, hstr("hi")))},
	{Name: "Exception", Dir: l7.ToClient, In: frame(0x02, 20, 1, cat(hint(0), []byte{'C'}, hstr("java.lang.RuntimeException"), hint(1),
		hstr("detailMessage"), []byte{0x60}, hstr("boom")))},
}

func TestParse_Allocs(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil), benchCases...)
}

func BenchmarkParse(b *testing.B) {
	l7test.BenchmarkParse(b, New(nil), benchCases)
}

func FuzzParse(f *testing.F) {
	for _, c := range benchCases {
		f.Add(append([]byte{0x07}, c.In...))
	}
	for _, s := range l7test.StreamSeeds(f, New(nil), sharedCaptures(f, "dubbo")...) {
		f.Add(append([]byte{0x20}, s...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, New(&Config{MaxBody: 256, Events: true}).NewParser(l7.TCP), in, false)
		l7test.FuzzPieces(t, &l7test.Idling{Parser: New(&Config{MaxBody: 256, Events: true}).NewParser(l7.TCP)}, in, false)
	})
}

func TestDecoder_Stats(t *testing.T) {
	d := New(&Config{MaxBody: 64})
	p := d.NewParser(l7.TCP)
	in := cat(frame(0xc2, 0, 1, invocation(svc, "put", "[B", cat([]byte{'B', 0x03, 0xe8}, make([]byte, 1000)), hmap())),
		frame(0xe2, 0, 2, []byte{'N'}),
		frame(0xc2, 0, 3, cat(hstr("2.0.2"), hstr(svc), hstr("1"), hstr("m"), hstr("I"), []byte{0x40})))
	var m l7.Message
	if got := l7test.ParseAll(p, in, l7.ToServer, &m); got != 2 {
		t.Errorf("%d messages, want 2", got)
	}
	// A second parser of the decoder counts into the same Stats.
	p2 := d.NewParser(l7.TCP)
	if got := l7test.ParseAll(p2, frame(0xe2, 0, 4, []byte{'N'}), l7.ToServer, &m); got != 0 {
		t.Errorf("%d messages from an event, want 0", got)
	}
	if st := d.Stats(); st.Frames != 4 || st.Truncated != 1 || st.Events != 2 || st.BodyErrors != 1 {
		t.Errorf("stats %+v", st)
	}
}
