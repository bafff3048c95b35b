package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// got is the part of a message the tests compare.
type got struct {
	Kind     l7.Kind
	Type     string
	Version  string
	ID       uint64
	Resource string
	Status   l7.Status
	Code     string
	Trace    string
	NoResp   bool
}

func summary(m *l7.Message) got {
	g := got{Kind: m.Kind, Type: string(m.RequestType), Version: string(m.Version), ID: m.ID,
		Resource: string(m.RequestResource), NoResp: m.NoResponse}
	if m.Kind == l7.KindResponse {
		g.Status = m.Status
		g.Code = "-"
		if m.HasCode {
			g.Code = fmt.Sprint(m.Code)
		}
	}
	if len(m.TraceID) > 0 {
		g.Trace = string(m.TraceID) + "/" + string(m.SpanID) + "/" + string(m.ParentSpanID)
	}
	if !bytes.Equal(m.RequestResource, m.Endpoint) {
		g.Resource += " endpoint=" + string(m.Endpoint)
	}
	return g
}

// feed runs chunks through one parser of d, whole and in pieces of 1, 7
// and 100 bytes, and checks that every way gives the same messages.
func feed(t *testing.T, d *Decoder, chunks []l7test.Chunk) []got {
	t.Helper()
	var first []got
	for _, piece := range []int{0, 1, 7, 100} {
		var out []got
		_, errs := l7test.Feed(t, d.NewParser(l7.TCP), chunks, piece, func(m *l7.Message) { out = append(out, summary(m)) })
		if errs != 0 {
			t.Errorf("piece %d: %d parse errors", piece, errs)
		}
		if piece == 0 {
			first = out
		} else {
			l7test.CompareMessages(t, fmt.Sprintf("piece %d", piece), out, first)
		}
	}
	return first
}

func req(b []byte) l7test.Chunk  { return l7test.Chunk{Dir: l7.ToServer, Data: string(b)} }
func resp(b []byte) l7test.Chunk { return l7test.Chunk{Dir: l7.ToClient, Data: string(b)} }

var (
	topicID     = []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}
	topicIDText = "ESIzRFVmd4iZqrvM3e7_AQ" // topicID as Kafka prints it
)

// apiVersions builds an ApiVersions request and response of version ver.
// From v3 the request is flexible (header v2) but the response header stays
// v0: the response has no tagged fields after the correlation id.
func apiVersions(ver int16, corr int32, code int16) (rq, rs []byte) {
	flex := ver >= 3
	rq = request(18, ver, corr, "cli", flex, func(e *enc) {
		if flex {
			e.str("go")
			e.str("1.0")
			e.tags()
		}
	})
	rs = response(corr, false, flex, func(e *enc) {
		e.i16(code)
		e.arr(1)
		e.i16(0)
		e.i16(0)
		e.i16(9)
		e.tags()
		if ver >= 1 {
			e.i32(0)
		}
		e.tags()
	})
	return rq, rs
}

func metadataResp(ver int16, corr int32, topic string, id []byte, code int16) []byte {
	flex := ver >= 9
	return response(corr, flex, flex, func(e *enc) {
		if ver >= 3 {
			e.i32(0)
		}
		e.arr(1) // brokers
		e.i32(1)
		e.str("broker-1")
		e.i32(9092)
		if ver >= 1 {
			e.str("\x00")
		}
		e.tags()
		if ver >= 2 {
			e.str("cluster")
		}
		if ver >= 1 {
			e.i32(1)
		}
		e.arr(1) // topics
		e.i16(code)
		e.str(topic)
		if ver >= 10 {
			e.raw(id)
		}
		if ver >= 1 {
			e.i8(0)
		}
		e.arr(1) // partitions
		e.i16(0)
		e.i32(0)
		e.i32(1)
		if ver >= 7 {
			e.i32(0)
		}
		e.arr(1)
		e.i32(1)
		e.arr(1)
		e.i32(1)
		if ver >= 5 {
			e.arr(0)
		}
		e.tags()
		if ver >= 8 {
			e.i32(0)
		}
		e.tags()
		if ver >= 8 && ver <= 10 {
			e.i32(0)
		}
		if ver >= 13 {
			e.i16(0)
		}
		e.tags()
	})
}

