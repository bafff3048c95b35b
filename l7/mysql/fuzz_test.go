package mysql

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// FuzzParse checks the parser contract on any input: no panic, n <=
// len(data), an error means no message, progress without an error. The
// input is cut into client and server chunks by the second argument, so
// that state carried between directions is explored too.
func FuzzParse(f *testing.F) {
	for _, tc := range benchCases() {
		f.Add(append(append([]byte(nil), tc.cmd...), tc.data...), uint64(len(tc.cmd)))
	}
	for _, s := range seedStreams(f) {
		f.Add(s.data, s.cuts)
	}
	f.Fuzz(func(t *testing.T, data []byte, cuts uint64) {
		New(nil).Check(data, l7.ToServer, l7.TCP)
		p := newParser()
		dir := l7.ToServer
		for len(data) > 0 {
			k := int(cuts & 0xff)
			cuts = cuts>>8 | cuts<<56
			if k == 0 || k > len(data) {
				k = len(data)
			}
			chunk := data[:k]
			data = data[k:]
			if cuts&1 != 0 {
				p.Gap(dir, -1)
			}
			if cuts&2 != 0 {
				p.Idle() // as the engine may between its input calls
			}
			var m l7.Message
			for i := 0; len(chunk) > 0 && i < 10000; i++ {
				m.Reset()
				n, ok, err := p.Parse(chunk, dir, &m)
				if n < 0 || n > len(chunk) {
					t.Fatalf("n = %d for %d bytes", n, len(chunk))
				}
				if ok && err != nil {
					t.Fatalf("ok with error %v", err)
				}
				if ok && m.Kind == 0 {
					t.Fatal("message without a kind")
				}
				if n == 0 && err == nil {
					t.Fatal("no progress without an error")
				}
				chunk = chunk[n:]
				if err == l7.ErrStop {
					return
				}
				if err != nil {
					if n == 0 {
						break
					}
					p.Gap(dir, -1)
				}
			}
			dir ^= 1
		}
	})
}
