package redis

import (
	"testing"

	corpus "github.com/metaflow-go/metaflow/internal/l7test"
	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// FuzzParse checks the Parser contract on arbitrary bytes: no panic,
// consumed <= len(input), a message never comes with an error, and progress
// on every call that returns no error. The first input byte sets the size
// of the pieces the rest is fed in, and which direction gets it first
// (l7test.FuzzPieces); the parser never stops (l7.ErrStop fails).
func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nPING\r\n"))
	f.Add([]byte("\x83|1\r\n+a\r\n:1\r\n*2\r\n%1\r\n+k\r\n~1\r\n_\r\n>2\r\n$7\r\nmessage\r\n!3\r\nERR\r\n"))
	for _, raw := range l7test.StreamSeeds(f, New(nil), corpus.SharedCaptures(f, "redis")...) {
		f.Add(append([]byte{0}, raw...))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, d.NewParser(l7.TCP), in, false)
		// Idle between calls gives buffers back only between values.
		l7test.FuzzPieces(t, &l7test.Idling{Parser: d.NewParser(l7.TCP)}, in, false)
	})
}