func metadataReq(ver int16, corr int32, topic string) []byte {
	return request(3, ver, corr, "cli", ver >= 9, func(e *enc) {
		e.arr(1)
		if ver >= 10 {
			e.raw(make([]byte, 16))
		}
		e.str(topic)
		e.tags()
		if ver >= 4 {
			e.i8(1)
		}
		if ver >= 8 && ver <= 10 {
			e.i8(0)
		}
		if ver >= 8 {
			e.i8(0)
		}
		e.tags()
	})
}

// fetchReq builds a Fetch request naming one topic (by id from v13).
func fetchReq(ver int16, corr int32, topic string, id []byte) []byte {
	return request(1, ver, corr, "consumer", ver >= 12, func(e *enc) {
		if ver <= 14 {
			e.i32(-1)
		}
		e.i32(500)
		e.i32(1)
		if ver >= 3 {
			e.i32(1 << 20)
		}
		if ver >= 4 {
			e.i8(0)
		}
		if ver >= 7 {
			e.i32(0)
			e.i32(-1)
		}
		e.arr(1)
		if ver >= 13 {
			e.raw(id)
		} else {
			e.str(topic)
		}
		e.arr(1)
		e.i32(0)
		if ver >= 9 {
			e.i32(-1)
		}
		e.i64(0)
		if ver >= 12 {
			e.i32(-1)
		}
		if ver >= 5 {
			e.i64(-1)
		}
		e.i32(1 << 20)
		e.tags()
		e.tags()
		if ver >= 7 {
			e.arr(0)
		}
		if ver >= 11 {
			e.str("")
		}
		e.tags()
	})
}

// fetchResp builds a Fetch response with a top-level error code (v7+) and
// one partition's.
func fetchResp(ver int16, corr int32, topic string, id []byte, top, part int16) []byte {
	flex := ver >= 12
	return response(corr, flex, flex, func(e *enc) {
		if ver >= 1 {
			e.i32(0)
		}
		if ver >= 7 {
			e.i16(top)
			e.i32(0)
		}
		e.arr(1)
		if ver >= 13 {
			e.raw(id)
		} else {
			e.str(topic)
		}
		e.arr(1)
		e.i32(0)
		e.i16(part)
		e.i64(10)
		if ver >= 4 {
			e.i64(10)
		}
		if ver >= 5 {
			e.i64(0)
		}
		if ver >= 4 {
			e.arr(0)
		}
		if ver >= 11 {
			e.i32(-1)
		}
		e.bytes(nil)
		e.tags()
		e.tags()
		e.tags()
	})
}

