package memcached_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/l7"
)

func TestDecoder_Check(t *testing.T) {
	d := memcached.New(nil)
	tests := []struct {
		in   string
		want l7.Verdict
	}{
		{"get k\r\n", l7.Request},
		{"gets k1 k2 k3\r\n", l7.Request},
		{"gat 100 k\r\n", l7.Request},
		{"set k 0 0 5\r\nhello\r\n", l7.Request},
		{"set k 0 0 5 noreply\r\nhello\r\n", l7.Request},
		{"cas k 0 0 1 42\r\nx\r\n", l7.Request},
		{"incr k 1\r\n", l7.Request},
		{"delete k\r\n", l7.Request},
		{"touch k -1\r\n", l7.Request},
		{"flush_all\r\n", l7.Request},
		{"flush_all \r\n", l7.Request},
		{"version\r\n", l7.Request},
		{"stats \r\n", l7.Request},
		{"verbosity 1 noreply\r\n", l7.Request},
		{"VALUE k 0 5\r\nhello\r\nEND\r\n", l7.Response},
		{"VALUE k 0 5 99\r\nhello\r\nEND\r\n", l7.Response},
		{"END\r\n", l7.Response},
		{"STORED\r\n", l7.Response},
		{"NOT_FOUND\r\n", l7.Response},
		{"STAT pid 1\r\n", l7.Response},
		{"VERSION 1.6.18\r\n", l7.Response},
		{"SERVER_ERROR out of memory\r\n", l7.Response},
		// Not enough, or not memcached.
		{"GET k\r\n", l7.No},                   // Redis inline, upper case
		{"set k v\r\n", l7.No},                 // Redis inline SET
		{"get\r\n", l7.No},                     // no key
		{"incr k x\r\n", l7.No},                // not a number
		{"set k 0 0 5", l7.No},                 // no line end yet
		{"OK\r\n", l7.No},                      // too common
		{"ERROR\r\n", l7.No},                   // too common
		{"42\r\n", l7.No},                      // too common
		{"*1\r\n$4\r\nPING\r\n", l7.No},        // RESP
		{"GET / HTTP/1.1\r\n\r\n", l7.No},      // HTTP
		{"get \x00k\r\n", l7.No},               // control bytes
		{"VALUE k 0\r\n", l7.No},               // no byte count
		{"", l7.No},                            // nothing
		{strings.Repeat("get k ", 100), l7.No}, // no line end in the window
	}
	for _, tc := range tests {
		for _, dir := range []l7.Direction{l7.ToServer, l7.ToClient} {
			if got := d.Check([]byte(tc.in), dir, l7.TCP); got != tc.want {
				t.Errorf("Check(%q, %d) = %v, want %v", tc.in, dir, got, tc.want)
			}
		}
	}
	if got := d.Check([]byte("get k\r\n"), l7.ToServer, l7.UDP); got != l7.No {
		t.Errorf("Check on UDP = %v, want No", got)
	}
}

// chunk is bytes of one direction of a conversation.
type chunk struct {
	dir  l7.Direction
	data string
}

// feed drives a parser as the engine does: each chunk cut in pieces of at
// most piece bytes (0: whole), the unconsumed bytes of a direction kept for
// the next call, a gap after an error. It returns one line per message.
func feed(t *testing.T, chunks []chunk, piece int) (out []string, errs int) {
	t.Helper()
	p := memcached.New(nil).NewParser(l7.TCP)
	var held [2][]byte
	var m l7.Message
	for _, c := range chunks {
		data := []byte(c.data)
		for len(data) > 0 {
			k := len(data)
			if piece > 0 {
				k = min(k, piece)
			}
			buf := append(held[c.dir], data[:k]...)
			data = data[k:]
			for len(buf) > 0 {
				m.Reset()
				n, ok, err := p.Parse(buf, c.dir, &m)
				if n < 0 || n > len(buf) {
					t.Fatalf("consumed %d of %d", n, len(buf))
				}
				buf = buf[n:]
				if errors.Is(err, l7.ErrNeedMore) {
					break
				}
				if err != nil {
					errs++
					buf = nil
					p.Gap(c.dir, -1)
					break
				}
				if ok {
					out = append(out, describe(&m))
				} else if n == 0 {
					t.Fatalf("no progress")
				}
			}
			held[c.dir] = append([]byte(nil), buf...)
		}
	}
	return out, errs
}

func describe(m *l7.Message) string {
	if m.Kind == l7.KindRequest {
		s := fmt.Sprintf("req %s [%s] len=%d", m.RequestType, m.RequestResource, m.Length)
		if m.NoResponse {
			s += " noreply"
		}
		return s
	}
	return fmt.Sprintf("resp %v [%s%s] len=%d", m.Status, m.Result, m.Exception, m.Length)
}

