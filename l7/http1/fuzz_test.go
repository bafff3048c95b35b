package http1

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
// (l7test.FuzzPieces); l7.ErrStop ends a run.
func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("\x03HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("\x81HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching\r\n\r\n"))
	for _, raw := range l7test.StreamSeeds(f, New(nil), corpus.SharedCaptures(f, "http1")...) {
		f.Add(append([]byte{0}, raw...))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, d.NewParser(l7.TCP), in, true)
	})
}