func TestParser_Messages(t *testing.T) {
	avq3, avs3 := apiVersions(3, 7, 0)
	avq0, avs0 := apiVersions(0, 8, 35)
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	b3 := []header{{"X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"}, {"x-b3-spanid", "a2fb4a1d1a96d312"}, {"X-B3-ParentSpanId", "0020000000000001"}}
	tests := []struct {
		name   string
		chunks []l7test.Chunk
		want   []got
	}{
		{"ApiVersions v3: flexible request, response header v0", []l7test.Chunk{req(avq3), resp(avs3)}, []got{
			{Kind: l7.KindRequest, Type: "ApiVersions", Version: "3", ID: 7},
			{Kind: l7.KindResponse, Type: "ApiVersions", Version: "3", ID: 7, Status: l7.StatusOk, Code: "0"},
		}},
		{"ApiVersions v0 error UNSUPPORTED_VERSION", []l7test.Chunk{req(avq0), resp(avs0)}, []got{
			{Kind: l7.KindRequest, Type: "ApiVersions", Version: "0", ID: 8},
			{Kind: l7.KindResponse, Type: "ApiVersions", Version: "0", ID: 8, Status: l7.StatusServerError, Code: "35"},
		}},
		{"Produce v3 gzip traceparent", []l7test.Chunk{
			req(produce(3, 1, 1, "orders", batch(codecGzip, 300, nil, tp))), resp(produceResp(3, 1, "orders", 0)),
		}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "3", ID: 1, Resource: "orders",
				Trace: "0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331/"},
			{Kind: l7.KindResponse, Type: "Produce", Version: "3", ID: 1, Status: l7.StatusOk, Code: "0"},
		}},
		{"Produce v9 flexible zstd X-B3 headers, error", []l7test.Chunk{
			req(produce(9, 2, -1, "orders", batch(codecZstd, 50, b3))), resp(produceResp(9, 2, "orders", 3)),
		}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "9", ID: 2, Resource: "orders",
				Trace: "463ac35c9f6413ad48485a3953bb6124/a2fb4a1d1a96d312/0020000000000001"},
			{Kind: l7.KindResponse, Type: "Produce", Version: "9", ID: 2, Status: l7.StatusServerError, Code: "3"},
		}},
		{"Produce v7 snappy, then acks 0 gets no response", []l7test.Chunk{
			req(produce(7, 3, 1, "a", batch(codecSnappy, 10, tp))),
			req(produce(7, 4, 0, "b", batch(codecNone, 10, tp))),
			resp(produceResp(7, 3, "a", 0)),
		}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "7", ID: 3, Resource: "a",
				Trace: "0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331/"},
			{Kind: l7.KindRequest, Type: "Produce", Version: "7", ID: 4, Resource: "b", NoResp: true,
				Trace: "0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331/"},
			{Kind: l7.KindResponse, Type: "Produce", Version: "7", ID: 3, Status: l7.StatusOk, Code: "0"},
		}},
		{"Produce v8 snappy in xerial framing, sw8", []l7test.Chunk{
			req(produce(8, 6, 1, "a", batch(snappyXerial, 10, []header{{"sw8", "1-MTIzNDU2Nzg5MA==-YWJjZGVm-2-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-MTI3LjAuMC4xOjkwOTI="}}))),
		}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "8", ID: 6, Resource: "a", Trace: "1234567890/abcdef-2/"},
		}},
		{"Produce sw8 with ids longer than the buffers", []l7test.Chunk{
			req(produce(8, 7, 1, "a", batch(codecNone, 10, []header{{"sw8", "1-" + strings.Repeat("QUJD", 40) + "-" + strings.Repeat("QUJD", 40) + "-3-x"}}))),
		}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "8", ID: 7, Resource: "a",
				Trace: strings.Repeat("ABC", 21) + "/" + strings.Repeat("ABC", 21) + "-3/"},
		}},
		{"Produce lz4: no trace", []l7test.Chunk{req(produce(8, 5, 1, "a", batch(codecLz4, 10, tp)))}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "8", ID: 5, Resource: "a"},
		}},
		{"pipelined, answered in order", []l7test.Chunk{
			req(append(metadataReq(12, 10, "x"), fetchReq(11, 11, "x", nil)...)),
			resp(append(metadataResp(12, 10, "x", topicID, 0), fetchResp(11, 11, "x", nil, 0, 1)...)),
		}, []got{
			{Kind: l7.KindRequest, Type: "Metadata", Version: "12", ID: 10, Resource: "x"},
			{Kind: l7.KindRequest, Type: "Fetch", Version: "11", ID: 11, Resource: "x"},
			{Kind: l7.KindResponse, Type: "Metadata", Version: "12", ID: 10, Status: l7.StatusOk, Code: "0"},
			{Kind: l7.KindResponse, Type: "Fetch", Version: "11", ID: 11, Status: l7.StatusServerError, Code: "1"},
		}},
		{"Fetch v13 by an id no Metadata mapped", []l7test.Chunk{
			req(fetchReq(13, 20, "", topicID)), resp(fetchResp(13, 20, "", topicID, 0, 0)),
		}, []got{
			{Kind: l7.KindRequest, Type: "Fetch", Version: "13", ID: 20, Resource: topicIDText},
			{Kind: l7.KindResponse, Type: "Fetch", Version: "13", ID: 20, Status: l7.StatusOk, Code: "0"},
		}},
		{"Fetch v12 top-level error wins", []l7test.Chunk{
			req(fetchReq(12, 21, "t", nil)), resp(fetchResp(12, 21, "t", nil, 70, 0)),
		}, []got{
			{Kind: l7.KindRequest, Type: "Fetch", Version: "12", ID: 21, Resource: "t"},
			{Kind: l7.KindResponse, Type: "Fetch", Version: "12", ID: 21, Status: l7.StatusServerError, Code: "70"},
		}},
		{"a version newer than known: header only", []l7test.Chunk{
			req(request(0, 40, 30, "cli", true, func(e *enc) { e.raw([]byte("future body")) })),
			resp(response(30, true, true, func(e *enc) { e.raw([]byte{0, 5}) })),
		}, []got{
			{Kind: l7.KindRequest, Type: "Produce", Version: "40", ID: 30},
			{Kind: l7.KindResponse, Type: "Produce", Version: "40", ID: 30, Status: l7.StatusUnknown, Code: "-"},
		}},
		{"an API key beyond the table", []l7test.Chunk{
			req(request(100, 0, 31, "cli", true, func(e *enc) {})),
			resp(response(31, true, true, func(e *enc) {})),
		}, []got{
			{Kind: l7.KindRequest, Type: "100", Version: "0", ID: 31},
			{Kind: l7.KindResponse, Type: "100", Version: "0", ID: 31, Status: l7.StatusUnknown, Code: "-"},
		}},
		{"a response whose request was not seen", []l7test.Chunk{resp(produceResp(3, 99, "a", 0))}, []got{
			{Kind: l7.KindResponse, ID: 99, Status: l7.StatusUnknown, Code: "-"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l7test.CompareMessages(t, "messages", feed(t, New(nil), tc.chunks), tc.want)
		})
	}
}

