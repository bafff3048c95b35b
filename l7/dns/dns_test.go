package dns

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// msgBuilder assembles DNS messages for tests.
type msgBuilder struct{ b []byte }

func newMsg(id, flags uint16, qd, an, ns, ar uint16) *msgBuilder {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], qd)
	binary.BigEndian.PutUint16(b[6:], an)
	binary.BigEndian.PutUint16(b[8:], ns)
	binary.BigEndian.PutUint16(b[10:], ar)
	return &msgBuilder{b}
}

func (m *msgBuilder) name(s string) *msgBuilder {
	if s != "." {
		for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
			m.b = append(m.b, byte(len(l)))
			m.b = append(m.b, l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

func (m *msgBuilder) ptr(off int) *msgBuilder {
	m.b = append(m.b, 0xc0|byte(off>>8), byte(off))
	return m
}

func (m *msgBuilder) u16(v ...uint16) *msgBuilder {
	for _, x := range v {
		m.b = binary.BigEndian.AppendUint16(m.b, x)
	}
	return m
}

func (m *msgBuilder) u32(v uint32) *msgBuilder {
	m.b = binary.BigEndian.AppendUint32(m.b, v)
	return m
}

func (m *msgBuilder) raw(b ...byte) *msgBuilder { m.b = append(m.b, b...); return m }

// rr appends a record whose owner is a pointer to the question name.
func (m *msgBuilder) rr(typ uint16, ttl uint32, rdata []byte) *msgBuilder {
	m.ptr(12).u16(typ, classIN).u32(ttl).u16(uint16(len(rdata)))
	m.b = append(m.b, rdata...)
	return m
}

func wireName(s string) []byte { return (&msgBuilder{}).name(s).b }

func tcpFrame(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func query(id uint16, name string, qtype uint16) []byte {
	return newMsg(id, 0x0100, 1, 0, 0, 0).name(name).u16(qtype, classIN).b
}

func parseOne(t *testing.T, p l7.Parser, data []byte, dir l7.Direction) l7.Message {
	t.Helper()
	var m l7.Message
	n, ok, err := p.Parse(data, dir, &m)
	if err != nil || !ok || n != len(data) {
		t.Fatalf("Parse = (%d, %v, %v), want (%d, true, nil)", n, ok, err, len(data))
	}
	return m
}

func TestParse_Records(t *testing.T) {
	mx := append([]byte{0, 10}, wireName("mail.example.com")...)
	srv := append([]byte{0, 1, 0, 5, 0x13, 0xc4}, wireName("sip.example.com")...)
	soa := append(append(wireName("ns1.example.com"), wireName("hostmaster.example.com")...),
		0, 0, 0, 1, 0, 0, 0x1c, 0x20, 0, 0, 0x0e, 0x10, 0, 0x12, 0x75, 0, 0, 0, 1, 0x2c)
	caa := append([]byte{0, 5}, "issueca.example"...)
	https := []byte{0, 1, 0, 0, 1, 0, 6, 2, 'h', '2', 2, 'h', '3', 0, 4, 0, 4, 1, 2, 3, 4}
	txt := []byte{5, 'h', 'e', 'l', 'l', 'o', 3, 'a', '"', 'b'}
	aaaa := []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	resp := newMsg(0x1234, 0x8180, 1, 10, 0, 0).name("www.example.com").u16(TypeA, classIN).
		rr(TypeCNAME, 60, append([]byte{1, 'x'}, 0xc0, 12)).
		rr(TypeA, 60, []byte{93, 184, 216, 34}).
		rr(TypeAAAA, 60, aaaa).
		rr(TypeMX, 60, mx).
		rr(TypeTXT, 60, txt).
		rr(TypeSOA, 60, soa).
		rr(TypeSRV, 60, srv).
		rr(TypeCAA, 60, caa).
		rr(TypeHTTPS, 60, https).
		rr(46, 60, []byte{1, 2, 3}).b
	m := parseOne(t, newParser(l7.UDP), resp, l7.ToClient)
	want := `CNAME x.www.example.com.;A 93.184.216.34;AAAA 2001:db8::1;MX 10 mail.example.com.;` +
		`TXT "hello" "a\"b";SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300;` +
		`SRV 1 5 5060 sip.example.com.;CAA 0 issue "ca.example";HTTPS 1 . alpn=h2,h3 ipv4hint=1.2.3.4;RRSIG`
	if string(m.Result) != want {
		t.Errorf("Result\n got %s\nwant %s", m.Result, want)
	}
	if m.Kind != l7.KindResponse || m.ID != 0x1234 || !m.HasID || m.Status != l7.StatusOk || !m.HasCode || m.Code != 0 {
		t.Errorf("message = %+v", m)
	}
	if string(m.RequestType) != "A" || string(m.RequestResource) != "www.example.com" {
		t.Errorf("question = %s %s", m.RequestType, m.RequestResource)
	}
}

func TestParse_Status(t *testing.T) {
	tests := []struct {
		name   string
		rcode  uint16
		ext    uint8 // OPT extended rcode
		status l7.Status
		code   int32
		exc    string
	}{
		{"noerror", 0, 0, l7.StatusOk, 0, ""},
		{"nxdomain", 3, 0, l7.StatusClientError, 3, "NXDOMAIN"},
		{"servfail", 2, 0, l7.StatusServerError, 2, "SERVFAIL"},
		{"refused", 5, 0, l7.StatusServerError, 5, "REFUSED"},
		{"badvers", 0, 1, l7.StatusServerError, 16, "BADVERS"},
		{"unassigned", 12, 0, l7.StatusServerError, 12, "RCODE12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newMsg(7, 0x8180|tc.rcode, 1, 0, 0, 1).name("a.example").u16(TypeAAAA, classIN).
				raw(0).u16(TypeOPT, 1232).u32(uint32(tc.ext)<<24 | 0x8000).u16(0).b
			p := newParser(l7.UDP)
			m := parseOne(t, p, b, l7.ToClient)
			if m.Status != tc.status || m.Code != tc.code || string(m.Exception) != tc.exc {
				t.Errorf("status %v code %d exception %q", m.Status, m.Code, m.Exception)
			}
			h := p.Header()
			if !h.EDNS || h.UDPSize != 1232 || !h.DO || h.EDNSVersion != 0 {
				t.Errorf("header = %+v", h)
			}
			if m.Result != nil {
				t.Errorf("result %q for no answers", m.Result)
			}
		})
	}
}

func TestParse_Query(t *testing.T) {
	tests := []struct {
		name, qname string
		qtype       uint16
		typ, res    string
	}{
		{"a", "example.com", TypeA, "A", "example.com"},
		{"root", ".", TypeNS, "NS", "."},
		{"unknown type", "x.test", 65280, "TYPE65280", "x.test"},
		{"escaped", "a\\.b", TypeTXT, "TXT", "a\\\\.b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := query(0xbeef, tc.qname, tc.qtype)
			if New(nil).Check(q, l7.ToServer, l7.UDP) != l7.Request {
				t.Fatal("Check did not accept the query")
			}
			m := parseOne(t, newParser(l7.UDP), q, l7.ToServer)
			if m.Kind != l7.KindRequest || m.ID != 0xbeef || !m.HasID || m.HasCode {
				t.Errorf("message = %+v", m)
			}
			if string(m.RequestType) != tc.typ || string(m.RequestResource) != tc.res {
				t.Errorf("got %s %s, want %s %s", m.RequestType, m.RequestResource, tc.typ, tc.res)
			}
		})
	}
}

func TestParse_TCP(t *testing.T) {
	q1, q2 := query(1, "one.example", TypeA), query(2, "two.example", TypeAAAA)
	stream := tcpFrame(q1, q2)
	p := newParser(l7.TCP)
	var m l7.Message
	// Split anywhere: needs more until a whole message is there.
	for cut := 0; cut < len(q1)+2; cut++ {
		n, ok, err := p.Parse(stream[:cut], l7.ToServer, &m)
		if n != 0 || ok || err != l7.ErrNeedMore {
			t.Fatalf("cut %d: Parse = (%d, %v, %v)", cut, n, ok, err)
		}
	}
	n, ok, err := p.Parse(stream, l7.ToServer, &m)
	if n != len(q1)+2 || !ok || err != nil || m.ID != 1 {
		t.Fatalf("first: (%d, %v, %v) id %d", n, ok, err, m.ID)
	}
	m.Reset()
	n, ok, err = p.Parse(stream[n:], l7.ToServer, &m)
	if n != len(q2)+2 || !ok || err != nil || m.ID != 2 || string(m.RequestType) != "AAAA" {
		t.Fatalf("second: (%d, %v, %v) %+v", n, ok, err, m)
	}
	if New(nil).Check(stream, l7.ToServer, l7.TCP) != l7.Request {
		t.Error("Check rejected a TCP query")
	}
}

func TestParse_TCPGap(t *testing.T) {
	q1, q2 := query(1, "one.example", TypeA), query(2, "two.example", TypeAAAA)
	p := newParser(l7.TCP)
	p.Gap(l7.ToServer, 10)
	// Data resumes in the middle of q1: the parser skips to q2.
	stream := tcpFrame(q1, q2)[7:]
	var m l7.Message
	total := 0
	for total < len(stream) {
		m.Reset()
		n, ok, err := p.Parse(stream[total:], l7.ToServer, &m)
		if err != nil {
			t.Fatalf("Parse at %d: %v", total, err)
		}
		total += n
		if ok {
			if m.ID != 2 {
				t.Fatalf("decoded id %d after the gap, want 2", m.ID)
			}
			return
		}
		if n == 0 {
			t.Fatal("no progress")
		}
	}
	t.Fatal("q2 not found after the gap")
}

func TestParse_Errors(t *testing.T) {
	loop := newMsg(1, 0x8180, 1, 1, 0, 0).name("a.example").u16(TypeA, classIN).ptr(30).u16(TypeA, classIN).u32(0).u16(4).raw(1, 2, 3, 4).b
	self := newMsg(1, 0x0100, 1, 0, 0, 0).ptr(12).u16(TypeA, classIN).b
	long := newMsg(1, 0x0100, 1, 0, 0, 0)
	for range 5 {
		long.raw(63).raw(make([]byte, 63)...)
	}
	long.raw(0).u16(TypeA, classIN)
	short := newMsg(1, 0x8180, 1, 1, 0, 0).name("a.example").u16(TypeA, classIN).ptr(12).u16(TypeA, classIN).u32(0).u16(4).raw(1, 2).b
	badA := newMsg(1, 0x8180, 1, 1, 0, 0).name("a.example").u16(TypeA, classIN).rr(TypeA, 0, []byte{1, 2, 3}).b
	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"header", []byte{1, 2, 3}, ErrTruncated},
		{"forward pointer", loop, ErrBadName},
		{"self pointer", self, ErrBadName},
		{"name too long", long.b, ErrBadName},
		{"short rdata", short, ErrTruncated},
		{"bad A", badA, ErrBadRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m l7.Message
			n, ok, err := newParser(l7.UDP).Parse(tc.msg, l7.ToClient, &m)
			var pe *l7.ParseError
			if ok || n != len(tc.msg) || !errors.As(err, &pe) || pe.Protocol != Name ||
				!errors.Is(err, tc.want) || !errors.Is(err, l7.ErrMalformed) {
				t.Fatalf("Parse = (%d, %v, %v)", n, ok, err)
			}
			if pe.Offset < 0 || pe.Offset > int64(len(tc.msg)) {
				t.Errorf("offset %d outside the message", pe.Offset)
			}
		})
	}
	t.Run("tcp length", func(t *testing.T) {
		var m l7.Message
		_, ok, err := newParser(l7.TCP).Parse([]byte{0, 3, 1, 2, 3}, l7.ToServer, &m)
		if ok || !errors.Is(err, ErrBadLength) {
			t.Fatalf("err %v", err)
		}
	})
}

