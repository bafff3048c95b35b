package dns

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleParsers is how many parsers the idle memory test holds.
const idleParsers = 10_000

// idleParserBound bounds the heap bytes of an idle Parser: its framing
// state and last header (a 64-byte object). With the name and result
// buffers in the Parser it was 1,792 bytes.
const idleParserBound = 72

// TestParser_IdleMemory measures the live heap an idle Parser holds after
// a query and its response, over UDP and TCP, once told it is idle
// (l7.Idler), and bounds it: DNS keeps nothing between messages, so the
// texts a message's fields are built in go back to a pool.
func TestParser_IdleMemory(t *testing.T) {
	for _, tc := range kitCases() {
		t.Run(tc.Name, func(t *testing.T) {
			var m l7.Message
			per := l7test.IdleBytesPerParser(t, idleParsers, func() l7.Parser {
				p := New(nil).NewParser(tc.Transport)
				if _, ok, err := p.Parse(tc.In, tc.Dir, &m); !ok || err != nil {
					t.Fatalf("Parse: ok %v, err %v", ok, err)
				}
				p.(l7.Idler).Idle()
				return p
			})
			t.Logf("%.0f bytes per idle parser", per)
			if per > idleParserBound {
				t.Errorf("%.0f bytes per idle parser, want at most %d", per, idleParserBound)
			}
		})
	}
}
