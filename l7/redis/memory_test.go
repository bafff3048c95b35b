package redis

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// idleParsers is how many parsers the idle memory test holds.
const idleParsers = 10_000

// idleParserBound bounds the heap bytes of an idle Parser: each
// direction's scalars, the counters and the SUBSCRIBE confirmations
// awaited (a 320-byte object). With each direction's buffers in it, it
// was a 2,304-byte object.
const idleParserBound = 336

// TestParser_IdleMemory measures the live heap an idle Parser holds after
// a command and its reply, once told it is idle (l7.Idler), and bounds
// it: the buffers a value is decoded in go back to a pool.
func TestParser_IdleMemory(t *testing.T) {
	for _, tc := range benchCases {
		t.Run(tc.Name, func(t *testing.T) {
			var m l7.Message
			per := l7test.IdleBytesPerParser(t, idleParsers, func() l7.Parser {
				p := New(nil).NewParser(l7.TCP)
				if n := l7test.ParseAll(p, tc.In, tc.Dir, &m); n != 1 {
					t.Fatalf("%d messages, want 1", n)
				}
				if n := l7test.ParseAll(p, benchOK, l7.ToClient, &m); n != 1 {
					t.Fatalf("%d replies, want 1", n)
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

// TestParser_IdleInValue: Idle keeps the buffers of a value in progress,
// and the value decodes as it would without the Idle.
func TestParser_IdleInValue(t *testing.T) {
	var m l7.Message
	p := New(nil).NewParser(l7.TCP).(*Parser)
	cut := len(benchSetPX) - 4 // inside the last bulk
	if n, ok, err := p.Parse(benchSetPX[:cut], l7.ToServer, &m); ok || err != nil || n == 0 {
		t.Fatalf("first part: n %d, ok %v, err %v", n, ok, err)
	}
	p.Idle()
	if p.h[l7.ToServer].b == nil {
		t.Fatal("Idle gave back the buffers of a value in progress")
	}
	l7test.ParseAll(p, benchSetPX[cut:], l7.ToServer, &m)
	if got := string(m.RequestType) + " " + string(m.RequestResource); got != "SET SET :1:factorial_12 479001600 PX 60000" {
		t.Errorf("got %q", got)
	}
	p.Idle()
	if p.h[l7.ToServer].b != nil {
		t.Error("Idle kept the buffers with no value in progress")
	}
}