// A response with TC set may stop inside a section: decode what is there.
func TestParse_TC(t *testing.T) {
	b := newMsg(9, 0x8380, 1, 3, 0, 0).name("big.example").u16(TypeTXT, classIN).
		rr(TypeA, 1, []byte{10, 0, 0, 1}).ptr(12).u16(TypeA).b
	p := newParser(l7.UDP)
	m := parseOne(t, p, b, l7.ToClient)
	if string(m.Result) != "TC;A 10.0.0.1" || !p.Header().Truncated() {
		t.Errorf("result %q header %+v", m.Result, p.Header())
	}
}

// A TCP message past bigMessage is decoded from its start, and the rest is
// skipped segment by segment: nothing waits for the whole message.
func TestParse_TCPBigMessage(t *testing.T) {
	mb := newMsg(5, 0x8180, 1, 4000, 0, 0).name("zone.example").u16(TypeA, classIN)
	for i := range 4000 {
		mb.rr(TypeA, 1, []byte{10, byte(i >> 8), byte(i), 1})
	}
	stream := tcpFrame(mb.b, query(6, "next.example", TypeA))
	big := len(mb.b) + 2
	p := newParser(l7.TCP)
	var msgs []l7.Message
	for off := 0; off < len(stream); {
		end := min(off+1460, len(stream))
		var m l7.Message
		n, ok, err := p.Parse(stream[off:end], l7.ToClient, &m)
		for err == l7.ErrNeedMore && end < len(stream) {
			end = min(end+1460, len(stream)) // the engine keeps the bytes and adds the next segment
			n, ok, err = p.Parse(stream[off:end], l7.ToClient, &m)
		}
		if err != nil {
			t.Fatalf("at %d: %v", off, err)
		}
		if end-off > 2+bigMessage+1460 {
			t.Fatalf("the parser wanted %d bytes at once", end-off)
		}
		if ok {
			m.Result = append([]byte(nil), m.Result...)
			msgs = append(msgs, m)
		}
		off += n
	}
	if len(msgs) != 2 || msgs[0].ID != 5 || msgs[0].Length != big || !strings.HasPrefix(string(msgs[0].Result), "A 10.0.0.1;A 10.0.1.1;") ||
		!strings.HasSuffix(string(msgs[0].Result), "...") || msgs[1].ID != 6 {
		t.Fatalf("messages: %d, first %+v", len(msgs), msgs[0])
	}
}