// TestParser_TopicIDAcrossFlows: a Metadata response on one flow maps a
// topic id that a Fetch request on another flow of the same Decoder names.
func TestParser_TopicIDAcrossFlows(t *testing.T) {
	d := New(nil)
	feed(t, d, []l7test.Chunk{req(metadataReq(12, 1, "payments")), resp(metadataResp(12, 1, "payments", topicID, 0))})
	out := feed(t, d, []l7test.Chunk{req(fetchReq(15, 2, "", topicID))})
	if len(out) != 1 || out[0].Resource != "payments" {
		t.Errorf("fetch by id: %+v, want resource payments", out)
	}
	if st := d.Stats(); st.TopicIDs != 1 {
		t.Errorf("stats %+v: want 1 topic id", st)
	}
	// Another decoder does not share the map.
	if out := feed(t, New(nil), []l7test.Chunk{req(fetchReq(15, 2, "", topicID))}); out[0].Resource != topicIDText {
		t.Errorf("fresh decoder: %+v, want the id", out)
	}
}

func TestTopicIDs_Bound(t *testing.T) {
	d := New(&Config{MaxTopicIDs: 2})
	for i := range 3 {
		id := bytes.Repeat([]byte{byte(i + 1)}, 16)
		d.ids.put(id, []byte(fmt.Sprint("t", i)))
	}
	if n := d.ids.len(); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	if got := d.ids.get(bytes.Repeat([]byte{1}, 16), nil); got != nil {
		t.Errorf("oldest entry still there: %q", got)
	}
	if got := d.ids.get(bytes.Repeat([]byte{3}, 16), make([]byte, 0, 8)); string(got) != "t2" {
		t.Errorf("newest entry: %q", got)
	}
}

