package mqtt

import (
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/l7"
	"github.com/metaflow-go/metaflow/l7/l7test"
)

// FuzzParse checks the Parser contract on arbitrary bytes: no panic,
// consumed <= len(input), a message never comes with an error, progress on
// every call that returns no error, errors that match l7.ErrMalformed.
// The first input byte sets the size of the pieces the rest is fed in and
// which direction gets it first (l7test.FuzzPieces). Seeds: the first
// bytes of each direction of the recorded and shared captures.
func FuzzParse(f *testing.F) {
	f.Add(append([]byte{0}, cat(connect(level5, "c"), publish(true, 1, 1, "t", "x", topicAlias(2)))...))
	f.Add(append([]byte{0x83}, cat(connack(true, 0), suback(true, 1, 0, 0x80), pingresp)...))
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.pcap"))
	for _, raw := range l7test.StreamSeeds(f, New(nil), append(paths, sharedCaptures(f)...)...) {
		f.Add(append([]byte{0}, raw...))
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		l7test.FuzzPieces(t, &l7test.Idling{Parser: d.NewParser(l7.TCP)}, in, false)
	})
}

// FuzzCheck checks that Check never panics and answers a known verdict.
func FuzzCheck(f *testing.F) {
	f.Add(connect(level311, "c"))
	f.Add(publish(true, 2, 3, "a/b", "x"))
	d := New(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, dir := range []l7.Direction{l7.ToServer, l7.ToClient} {
			if v := d.Check(in, dir, l7.TCP); v > l7.Response {
				t.Fatalf("verdict %v", v)
			}
		}
	})
}
