package tls

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleParsers is how many parsers the idle memory test holds.
const idleParsers = 10_000

// idleParserBound bounds the heap bytes of an idle Parser: its framing
// state and counters (a 160-byte object). With the texts of a message's
// fields in it, it was a 576-byte object.
const idleParserBound = 168

// TestParser_IdleMemory measures the live heap an idle Parser holds after
// a hello or an alert, once told it is idle (l7.Idler), and bounds it:
// the texts of the Message go back to a pool.
func TestParser_IdleMemory(t *testing.T) {
	ch := buildClientHello(sniExt("www.example.com"), alpnExt("h2", "http/1.1"))
	split := l7test.Case{Name: "SplitClientHello", Dir: l7.ToServer, // reassembled in a buffer
		In: cat(record(22, 0x0301, ch[:40]), record(22, 0x0301, ch[40:]))}
	for _, tc := range append(benchCases[:len(benchCases):len(benchCases)], split) {
		t.Run(tc.Name, func(t *testing.T) {
			var m l7.Message
			per := l7test.IdleBytesPerParser(t, idleParsers, func() l7.Parser {
				p := New(nil).NewParser(l7.TCP).(*Parser)
				if n := l7test.ParseAll(p, tc.In, tc.Dir, &m); n != 1 {
					t.Fatalf("%d messages, want 1", n)
				}
				p.Idle()
				return p
			})
			t.Logf("%.0f bytes per idle parser", per)
			if per > idleParserBound {
				t.Errorf("%.0f bytes per idle parser, want at most %d", per, idleParserBound)
			}
		})
	}
}