// TestParser_LongMessage: a message longer than MaxPeek is decoded from
// its first MaxPeek bytes and the rest skipped (Trailing), a gap inside
// the rest is absorbed, and the next message parses.
func TestParser_LongMessage(t *testing.T) {
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	big := produce(3, 1, 1, "big", batch(codecNone, 40000, tp))
	next := produce(3, 2, 1, "next", batch(codecNone, 10, nil))
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var m l7.Message
	n, ok, err := p.Parse(big[:DefaultMaxPeek-1], l7.ToServer, &m)
	if n != 0 || ok || !errors.Is(err, l7.ErrNeedMore) {
		t.Fatalf("short of MaxPeek: %d %v %v", n, ok, err)
	}
	n, ok, err = p.Parse(big[:DefaultMaxPeek], l7.ToServer, &m)
	if n != DefaultMaxPeek || !ok || err != nil || string(m.RequestResource) != "big" || m.Length != len(big) {
		t.Fatalf("at MaxPeek: %d %v %v %q %d", n, ok, err, m.RequestResource, m.Length)
	}
	if !p.Trailing(l7.ToServer) {
		t.Errorf("not trailing after a cut message")
	}
	rest := big[DefaultMaxPeek:]
	n, ok, err = p.Parse(rest[:100], l7.ToServer, &m)
	if n != 100 || ok || err != nil {
		t.Fatalf("skipping: %d %v %v", n, ok, err)
	}
	p.Gap(l7.ToServer, 1000) // lost inside the rest
	rest = rest[1100:]
	in := append(append([]byte(nil), rest...), next...)
	msgs := 0
	for len(in) > 0 {
		m.Reset()
		n, ok, err := p.Parse(in, l7.ToServer, &m)
		if err != nil {
			t.Fatalf("after the rest: %v", err)
		}
		if ok {
			msgs++
			if string(m.RequestResource) != "next" {
				t.Errorf("next message: %q", m.RequestResource)
			}
		}
		in = in[n:]
	}
	if msgs != 1 || p.Trailing(l7.ToServer) {
		t.Errorf("%d messages after the rest, trailing %v", msgs, p.Trailing(l7.ToServer))
	}
}

// TestParser_Resync: after a gap that cuts a message, the parser skips to
// the next plausible request header.
func TestParser_Resync(t *testing.T) {
	a := metadataReq(12, 1, "a")
	b := metadataReq(12, 2, "b")
	p := New(nil).NewParser(l7.TCP)
	p.Gap(l7.ToServer, 5)
	var names []string
	_, errs := l7test.Feed(t, p, []l7test.Chunk{req(append(a[5:], b...))}, 0, func(m *l7.Message) {
		names = append(names, string(m.RequestResource))
	})
	if errs != 0 || len(names) != 1 || names[0] != "b" {
		t.Errorf("after a gap: %q, %d errors", names, errs)
	}
}

// TestParser_ResyncClientID: after a gap, a request whose client id Check
// refuses (a NUL byte in it) is still found when its correlation id
// follows the last request's closely, and skipped when it does not.
func TestParser_ResyncClientID(t *testing.T) {
	odd := func(corr int32, topic string) []byte {
		return bytes.Replace(metadataReq(12, corr, topic), []byte("cli"), []byte("c\x00i"), 1)
	}
	for _, tc := range []struct {
		name string
		corr int32
		want []string
	}{
		{"two lost", 3, []string{"a", "c", "d"}},
		{"too far", 1 + maxCloseCorr + 1, []string{"a"}},
	} {
		p := New(nil).NewParser(l7.TCP)
		var names []string
		onMsg := func(m *l7.Message) { names = append(names, string(m.RequestResource)) }
		if _, errs := l7test.Feed(t, p, []l7test.Chunk{req(metadataReq(12, 1, "a"))}, 0, onMsg); errs != 0 {
			t.Fatalf("%s: %d errors", tc.name, errs)
		}
		p.Gap(l7.ToServer, 40)
		l7test.Feed(t, p, []l7test.Chunk{req(append(odd(tc.corr, "c"), odd(tc.corr+1, "d")...))}, 0, onMsg)
		if strings.Join(names, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %q, want %q", tc.name, names, tc.want)
		}
	}
}