func TestParse_ResultBound(t *testing.T) {
	mb := newMsg(1, 0x8180, 1, 100, 0, 0).name("many.example").u16(TypeA, classIN)
	for i := range 100 {
		mb.rr(TypeA, 1, []byte{10, 0, byte(i), 1})
	}
	m := parseOne(t, newParser(l7.UDP), mb.b, l7.ToClient)
	if len(m.Result) > resultCap || !strings.HasSuffix(string(m.Result), "...") {
		t.Errorf("result %d bytes: %q", len(m.Result), m.Result)
	}
}

func TestCheck(t *testing.T) {
	resp := newMsg(1, 0x8180, 1, 1, 0, 0).name("a.example").u16(TypeA, classIN).rr(TypeA, 1, []byte{1, 2, 3, 4}).b
	tests := []struct {
		name string
		data []byte
		t    l7.Transport
		want l7.Verdict
	}{
		{"udp query", query(1, "example.com", TypeA), l7.UDP, l7.Request},
		{"udp response", resp, l7.UDP, l7.Response},
		{"tcp response", tcpFrame(resp), l7.TCP, l7.Response},
		{"tcp without prefix", resp, l7.TCP, l7.No},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), l7.TCP, l7.No},
		{"no question", newMsg(1, 0x0100, 0, 0, 0, 0).b, l7.UDP, l7.No},
		{"opcode 3", newMsg(1, 0x1900, 1, 0, 0, 0).name("a").u16(1, 1).b, l7.UDP, l7.No},
		{"bad class", newMsg(1, 0x0100, 1, 0, 0, 0).name("a").u16(1, 9).b, l7.UDP, l7.No},
		{"short", []byte{1, 2, 3}, l7.UDP, l7.No},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := New(nil).Check(tc.data, l7.ToServer, tc.t); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

