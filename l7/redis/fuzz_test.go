package redis

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/metaflow-go/metaflow/internal/testutil"
	"github.com/metaflow-go/metaflow/l7"
)

// FuzzParse checks the Parser contract on arbitrary bytes: no panic,
// consumed <= len(input), a message never comes with an error, and progress
// on every call that returns no error. The first input byte sets the size
// of the pieces the rest is fed in, and which direction gets it first.
func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nPING\r\n"))
	f.Add([]byte("\x83|1\r\n+a\r\n:1\r\n*2\r\n%1\r\n+k\r\n~1\r\n_\r\n>2\r\n$7\r\nmessage\r\n!3\r\nERR\r\n"))
	if dir, ok := sharedPcaps(f); ok {
		files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
		for _, path := range files {
			for _, raw := range replay(f, path, New()).raw {
				f.Add(append([]byte{0}, raw...))
			}
		}
	}
	d := New()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		step := int(in[0]&0x3f) + 1
		first := l7.Direction(in[0] >> 7)
		data := in[1:]
		p := d.NewParser(l7.TCP)
		for _, dir := range []l7.Direction{first, first ^ 1} {
			var buf []byte
			var m l7.Message
			for off := 0; off < len(data); {
				k := min(step, len(data)-off)
				buf = append(buf, data[off:off+k]...)
				off += k
				for len(buf) > 0 {
					m.Reset()
					n, ok, err := p.Parse(buf, dir, &m)
					if n < 0 || n > len(buf) {
						t.Fatalf("consumed %d of %d", n, len(buf))
					}
					if ok && err != nil {
						t.Fatalf("message with error %v", err)
					}
					if ok && m.Kind != l7.KindRequest && m.Kind != l7.KindResponse {
						t.Fatalf("message without kind")
					}
					buf = buf[n:]
					if errors.Is(err, l7.ErrNeedMore) {
						break
					}
					if err != nil {
						if !errors.Is(err, l7.ErrMalformed) {
							t.Fatalf("error %v does not match l7.ErrMalformed", err)
						}
						p.Gap(dir, 0)
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

// sharedPcaps locates the shared corpus like testutil.SharedPcaps, but
// reports its absence instead of skipping, so that the fuzz target still
// runs on its built-in seeds.
func sharedPcaps(tb testing.TB) (string, bool) {
	root := os.Getenv("METAFLOW_PCAPS")
	if root == "" {
		root = filepath.Join(filepath.Dir(testutil.ModuleRoot(tb)), "shared", "pcaps")
	}
	dir := filepath.Join(root, "redis")
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}