// TestParser_Flush: a message cut short by loss is decoded from what was
// captured.
func TestParser_Flush(t *testing.T) {
	msg := produce(3, 1, 1, "cut", batch(codecNone, 3000, nil))
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var m l7.Message
	if _, _, err := p.Parse(msg[:1000], l7.ToServer, &m); !errors.Is(err, l7.ErrNeedMore) {
		t.Fatalf("parse: %v", err)
	}
	if !p.Flush(msg[:1000], l7.ToServer, &m) || string(m.RequestResource) != "cut" || m.Length != len(msg) {
		t.Fatalf("flush: %q %d", m.RequestResource, m.Length)
	}
	p.Gap(l7.ToServer, len(msg)-1000)
	if p.Trailing(l7.ToServer) {
		t.Errorf("still trailing after the gap covered the rest")
	}
}

func TestDecoder_Check(t *testing.T) {
	avq, avs := apiVersions(3, 1, 0)
	tests := []struct {
		name string
		in   []byte
		want l7.Verdict
		dir  l7.Direction
	}{
		{"ApiVersions v3", avq, l7.Request, l7.ToServer},
		{"Produce v9", produce(9, 1, 1, "t", nil), l7.Request, l7.ToServer},
		{"header only, body not yet", metadataReq(12, 1, "t")[:14], l7.Request, l7.ToServer},
		{"response", avs, l7.No, l7.ToClient},
		{"empty client id", request(2, 0, 0, "", false, func(*enc) {}), l7.Request, l7.ToServer},
		{"empty client id toward the client", request(2, 0, 0, "", false, func(*enc) {}), l7.No, l7.ToClient},
		{"request toward the client", avq, l7.Request, l7.ToClient},
		{"too short", avq[:13], l7.No, l7.ToServer},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), l7.No, l7.ToServer},
		{"MySQL COM_QUERY", []byte("\x21\x00\x00\x00\x03select 1"), l7.No, l7.ToServer},
		{"Redis", []byte("*1\r\n$4\r\nPING\r\n"), l7.No, l7.ToServer},
		{"unknown key", request(200, 0, 1, "c", false, func(*enc) {}), l7.No, l7.ToServer},
		{"version a little above the newest", request(18, 7, 1, "c", true, func(*enc) {}), l7.Request, l7.ToServer},
		{"version far above the newest", request(0, 22, 1, "c", true, func(*enc) {}), l7.No, l7.ToServer},
		{"negative correlation id", request(0, 3, -5, "c", false, func(*enc) {}), l7.No, l7.ToServer},
		{"client id not printable", request(0, 3, 1, "c\x01", false, func(*enc) {}), l7.No, l7.ToServer},
		{"client id longer than the message", []byte("\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x7f"), l7.No, l7.ToServer},
	}
	d := New(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Check(tc.in, tc.dir, l7.TCP); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
			if got := d.Check(tc.in, l7.ToServer, l7.UDP); got != l7.No {
				t.Errorf("over UDP: %v", got)
			}
		})
	}
}

func TestFlexible(t *testing.T) {
	tests := []struct {
		key, ver int16
		want     bool
	}{
		{0, 8, false}, {0, 9, true}, {0, 13, true}, {0, 20, true},
		{1, 11, false}, {1, 12, true},
		{18, 2, false}, {18, 3, true},
		{17, 1, false}, // SaslHandshake: never
		{47, 0, false}, // OffsetDelete: never
		{60, 0, true},
		{500, 0, true},
		{-1, 0, false},
	}
	for _, tc := range tests {
		if got := Flexible(tc.key, tc.ver); got != tc.want {
			t.Errorf("Flexible(%d, %d) = %v, want %v", tc.key, tc.ver, got, tc.want)
		}
	}
	if responseHeaderFlexible(18, 3) {
		t.Errorf("ApiVersions v3 response header is v0")
	}
	for k := range apis {
		if APIName(int16(k)) == "" {
			t.Errorf("key %d has no name", k)
		}
	}
}

