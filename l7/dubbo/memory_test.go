package dubbo

import (
	"runtime"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
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
			ps := make([]*Parser, idleParsers)
			feed := func(from, to int) {
				for i := from; i < to; i++ {
					p := d.NewParser(l7.TCP).(*Parser)
					if _, ok, err := p.Parse(tc.In, tc.Dir, &m); !ok || err != nil {
						t.Fatalf("Parse: ok %v, err %v", ok, err)
					}
					p.Idle()
					ps[i] = p
				}
			}
			feed(0, idleParsers/4) // warms the pool up
			h1 := liveHeap()
			feed(idleParsers/4, idleParsers)
			h2 := liveHeap()
			runtime.KeepAlive(ps)
			per := (float64(h2) - float64(h1)) / float64(idleParsers*3/4)
			t.Logf("%.0f bytes per idle parser", per)
			if per > idleParserBound {
				t.Errorf("%.0f bytes per idle parser, want at most %d", per, idleParserBound)
			}
		})
	}
}

// liveHeap returns the bytes of live heap objects; two collections empty
// the sync.Pools.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
