package redis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// TestParser_skimSplit parses values whole, where skim takes most
// elements in one pass, and cut in two at every byte, where skim stops at
// the cut and parse's line-by-line path takes the element it splits: the
// messages and counters must be the same.
func TestParser_skimSplit(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		dir  l7.Direction
	}{
		{"set", benchSetPX, l7.ToServer},
		{"set3", benchSet, l7.ToServer},
		{"nested", benchArray, l7.ToClient},
		{"list", []byte("*3\r\n$3\r\nxxx\r\n$0\r\n\r\n$-1\r\n+OK\r\n"), l7.ToClient},
		{"command", benchCommand[:0:0], l7.ToClient},
		{"pubsub", []byte("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n>3\r\n+message\r\n:1\r\n%1\r\n+k\r\n~2\r\n,1.5\r\n#t\r\n"), l7.ToClient},
		{"args", []byte("*4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n:12\r\n*2\r\n$1\r\na\r\n(123456789012345678901234567890\r\n"), l7.ToServer},
		{"long", []byte("*2\r\n$3\r\nGET\r\n$300\r\n" + string(make([]byte, 300)) + "\r\n*2\r\n$3\r\nGET\r\n$0000000001\r\nk\r\n"), l7.ToServer},
		{"attr", []byte("|1\r\n+ttl\r\n:3\r\n*2\r\n|1\r\n+a\r\n+b\r\n$1\r\nx\r\n:2\r\n"), l7.ToClient},
	}
	// A COMMAND reply cut short: its entries are the long ones.
	cases[4].in = []byte("*2\r\n" + string(benchCommand[len("*200\r\n"):len("*200\r\n")+2*len(benchCommand[len("*200\r\n"):])/200]))
	for _, c := range cases {
		want := splitParse(c.in, c.dir, len(c.in))
		if len(want) < 2 || strings.HasPrefix(want[0], "error") {
			t.Fatalf("%s: %q: no message", c.name, want)
		}
		for cut := 1; cut < len(c.in); cut++ {
			if got := splitParse(c.in, c.dir, cut); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s cut at %d:\n got %q\nwant %q", c.name, cut, got, want)
			}
		}
	}
}

// splitParse parses in as two chunks, the first cut bytes long, keeping
// what the parser leaves for the next chunk as the engine does, and
// returns the messages and the counters.
func splitParse(in []byte, dir l7.Direction, cut int) []string {
	p := New(nil).NewParser(l7.TCP).(*Parser)
	var out []string
	var held []byte
	for _, chunk := range [][]byte{in[:cut], in[cut:]} {
		data := append(held, chunk...)
		off := 0
		for off < len(data) {
			var m l7.Message
			n, ok, err := p.Parse(data[off:], dir, &m)
			if err != nil && err != l7.ErrNeedMore {
				out = append(out, "error "+err.Error())
				off = len(data)
				break
			}
			off += n
			if ok {
				out = append(out, fmt.Sprintf("%v %q %q %q %v %d %v %v", m.Kind, m.RequestType, m.RequestResource, m.Exception, m.Status, m.Length, m.Streaming, m.NoResponse))
			}
			if n == 0 && !ok {
				break
			}
		}
		held = append([]byte(nil), data[off:]...)
	}
	return append(out, fmt.Sprintf("%+v held %d", p.Stats(), len(held)))
}