// TestDecoder_Concurrent: parsers of one Decoder on several goroutines
// share the topic id map and the decompressor pools (run with -race).
func TestDecoder_Concurrent(t *testing.T) {
	d := New(&Config{MaxTopicIDs: 8})
	tp := []header{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			p := d.NewParser(l7.TCP)
			var m l7.Message
			for i := range 50 {
				id := bytes.Repeat([]byte{byte(g*50 + i + 1)}, 16)
				corr := int32(i)
				for _, c := range []l7test.Chunk{
					req(metadataReq(12, corr, "t")), resp(metadataResp(12, corr, fmt.Sprint("t", g, i), id, 0)),
					req(fetchReq(13, corr+1000, "", id)),
					req(produce(9, corr+2000, 0, "t", batch(codecGzip+i%3, 100, tp))),
				} {
					m.Reset()
					l7test.ParseAll(p, []byte(c.Data), c.Dir, &m)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if st := d.Stats(); st.TopicIDs != 8 || st.TopicIDsEvicted != 200-8 {
		t.Errorf("stats %+v: want 8 topic ids, 192 evicted", st)
	}
}

// TestParser_BigMetadata: a Metadata response longer than MaxPeek maps the
// ids of all its topics, those past MaxPeek as the rest arrives, whatever
// the pieces it comes in.
func TestParser_BigMetadata(t *testing.T) {
	const n = 600
	big := bigMetadata(1, n)
	if len(big) <= DefaultMaxPeek {
		t.Fatalf("response of %d bytes is not longer than MaxPeek", len(big))
	}
	for _, piece := range []int{0, 1, 7, 1000} {
		d := New(nil)
		var out []got
		l7test.Feed(t, d.NewParser(l7.TCP), []l7test.Chunk{req(metadataReq(12, 1, "")), resp(big), resp(fetchResp(12, 9, "x", nil, 0, 0))}, piece,
			func(m *l7.Message) { out = append(out, summary(m)) })
		if len(out) != 3 || out[1].Code != "0" {
			t.Errorf("piece %d: %+v", piece, out)
		}
		if st := d.Stats(); st.TopicIDs != n {
			t.Errorf("piece %d: %d topic ids mapped, want %d", piece, st.TopicIDs, n)
		}
		if name := d.ids.get(bigID(n-1), make([]byte, 0, 64)); string(name) != fmt.Sprintf("topic-with-a-longish-name-%04d", n-1) {
			t.Errorf("piece %d: last topic %q", piece, name)
		}
	}
}

// TestParser_Pending drives the table of requests in flight (two held by
// the parser, more in a pooled table, Idle between steps) against a
// plain list: responses find their requests, take the older ones with
// them, and the oldest is forgotten past maxPending.
func TestParser_Pending(t *testing.T) {
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var model []pending
	corr := int32(0)
	rng := uint32(1)
	next := func(n int) int { rng = rng*1664525 + 1013904223; return int(rng>>8) % n }
	for step := 0; step < 20000; step++ {
		op := next(10)
		if step%5000 < 150 {
			op = 0 // a burst of requests, past maxPending
		}
		switch {
		case op < 5: // a request
			corr++
			q := pending{corr: corr, key: int16(corr % 7), ver: int16(corr % 5)}
			p.push(q)
			model = append(model, q)
			if len(model) > maxPending {
				model = model[1:]
			}
		case op < 9 && len(model) > 0: // a response, to a recent request or the oldest
			i := next(min(len(model), 3))
			if next(4) == 0 {
				i = next(len(model))
			}
			if got := p.pendIndex(model[i].corr); got != i {
				t.Fatalf("step %d: pendIndex(%d) = %d, want %d", step, model[i].corr, got, i)
			}
			if q := p.take(i); q != model[i] {
				t.Fatalf("step %d: take(%d) = %+v, want %+v", step, i, q, model[i])
			}
			model = model[i+1:]
		default:
			p.Idle()
			if len(model) == 0 && p.pend != nil {
				t.Fatalf("step %d: idle with no request in flight holds its table", step)
			}
		}
		if int(p.pendLen) != len(model) {
			t.Fatalf("step %d: %d pending, want %d", step, p.pendLen, len(model))
		}
		if p.pendIndex(corr+1) != -1 {
			t.Fatalf("step %d: an unknown id found", step)
		}
	}
}
