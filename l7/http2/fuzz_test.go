package http2_test

import (
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/http2"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// FuzzParse checks the Parser contract on arbitrary bytes: no panic,
// consumed <= len(input), a message never comes with an error, and progress
// on every call that returns no error. The first input byte sets the size
// of the pieces the rest is fed in, and which direction gets it first
// (l7test.FuzzPieces); l7.ErrStop ends a run.
func FuzzParse(f *testing.F) {
	f.Add(append([]byte{0}, httpConv().bytes()...))
	f.Add(append([]byte{3}, grpcConv().bytes()...))
	f.Add(append([]byte{0x80}, httpConv().bytes()[24:]...))
	f.Add([]byte("\x05GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte("\x85HTTP/1.1 101 Switching\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
	for _, raw := range l7test.StreamSeeds(f, http2.New(nil), captures(f)...) {
		f.Add(append([]byte{0}, raw...))
	}
	d := http2.New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, d.NewParser(l7.TCP), in, true)
		// Check must not panic either.
		d.Check(in, l7.Direction(len(in)&1), l7.TCP)
	})
}
