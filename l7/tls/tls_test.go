package tls

import (
	"errors"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// Test messages built from RFC 8446 section 4.1.2 and 4.1.3 layouts.

func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
func u24(v int) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func ext(typ int, body []byte) []byte { return cat(u16(typ), u16(len(body)), body) }

func record(typ byte, ver int, body []byte) []byte {
	return cat([]byte{typ}, u16(ver), u16(len(body)), body)
}

func hs(typ byte, body []byte) []byte { return cat([]byte{typ}, u24(len(body)), body) }

func sniExt(name string) []byte {
	entry := cat([]byte{0}, u16(len(name)), []byte(name))
	return ext(0, cat(u16(len(entry)), entry))
}

func alpnExt(protos ...string) []byte {
	var list []byte
	for _, p := range protos {
		list = append(list, byte(len(p)))
		list = append(list, p...)
	}
	return ext(16, cat(u16(len(list)), list))
}

func buildClientHello(exts ...[]byte) []byte {
	e := cat(exts...)
	body := cat(u16(0x0303), make([]byte, 32), []byte{0}, u16(4), u16(0x1301), u16(0xc02f), []byte{1, 0}, u16(len(e)), e)
	return hs(1, body)
}

func buildServerHello(cipher int, exts ...[]byte) []byte {
	e := cat(exts...)
	body := cat(u16(0x0303), make([]byte, 32), []byte{0}, u16(cipher), []byte{0}, u16(len(e)), e)
	return hs(2, body)
}

type msg struct {
	kind                 l7.Kind
	domain, resource     string
	version, result, exc string
	code                 int32
	status               l7.Status
	streaming, tls       bool
}

func capture(m *l7.Message) msg {
	return msg{kind: m.Kind, domain: string(m.RequestDomain), resource: string(m.RequestResource),
		version: string(m.Version), result: string(m.Result), exc: string(m.Exception), code: m.Code,
		status: m.Status, streaming: m.Streaming, tls: m.TLS}
}

func TestParser(t *testing.T) {
	ch := record(22, 0x0301, buildClientHello(sniExt("example.com"), alpnExt("h2", "http/1.1"), ext(43, []byte{4, 3, 4, 3, 3})))
	sh13 := record(22, 0x0303, buildServerHello(0x1302, ext(43, u16(0x0304))))
	sh12 := record(22, 0x0303, cat(buildServerHello(0xc02f), hs(11, make([]byte, 300)), hs(14, nil)))
	ccs := record(20, 0x0303, []byte{1})
	app := record(23, 0x0303, make([]byte, 100))
	encHS := record(22, 0x0303, make([]byte, 40))
	big := buildClientHello(sniExt("split.example"), ext(21, make([]byte, 20000))) // padding: spans two records
	req := msg{kind: l7.KindRequest, domain: "example.com", resource: "h2,http/1.1", tls: true}
	for _, tc := range []struct {
		name   string
		chunks []l7test.Chunk
		want   []msg
	}{
		{"tls13", []l7test.Chunk{{Dir: l7.ToServer, Data: string(ch)}, {Dir: l7.ToClient, Data: string(cat(sh13, ccs, app, app))},
			{Dir: l7.ToServer, Data: string(cat(ccs, app, app))}},
			[]msg{req, {kind: l7.KindResponse, version: "1.3", result: "TLS_AES_256_GCM_SHA384", tls: true}}},
		{"tls12 with encrypted finished", []l7test.Chunk{{Dir: l7.ToServer, Data: string(ch)}, {Dir: l7.ToClient, Data: string(sh12)},
			{Dir: l7.ToServer, Data: string(cat(ccs, encHS))}, {Dir: l7.ToClient, Data: string(cat(ccs, encHS, app))}},
			[]msg{req, {kind: l7.KindResponse, version: "1.2", result: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", tls: true}}},
		{"server alert answers", []l7test.Chunk{{Dir: l7.ToServer, Data: string(ch)}, {Dir: l7.ToClient, Data: string(record(21, 0x0303, []byte{2, 70}))}},
			[]msg{req, {kind: l7.KindResponse, code: 70, exc: "protocol_version", status: l7.StatusClientError, tls: true}}},
		{"client rejects certificate", []l7test.Chunk{{Dir: l7.ToServer, Data: string(ch)}, {Dir: l7.ToClient, Data: string(sh12)},
			{Dir: l7.ToServer, Data: string(record(21, 0x0303, []byte{2, 48}))}},
			[]msg{req, {kind: l7.KindResponse, version: "1.2", result: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", tls: true},
				{kind: l7.KindResponse, code: 48, exc: "unknown_ca", status: l7.StatusServerError, streaming: true, tls: true}}},
		{"encrypted alert skipped", []l7test.Chunk{{Dir: l7.ToServer, Data: string(cat(ccs, record(21, 0x0303, make([]byte, 26))))}}, nil},
		{"hello across records", []l7test.Chunk{{Dir: l7.ToServer, Data: string(cat(record(22, 0x0303, big[:16384]), record(22, 0x0303, big[16384:])))},
			{Dir: l7.ToClient, Data: string(record(22, 0x0303, buildServerHello(0x1234)))}},
			[]msg{{kind: l7.KindRequest, domain: "split.example", tls: true}, {kind: l7.KindResponse, version: "1.2", result: "0x1234", tls: true}}},
	} {
		for _, piece := range []int{0, 1, 7, 1000} {
			p := New(nil).NewParser(l7.TCP)
			var got []msg
			_, errs := l7test.Feed(t, p, tc.chunks, piece, func(m *l7.Message) { got = append(got, capture(m)) })
			if errs != 0 {
				t.Errorf("%s piece %d: %d errors", tc.name, piece, errs)
			}
			l7test.CompareMessages(t, tc.name, got, tc.want)
		}
	}
}

func TestParser_Stats(t *testing.T) {
	p := New(nil).NewParser(l7.TCP).(*Parser)
	in := cat(record(23, 0x0303, make([]byte, 100)), record(23, 0x0303, make([]byte, 50)))
	l7test.Feed(t, p, []l7test.Chunk{{Dir: l7.ToClient, Data: string(in)}}, 3, func(*l7.Message) {})
	if st := p.Stats(); st.AppDataRecords != 2 || st.AppDataBytes != 150 || st.Records != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestParser_Gap checks that a hole inside a skipped body keeps framing,
// and that any other makes the parser find the next record.
func TestParser_Gap(t *testing.T) {
	d := New(nil)
	app := record(23, 0x0303, make([]byte, 100))
	alert := record(21, 0x0303, []byte{2, 40})
	var m l7.Message

	p := d.NewParser(l7.TCP)
	if n, _, _ := p.Parse(app[:30], l7.ToClient, &m); n != 30 {
		t.Fatalf("consumed %d", n)
	}
	p.Gap(l7.ToClient, 50)
	in := cat(app[80:], alert)
	if got := l7test.ParseAll(p, in, l7.ToClient, &m); got != 1 || m.Code != 40 {
		t.Errorf("after a gap inside a body: %d messages, code %d", got, m.Code)
	}

	p = d.NewParser(l7.TCP)
	p.Gap(l7.ToClient, -1)
	in = cat([]byte("garbage\x17\x03"), app, alert)
	if got := l7test.ParseAll(p, in, l7.ToClient, &m); got != 1 || m.Code != 40 {
		t.Errorf("after resync: %d messages, code %d", got, m.Code)
	}
}

func TestParser_Errors(t *testing.T) {
	p := New(nil).NewParser(l7.TCP)
	var m l7.Message
	_, _, err := p.Parse([]byte("GET / HTTP/1.1\r\n"), l7.ToServer, &m)
	if !errors.Is(err, ErrBadRecord) || !errors.Is(err, l7.ErrMalformed) {
		t.Errorf("bad header: %v", err)
	}
	var pe *l7.ParseError
	if !errors.As(err, &pe) || pe.Protocol != Name {
		t.Errorf("not a ParseError of TLS: %v", err)
	}
	bad := record(22, 0x0303, hs(1, make([]byte, 20)))
	if n, _, err := p.Parse(bad, l7.ToServer, &m); !errors.Is(err, ErrBadHello) || n != len(bad) {
		t.Errorf("short hello: %d, %v", n, err)
	}
}

func TestDecoder_Check(t *testing.T) {
	d := New(nil)
	ch := record(22, 0x0301, buildClientHello(sniExt("a")))
	for _, tc := range []struct {
		name string
		in   []byte
		dir  l7.Direction
		t    l7.Transport
		want l7.Verdict
	}{
		{"client hello", ch, l7.ToClient, l7.TCP, l7.Request},
		{"server hello", record(22, 0x0303, buildServerHello(0x1301)), l7.ToServer, l7.TCP, l7.Response},
		{"app data to server", record(23, 0x0303, make([]byte, 10)), l7.ToServer, l7.TCP, l7.Request},
		{"app data to client", record(23, 0x0303, make([]byte, 10)), l7.ToClient, l7.TCP, l7.Response},
		{"udp", ch, l7.ToServer, l7.UDP, l7.No},
		{"short", ch[:4], l7.ToServer, l7.TCP, l7.No},
		{"http", []byte("GET / HTTP/1.1\r\n"), l7.ToServer, l7.TCP, l7.No},
		{"bad version", record(22, 0x0305, []byte{1}), l7.ToServer, l7.TCP, l7.No},
		{"too long", cat([]byte{23, 3, 3}, u16(maxRecord+1)), l7.ToServer, l7.TCP, l7.No},
		{"ccs length", record(20, 0x0303, []byte{1, 1}), l7.ToServer, l7.TCP, l7.No},
		{"dubbo", []byte{0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1}, l7.ToServer, l7.TCP, l7.No},
	} {
		if got := d.Check(tc.in, tc.dir, tc.t); got != tc.want {
			t.Errorf("%s: Check = %d, want %d", tc.name, got, tc.want)
		}
	}
	l7test.CheckZeroAlloc(t, d, l7test.Case{Name: "ClientHello", In: ch, CheckOnly: true},
		l7test.Case{Name: "AppData", In: record(23, 0x0303, nil), CheckOnly: true})
}

var benchCases = []l7test.Case{
	{Name: "ClientHello", In: record(22, 0x0301, buildClientHello(sniExt("www.example.com"), alpnExt("h2", "http/1.1"), ext(43, []byte{4, 3, 4, 3, 3}))), Dir: l7.ToServer},
	{Name: "ServerHello", In: record(22, 0x0303, buildServerHello(0x1302, ext(43, u16(0x0304)))), Dir: l7.ToClient},
	{Name: "Alert", In: record(21, 0x0303, []byte{2, 40}), Dir: l7.ToClient},
}

func TestParse_Allocs(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil), benchCases...)
	// Application data: skipped without a message, and without allocating.
	p := New(nil).NewParser(l7.TCP)
	var m l7.Message
	app := record(23, 0x0303, make([]byte, 1400))
	if a := testing.AllocsPerRun(100, func() { l7test.ParseAll(p, app, l7.ToClient, &m) }); a != 0 {
		t.Errorf("application data: %v allocations", a)
	}
}

func BenchmarkParse(b *testing.B) {
	cases := append(benchCases, l7test.Case{Name: "AppData16K", In: record(23, 0x0303, make([]byte, 16384)), Dir: l7.ToClient})
	l7test.BenchmarkParse(b, New(nil), cases)
}

func FuzzParse(f *testing.F) {
	f.Add(append([]byte{0x05}, benchCases[0].In...))
	f.Add(append([]byte{0x85}, benchCases[1].In...))
	f.Add(append([]byte{0x3f}, record(22, 0x0303, cat(buildServerHello(0xc02f), hs(11, make([]byte, 30))))...))
	for _, s := range l7test.StreamSeeds(f, New(nil), sharedCaptures(f, "tls")...) {
		f.Add(append([]byte{0x10}, s...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, New(&Config{MaxHello: 512}).NewParser(l7.TCP), in, false)
		l7test.FuzzPieces(t, &l7test.Idling{Parser: New(&Config{MaxHello: 512}).NewParser(l7.TCP)}, in, false)
	})
}
