package redis

import (
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

var (
	benchSet     = []byte("*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000042\r\n$32\r\n0123456789abcdef0123456789abcdef\r\n")
	benchGetResp = []byte("$32\r\n0123456789abcdef0123456789abcdef\r\n")
	benchErr     = []byte("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
	benchArray   = []byte("*4\r\n$5\r\nfirst\r\n:2\r\n*2\r\n+a\r\n+b\r\n%1\r\n+k\r\n,3.14\r\n")
	benchInline  = []byte("PING\r\n")
	benchBig     = []byte("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$65536\r\n" + strings.Repeat("v", 65536) + "\r\n")
)

var benchCases = []l7test.Case{
	{Name: "set", In: benchSet, Dir: l7.ToServer},
	{Name: "inline", In: benchInline, Dir: l7.ToServer},
	{Name: "bulk_reply", In: benchGetResp, Dir: l7.ToClient},
	{Name: "error_reply", In: benchErr, Dir: l7.ToClient},
	{Name: "nested_reply", In: benchArray, Dir: l7.ToClient},
	{Name: "set_64KiB", In: benchBig, Dir: l7.ToServer},
}

func TestParser_ParseAllocs(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil), benchCases...)
}

func BenchmarkParse(b *testing.B) {
	l7test.BenchmarkParse(b, New(nil), benchCases)
}

func TestDecoder_CheckAllocs(t *testing.T) {
	l7test.CheckZeroAlloc(t, New(nil), l7test.Case{Name: "TLS", In: []byte("\x16\x03\x01\x02\x00"), CheckOnly: true})
}
