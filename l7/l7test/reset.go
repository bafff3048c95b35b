package l7test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
)

// parseTrace parses c.In with p as ParseAll does and returns what each
// Parse call gave: bytes consumed, message, error.
func parseTrace(p l7.Parser, c *Case) []string {
	var out []string
	var m l7.Message
	in := c.In
	for len(in) > 0 {
		m.Reset()
		n, ok, err := p.Parse(in, c.Dir, &m)
		out = append(out, fmt.Sprintf("%d %v %v %+v", n, ok, err, m))
		if n <= 0 || n > len(in) {
			break
		}
		in = in[n:]
	}
	if i, ok := p.(l7.Idler); ok {
		i.Idle()
	}
	return out
}

// CheckReset checks the l7.Resetter contract of d's parsers: a parser that
// parsed one case (another flow's bytes; and again, then the same bytes in
// the other direction, half of them in each direction and a byte lost in
// each over TCP), and then Reset, parses every case (one at a time) exactly as a new
// parser does, message for message, and Reset and the parse of a case
// allocate nothing once the parser is warm (not checked under the race
// detector: RaceEnabled). It fails the test when the
// parsers do not implement l7.Resetter. Cases with CheckOnly are skipped.
func CheckReset(tb testing.TB, d l7.Decoder, cases ...Case) {
	tb.Helper()
	for _, c := range cases {
		if c.CheckOnly {
			continue
		}
		want := parseTrace(d.NewParser(c.transport()), &c)
		for _, dirty := range cases {
			if dirty.CheckOnly {
				continue
			}
			for _, lost := range []bool{false, true} {
				p := d.NewParser(dirty.transport())
				r, ok := p.(l7.Resetter)
				if !ok {
					tb.Fatalf("%T does not implement l7.Resetter", p)
				}
				parseTrace(p, &dirty)
				if lost {
					// The other direction's bytes as this one's, a
					// message cut short, and bytes lost in the middle
					// of a line: a parser lost in both directions.
					other := dirty
					other.Dir ^= 1
					parseTrace(p, &other)
					for _, dir := range []l7.Direction{l7.ToServer, l7.ToClient} {
						var m l7.Message
						if len(dirty.In) > 1 {
							p.Parse(dirty.In[:len(dirty.In)/2], dir, &m)
						}
						if c.transport() == l7.TCP {
							p.Gap(dir, 1)
						}
					}
				}
				r.Reset(c.transport())
				if got := parseTrace(p, &c); !slices.Equal(got, want) {
					tb.Errorf("%s after %s (lost %v) and Reset:\n%q\nwant (a new parser):\n%q", c.Name, dirty.Name, lost, got, want)
				}
			}
		}
		if RaceEnabled {
			continue
		}
		p := d.NewParser(c.transport())
		var m l7.Message
		ParseAll(p, c.In, c.Dir, &m)
		r := p.(l7.Resetter)
		if a := testing.AllocsPerRun(100, func() {
			r.Reset(c.transport())
			ParseAll(p, c.In, c.Dir, &m)
		}); a != 0 {
			tb.Errorf("%s: Reset and Parse allocate %v times per run, want 0", c.Name, a)
		}
	}
}
