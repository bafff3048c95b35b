package dubbo

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleParsers is how many parsers the idle memory test holds.
const idleParsers = 10_000

// idleParserBound bounds the heap bytes of an idle Parser: its framing
// state and its Decoder (a 32-byte object). With the Config and 64-bit
// counters in it, it was a 112-byte object; with two settings and 32-bit
// counters, 48.
const idleParserBound = 40

// TestParser_IdleMemory measures the live heap an idle Parser holds after
// each kind of frame, once told it is idle (l7.Idler), and bounds it:
// the scratch a hessian2 body is decoded with goes back to a pool.
func TestParser_IdleMemory(t *testing.T) {
	for _, tc := range benchCases {
		t.Run(tc.Name, func(t *testing.T) {
			var m l7.Message
			d := New(nil)
			per := l7test.IdleBytesPerParser(t, idleParsers, func() l7.Parser {
				p := d.NewParser(l7.TCP).(*Parser)
				if _, ok, err := p.Parse(tc.In, tc.Dir, &m); !ok || err != nil {
					t.Fatalf("Parse: ok %v, err %v", ok, err)
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
