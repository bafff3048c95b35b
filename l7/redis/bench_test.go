package redis

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/l7"
)

var (
	benchSet     = []byte("*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$32\r\n0123456789abcdef0123456789abcdef\r\n")
	benchGetResp = []byte("$32\r\n0123456789abcdef0123456789abcdef\r\n")
	benchErr     = []byte("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
	benchArray   = []byte("*4\r\n$5\r\nfirst\r\n:2\r\n*2\r\n+a\r\n+b\r\n%1\r\n+k\r\n,3.14\r\n")
	benchInline  = []byte("PING\r\n")
	benchBig     = []byte("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$65536\r\n" + strings.Repeat("v", 65536) + "\r\n")
)

var benchCases = []struct {
	name string
	in   []byte
	dir  l7.Direction
}{
	{"set", benchSet, l7.ToServer},
	{"inline", benchInline, l7.ToServer},
	{"bulk_reply", benchGetResp, l7.ToClient},
	{"error_reply", benchErr, l7.ToClient},
	{"nested_reply", benchArray, l7.ToClient},
	{"set_64KiB", benchBig, l7.ToServer},
}

func TestParser_ParseAllocs(t *testing.T) {
	for _, tc := range benchCases {
		p := New().NewParser(l7.TCP)
		var m l7.Message
		if l7test.ParseAll(p, tc.in, tc.dir, &m) != 1 {
			t.Fatalf("%s: no message", tc.name)
		}
		if a := testing.AllocsPerRun(200, func() { l7test.ParseAll(p, tc.in, tc.dir, &m) }); a != 0 {
			t.Errorf("%s: %v allocations per message, want 0", tc.name, a)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, tc := range benchCases {
		b.Run(tc.name, func(b *testing.B) {
			p := New().NewParser(l7.TCP)
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.in)))
			for b.Loop() {
				l7test.ParseAll(p, tc.in, tc.dir, &m)
			}
		})
	}
}

func TestDecoder_CheckAllocs(t *testing.T) {
	d := New()
	for _, in := range [][]byte{benchSet, benchGetResp, benchInline, []byte("\x16\x03\x01\x02\x00")} {
		if a := testing.AllocsPerRun(100, func() { d.Check(in, l7.ToServer, l7.TCP) }); a != 0 {
			t.Errorf("Check(%.10q): %v allocations", in, a)
		}
	}
}
