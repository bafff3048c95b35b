package builtin_test

import (
	"errors"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/builtin"
)

// TestParsers_Empty checks the contract the engine relies on after each
// message of a TCP stream: Parse on no bytes returns no message and no error
// other than ErrNeedMore. (A UDP datagram is never empty.)
func TestParsers_Empty(t *testing.T) {
	for _, d := range builtin.Decoders() {
		for _, tr := range []l7.Transport{l7.TCP} {
			p := d.NewParser(tr)
			for _, dir := range []l7.Direction{l7.ToServer, l7.ToClient} {
				var m l7.Message
				n, ok, err := p.Parse(nil, dir, &m)
				if n != 0 || ok || err != nil && !errors.Is(err, l7.ErrNeedMore) {
					t.Errorf("%s transport %d dir %d: Parse(nil) = %d, %v, %v; want 0, false, nil or ErrNeedMore", d.Name(), tr, dir, n, ok, err)
				}
			}
		}
	}
}
