package l7test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// Case is one input of an allocation check or a parse benchmark.
type Case struct {
	Name string
	// In holds one or more whole messages of direction Dir (one datagram
	// over UDP), or, with CheckOnly, any first bytes of a flow.
	In        []byte
	Dir       l7.Direction
	Transport l7.Transport // 0 means l7.TCP
	// CheckOnly: In is only given to Decoder.Check, not parsed.
	CheckOnly bool
}

func (c *Case) transport() l7.Transport {
	if c.Transport == 0 {
		return l7.TCP
	}
	return c.Transport
}

// AllocsPerMessage returns the average allocations of parsing c.In with a
// warm parser from d: a fresh parser first parses c.In once (filling its
// buffers), then the same parser parses it again and again, as
// testing.AllocsPerRun measures. It fails the test when c.In yields no
// message.
func AllocsPerMessage(tb testing.TB, d l7.Decoder, c Case) float64 {
	tb.Helper()
	p := d.NewParser(c.transport())
	var m l7.Message
	if ParseAll(p, c.In, c.Dir, &m) == 0 {
		tb.Fatalf("%s: no message", c.Name)
	}
	return testing.AllocsPerRun(200, func() { ParseAll(p, c.In, c.Dir, &m) })
}

// CheckZeroAlloc fails the test when d.Check allocates on the input of any
// case, or when a warm parser allocates while parsing a case's messages
// (AllocsPerMessage), as the l7.Decoder and l7.Parser contracts require.
func CheckZeroAlloc(tb testing.TB, d l7.Decoder, cases ...Case) {
	tb.Helper()
	for _, c := range cases {
		tr := c.transport()
		if a := testing.AllocsPerRun(100, func() { d.Check(c.In, c.Dir, tr) }); a != 0 {
			tb.Errorf("%s: Check allocates %v times", c.Name, a)
		}
		if c.CheckOnly {
			continue
		}
		if a := AllocsPerMessage(tb, d, c); a != 0 {
			tb.Errorf("%s: Parse allocates %v times per run, want 0", c.Name, a)
		}
	}
}

// BenchmarkParse runs one sub-benchmark per case, named after it, that
// parses c.In with one warm parser from d, reporting allocations and
// c.In's length as the bytes per operation. CheckOnly cases are skipped.
func BenchmarkParse(b *testing.B, d l7.Decoder, cases []Case) {
	for _, c := range cases {
		if c.CheckOnly {
			continue
		}
		b.Run(c.Name, func(b *testing.B) {
			p := d.NewParser(c.transport())
			var m l7.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(c.In)))
			for b.Loop() {
				ParseAll(p, c.In, c.Dir, &m)
			}
		})
	}
}
