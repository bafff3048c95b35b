package memcached_test

import (
	"errors"
	"testing"

	"github.com/metaflow-go/metaflow/examples/memcached"
	"github.com/metaflow-go/metaflow/l7"
)

// FuzzParse checks the l7.Parser contract on arbitrary bytes: no panic, at
// most len(data) consumed, no message with an error, every error but
// l7.ErrNeedMore a *l7.ParseError matching l7.ErrMalformed, and progress on
// every call without an error, even one with no bytes. The first byte sets the size of the pieces
// the rest is fed in (low 6 bits + 1) and which direction gets it first
// (top bit); the other direction gets it next. Check runs on it too.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"\x00set k 0 0 5\r\nhello\r\nget k\r\n",
		"\x83VALUE k 0 5\r\nhello\r\nEND\r\nSTAT pid 1\r\nEND\r\n",
		"\x05gets a b c\r\ncas a 0 0 1 9 noreply\r\nx\r\nincr a 1\r\nquit\r\n",
		"\x01SERVER_ERROR out of memory\r\nCLIENT_ERROR x\r\nERROR\r\n42\r\nVERSION 1\r\n",
		"\x3fset big 0 0 99999999999999999999\r\n",
		"\x10*2\r\n$3\r\nget\r\n$1\r\nk\r\n",
		"\x00set k 0 0 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	d := memcached.New(&memcached.Config{MaxLine: 64})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		d.Check(in[1:], l7.ToServer, l7.TCP)
		step := int(in[0]&0x3f) + 1
		first := l7.Direction(in[0] >> 7)
		p := d.NewParser(l7.TCP)
		data := in[1:]
		for _, dir := range []l7.Direction{first, first ^ 1} {
			var buf []byte
			var m l7.Message
			for off := 0; off < len(data); {
				k := min(step, len(data)-off)
				buf = append(buf, data[off:off+k]...)
				off += k
				// As the engine does, ask again after a message, even
				// with no bytes left.
				for more := false; len(buf) > 0 || more; {
					m.Reset()
					n, ok, err := p.Parse(buf, dir, &m)
					more = ok && n > 0
					if n < 0 || n > len(buf) {
						t.Fatalf("consumed %d of %d", n, len(buf))
					}
					if ok && err != nil {
						t.Fatalf("message with error %v", err)
					}
					buf = buf[n:]
					if errors.Is(err, l7.ErrNeedMore) {
						break
					}
					if err != nil {
						var pe *l7.ParseError
						if !errors.As(err, &pe) || !errors.Is(err, l7.ErrMalformed) {
							t.Fatalf("error %v: not a *l7.ParseError matching l7.ErrMalformed", err)
						}
						p.Gap(dir, -1)
						continue
					}
					if n == 0 && !ok {
						t.Fatalf("no progress without an error")
					}
				}
			}
		}
	})
}
