package redis

import (
	"strconv"
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
	// LRANGE mylist 0 299, and COMMAND: replies of many elements.
	benchList    = []byte("*300\r\n" + strings.Repeat("$3\r\nxxx\r\n", 300))
	benchCommand = []byte("*200\r\n" + strings.Repeat("*9\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*1\r\n+@read\r\n*0\r\n*0\r\n", 200))
)

var benchCases = []l7test.Case{
	{Name: "set", In: benchSet, Dir: l7.ToServer},
	{Name: "inline", In: benchInline, Dir: l7.ToServer},
	{Name: "bulk_reply", In: benchGetResp, Dir: l7.ToClient},
	{Name: "error_reply", In: benchErr, Dir: l7.ToClient},
	{Name: "nested_reply", In: benchArray, Dir: l7.ToClient},
	{Name: "set_64KiB", In: benchBig, Dir: l7.ToServer},
	{Name: "list_reply", In: benchList, Dir: l7.ToClient},
	{Name: "command_reply", In: benchCommand, Dir: l7.ToClient},
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

// A request and its reply as the mixed benchmark's cache clients send
// them: a SET of a computed value with an expiry, answered +OK.
var (
	benchSetPX = []byte("*5\r\n$3\r\nSET\r\n$15\r\n:1:factorial_12\r\n$9\r\n479001600\r\n$2\r\nPX\r\n$5\r\n60000\r\n")
	benchOK    = []byte("+OK\r\n")
)

// BenchmarkParseFlows parses a request and its reply on each of n flows in
// turn, as the engine calls a parser (Trailing, then Parse until it needs
// more), so that the parsers' state is as cold as on a busy capture: it
// measures the cache lines a message touches, not only its instructions.
func BenchmarkParseFlows(b *testing.B) {
	for _, n := range []int{1, 16384} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			d := New(nil)
			ps := make([]l7.Parser, n)
			for i := range ps {
				ps[i] = d.NewParser(l7.TCP)
			}
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(benchSetPX) + len(benchOK)))
			i := 0
			for b.Loop() {
				p := ps[i]
				if i++; i == n {
					i = 0
				}
				engineParse(p, benchSetPX, l7.ToServer, &m)
				engineParse(p, benchOK, l7.ToClient, &m)
			}
		})
	}
}

// engineParse calls p as the engine does for one chunk.
func engineParse(p l7.Parser, data []byte, dir l7.Direction, m *l7.Message) {
	tr := p.(l7.Trailer)
	more := false
	for off := 0; off < len(data) || more; {
		tr.Trailing(dir)
		m.Reset()
		n, ok, err := p.Parse(data[off:], dir, m)
		if err != nil {
			return
		}
		off += n
		more = ok
		if n == 0 && !ok {
			return
		}
	}
}
