package l7test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// Case is one input of a parser allocation test or benchmark: one whole
// message sent in direction Dir.
type Case struct {
	Name string
	In   []byte
	Dir  l7.Direction
}

// ParseAllocs fails the test unless a fresh TCP parser from d decodes
// c.In as exactly one message, and then decodes it again (the parser
// reused) without allocating.
func ParseAllocs(t testing.TB, d l7.Decoder, c Case) {
	t.Helper()
	p := d.NewParser(l7.TCP)
	var m l7.Message
	if ParseAll(p, c.In, c.Dir, &m) != 1 {
		t.Fatalf("%s: no message", c.Name)
	}
	if a := testing.AllocsPerRun(200, func() { ParseAll(p, c.In, c.Dir, &m) }); a != 0 {
		t.Errorf("%s: %v allocations per message, want 0", c.Name, a)
	}
}

// CheckAllocs fails the test when d.Check allocates on any of the inputs
// (sent to the server over TCP).
func CheckAllocs(t testing.TB, d l7.Decoder, ins ...[]byte) {
	t.Helper()
	for _, in := range ins {
		if a := testing.AllocsPerRun(100, func() { d.Check(in, l7.ToServer, l7.TCP) }); a != 0 {
			t.Errorf("Check(%.10q): %v allocations", in, a)
		}
	}
}

// BenchmarkParse runs one sub-benchmark per case, named after it, that
// parses c.In with one reused TCP parser from d, reporting allocations
// and c.In's length as the bytes per operation.
func BenchmarkParse(b *testing.B, d l7.Decoder, cases []Case) {
	for _, c := range cases {
		b.Run(c.Name, func(b *testing.B) {
			p := d.NewParser(l7.TCP)
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(c.In)))
			for b.Loop() {
				ParseAll(p, c.In, c.Dir, &m)
			}
		})
	}
}