func TestParser_Conversation(t *testing.T) {
	chunks := []chunk{
		{l7.ToServer, "set k 0 0 5\r\nhello\r\nget k other\r\nset q 1 2 3 noreply\r\nabc\r\nincr n 7\r\ngat 10 k\r\nbogus\r\nquit\r\n"},
		{l7.ToClient, "STORED\r\nVALUE k 0 5\r\nhello\r\nVALUE other 3 2\r\n\r\n\r\nEND\r\n8\r\nEND\r\nERROR\r\n"},
		{l7.ToServer, "stats\r\nset big 0 0 9000\r\n"},
		{l7.ToClient, "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nSERVER_ERROR object too large for cache\r\n"},
		{l7.ToServer, strings.Repeat("x", 9000) + "\r\ndelete k noreply\r\nversion\r\n"},
		{l7.ToClient, "VERSION 1.6.18\r\nCLIENT_ERROR bad data chunk\r\n"},
	}
	want := []string{
		"req set [set k 0 0 5] len=20",
		"req get [get k other] len=13",
		"req set [set q 1 2 3 noreply] len=26 noreply",
		"req incr [incr n 7] len=10",
		"req gat [gat 10 k] len=10",
		"req bogus [bogus] len=7",
		"req quit [quit] len=6 noreply",
		"resp Ok [STORED] len=8",
		"resp Ok [VALUE k 0 5] len=46",
		"resp Ok [8] len=3",
		"resp Ok [END] len=5",
		"resp ClientError [ERROR] len=7",
		"req stats [stats] len=7",
		"req set [set big 0 0 9000] len=9020",
		"resp Ok [STAT pid 1] len=32",
		"resp ServerError [object too large for cache] len=41",
		"req delete [delete k noreply] len=18 noreply",
		"req version [version] len=9",
		"resp Ok [VERSION 1.6.18] len=16",
		"resp ClientError [bad data chunk] len=29",
	}
	for _, piece := range []int{0, 1, 2, 3, 7, 64} {
		got, errs := feed(t, chunks, piece)
		if errs != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("pieces of %d: %d errors, messages:\n%s\nwant:\n%s", piece, errs, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestParser_Errors(t *testing.T) {
	tests := []struct {
		name   string
		chunks []chunk
		want   []string
		errs   int
	}{
		{
			name:   "a RESP reply is not memcached",
			chunks: []chunk{{l7.ToClient, "$5\r\nhello\r\n"}, {l7.ToClient, strings.Repeat("+OK\r\n", 10)}},
			want:   []string{},
			errs:   2,
		},
		{
			name:   "ERROR with a reason",
			chunks: []chunk{{l7.ToServer, "shutdown\r\n"}, {l7.ToClient, "ERROR: shutdown not enabled\r\n"}},
			want:   []string{"req shutdown [shutdown] len=10", "resp ClientError [ERROR: shutdown not enabled] len=29"},
		},
		{
			name:   "after a gap, an error reply is a reply",
			chunks: []chunk{{l7.ToClient, "bad\r\n"}, {l7.ToClient, "ERROR\r\n"}},
			want:   []string{"resp ClientError [ERROR] len=7"},
			errs:   1,
		},
		{
			name:   "a RESP command is not memcached",
			chunks: []chunk{{l7.ToServer, "*2\r\n$3\r\nget\r\n$1\r\nk\r\n"}, {l7.ToServer, "GET k\r\n"}},
			want:   []string{},
			errs:   1,
		},
		{
			name:   "after an error the direction resumes at a reply",
			chunks: []chunk{{l7.ToClient, "garbage\r\n"}, {l7.ToClient, "more garbage\r\nSTORED\r\n"}},
			want:   []string{"resp Ok [STORED] len=8"},
			errs:   1,
		},
		{
			name:   "a command with control bytes",
			chunks: []chunk{{l7.ToServer, "\x01\x02\r\n"}, {l7.ToServer, "\x03\r\nget k\r\n"}},
			want:   []string{"req get [get k] len=7"},
			errs:   1,
		},
		{
			name:   "a line too long",
			chunks: []chunk{{l7.ToServer, "get " + strings.Repeat("k", memcached.DefaultMaxLine) + "\r\n"}},
			want:   []string{},
			errs:   1,
		},
		{
			name:   "a listing cut by a line no server sends",
			chunks: []chunk{{l7.ToClient, "VALUE k 0 1\r\nx\r\nSTORED\r\n"}, {l7.ToClient, "END\r\n"}},
			want:   []string{"resp Ok [END] len=5"},
			errs:   1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := feed(t, tc.chunks, 0)
			if errs != tc.errs || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%d errors, messages %q; want %d, %q", errs, got, tc.errs, tc.want)
			}
		})
	}
	// Errors are *l7.ParseError values matching l7.ErrMalformed.
	p := memcached.New(nil).NewParser(l7.TCP)
	var m l7.Message
	_, _, err := p.Parse([]byte("nonsense\r\n"), l7.ToClient, &m)
	var pe *l7.ParseError
	if !errors.As(err, &pe) || pe.Protocol != memcached.Name || !errors.Is(err, memcached.ErrBadResponse) || !errors.Is(err, l7.ErrMalformed) {
		t.Errorf("error %v: want a *l7.ParseError wrapping ErrBadResponse", err)
	}
}

func TestParser_GapInData(t *testing.T) {
	// A hole inside a data block of known size keeps the parser in step.
	p := memcached.New(nil).NewParser(l7.TCP)
	var m l7.Message
	in := []byte("set k 0 0 10\r\n0123")
	n, ok, err := p.Parse(in, l7.ToServer, &m)
	if n != 14 || !ok || err != nil {
		t.Fatalf("command line: %d %v %v", n, ok, err)
	}
	if n, _, _ = p.Parse(in[14:], l7.ToServer, &m); n != 4 {
		t.Fatalf("data: consumed %d, want 4", n)
	}
	p.Gap(l7.ToServer, 4) // "4567" lost
	m.Reset()
	n, ok, err = p.Parse([]byte("89\r\nget k\r\n"), l7.ToServer, &m)
	if n != 4 || ok || err != nil {
		t.Fatalf("rest of data: %d %v %v", n, ok, err)
	}
	m.Reset()
	if _, ok, _ = p.Parse([]byte("get k\r\n"), l7.ToServer, &m); !ok || string(m.RequestType) != "get" {
		t.Fatalf("next command not found after the gap: %v %q", ok, m.RequestType)
	}
}

var allocCases = []struct {
	name string
	in   string
	dir  l7.Direction
}{
	{"set", "set k 0 0 5 noreply\r\nhello\r\n", l7.ToServer},
	{"get", "get k1 k2 k3\r\n", l7.ToServer},
	{"value", "VALUE k1 0 5\r\nhello\r\nVALUE k2 0 1\r\nx\r\nEND\r\n", l7.ToClient},
	{"stat", "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n", l7.ToClient},
	{"error", "SERVER_ERROR out of memory\r\n", l7.ToClient},
}

// TestAllocs checks that Check and Parse do not allocate.
func TestAllocs(t *testing.T) {
	d := memcached.New(nil)
	p := d.NewParser(l7.TCP)
	var m l7.Message
	for _, c := range allocCases {
		in := []byte(c.in)
		if n := testing.AllocsPerRun(100, func() { d.Check(in, c.dir, l7.TCP) }); n != 0 {
			t.Errorf("Check %s: %v allocs", c.name, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			for b := in; len(b) > 0; {
				m.Reset()
				k, _, err := p.Parse(b, c.dir, &m)
				if err != nil || k == 0 {
					t.Fatalf("%s: %d %v", c.name, k, err)
				}
				b = b[k:]
			}
		}); n != 0 {
			t.Errorf("Parse %s: %v allocs", c.name, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	d := memcached.New(nil)
	for _, c := range allocCases {
		b.Run(c.name, func(b *testing.B) {
			p := d.NewParser(l7.TCP)
			in := []byte(c.in)
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				for buf := in; len(buf) > 0; {
					m.Reset()
					k, _, _ := p.Parse(buf, c.dir, &m)
					buf = buf[k:]
				}
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	d := memcached.New(nil)
	in := []byte("set some:key 0 3600 5\r\nhello\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d.Check(in, l7.ToServer, l7.TCP)
	}
}

// TestEngine_SkippedLinesStartNothing: lines skipped after a gap are
// reported through l7.Trailer, so the next request starts at its own first
// byte (req_tcp_seq, captured_request_byte).
func TestEngine_SkippedLinesStartNothing(t *testing.T) {
	reg, err := l7.NewRegistry(memcached.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	var recs []l7.Record
	eng, err := l7.NewEngine(l7.Config{Registry: reg, OnRecord: func(r *l7.Record) { recs = append(recs, *r) }})
	if err != nil {
		t.Fatal(err)
	}
	c := eng.Open(l7.ConnInfo{ID: 1, Transport: l7.TCP, Oriented: true,
		Client: kitClient, Server: kitServer}, 0)
	c.Data(l7.ToServer, 1, 100, []byte("get a\r\n"))
	c.Data(l7.ToClient, 2, 500, []byte("END\r\n"))
	c.Gap(l7.ToServer, 3, -1)
	c.Data(l7.ToServer, 4, 200, []byte("lost tail\r\nget b\r\n"))
	c.Gap(l7.ToClient, 5, -1)
	c.Data(l7.ToClient, 6, 600, []byte("tail\r\nEND\r\n"))
	c.Close(7)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	r := recs[1]
	if string(r.RequestResource) != "get b" || r.ReqTCPSeq != 211 || r.CapturedRequestByte != 7 || r.RespTCPSeq != 606 || r.CapturedResponseByte != 5 {
		t.Errorf("record %q: req seq %d captured %d, resp seq %d captured %d; want 211 7 606 5",
			r.RequestResource, r.ReqTCPSeq, r.CapturedRequestByte, r.RespTCPSeq, r.CapturedResponseByte)
	}
}
