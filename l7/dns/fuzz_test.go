package dns

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// FuzzParse checks the parser contract on any input, over UDP and TCP: no
// panic, n <= len(data), an error or ErrNeedMore means no message, and a
// TCP stream is consumed with progress. Bit 2 of dir tells the parser it
// is idle after every call.
func FuzzParse(f *testing.F) {
	for _, tc := range benchCases() {
		f.Add(tc.data, uint8(tc.t), uint8(tc.dir))
	}
	for _, s := range seedPayloads(f) {
		f.Add(s.data, uint8(s.t), uint8(s.dir))
	}
	f.Fuzz(func(t *testing.T, data []byte, transport, dir uint8) {
		tr := l7.UDP
		if transport&1 == 0 {
			tr = l7.TCP
		}
		d := l7.Direction(dir & 1)
		New(nil).Check(data, d, tr)
		p := newParser(tr)
		if dir&2 != 0 {
			p.Gap(d, -1)
		}
		var m l7.Message
		for rest, i := data, 0; i < 1000; i++ {
			m.Reset()
			n, ok, err := p.Parse(rest, d, &m)
			if n < 0 || n > len(rest) {
				t.Fatalf("n = %d for %d bytes", n, len(rest))
			}
			if err != nil && ok {
				t.Fatalf("ok with error %v", err)
			}
			if ok && m.Kind == 0 {
				t.Fatal("message without a kind")
			}
			rest = rest[n:]
			if dir&4 != 0 {
				p.Idle() // the scratch goes back to the pool between messages
			}
			if err == l7.ErrNeedMore || len(rest) == 0 {
				break
			}
			if err != nil {
				p.Gap(d, -1)
			}
			if n == 0 && err == nil {
				t.Fatal("no progress without an error")
			}
			if n == 0 {
				break
			}
		}
	})
}