// Random payloads must almost never pass Check: count false positives over
// a million random datagrams of typical sizes.
func TestCheck_Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1500)
	const runs = 1000000
	hits := 0
	for i := range runs {
		b := buf[:12+r.IntN(500)]
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%2 == 0 { // a plausible header, random rest
			b[4], b[5] = 0, 1
		}
		if New(nil).Check(b, l7.ToServer, l7.UDP) != l7.No {
			hits++
		}
	}
	// Half the inputs get qdcount 1 for free; even then the flags, counts,
	// name and class must line up.
	if hits > 50 {
		t.Errorf("%d of %d random payloads passed Check", hits, runs)
	}
	t.Logf("%d of %d random payloads passed Check (half with qdcount forced to 1)", hits, runs)
}

func TestAllocs(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil), kitCases()...)
}

// kitCases are benchCases for l7test.
func kitCases() []l7test.Case {
	var out []l7test.Case
	for _, tc := range benchCases() {
		out = append(out, l7test.Case{Name: tc.name, In: tc.data, Dir: tc.dir, Transport: tc.t})
	}
	return out
}

type benchCase struct {
	name string
	t    l7.Transport
	dir  l7.Direction
	data []byte
}

func benchCases() []benchCase {
	resp := newMsg(0x1234, 0x8180, 1, 3, 0, 1).name("www.example.com").u16(TypeA, classIN).
		rr(TypeCNAME, 60, append([]byte{3, 'c', 'd', 'n'}, 0xc0, 12)).
		rr(TypeA, 60, []byte{93, 184, 216, 34}).
		rr(TypeAAAA, 60, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}).
		raw(0).u16(TypeOPT, 1232).u32(0).u16(0).b
	nx := newMsg(0x77, 0x8183, 1, 0, 1, 0).name("nope.example.com").u16(TypeA, classIN).
		rr(TypeSOA, 60, append(append(wireName("ns1.example.com"), wireName("hostmaster.example.com")...), make([]byte, 20)...)).b
	return []benchCase{
		{"udp-query", l7.UDP, l7.ToServer, query(0x1234, "www.example.com", TypeA)},
		{"udp-response", l7.UDP, l7.ToClient, resp},
		{"udp-nxdomain", l7.UDP, l7.ToClient, nx},
		{"tcp-response", l7.TCP, l7.ToClient, tcpFrame(resp)},
		{"type-unknown", l7.UDP, l7.ToServer, query(1, "x.example", 65280)},
	}
}

func BenchmarkParse(b *testing.B) {
	l7test.BenchmarkParse(b, New(nil), kitCases())
}

func BenchmarkCheck(b *testing.B) {
	q := query(0x1234, "www.example.com", TypeA)
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	d := New(nil)
	for b.Loop() {
		d.Check(q, l7.ToServer, l7.UDP)
	}
}
