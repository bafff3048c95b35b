package encoding

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metaflow-go/metaflow/tag"
)

// TestNHash: equal sides hash equal, sides that differ in one tag (key or
// value, address or length) differently, and a side with a value of 2^16
// bytes or more cannot be cached (not ok).
func TestNHash(t *testing.T) {
	e, err := NewEncoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	long := strings.Repeat("x", 1<<16)
	longer := strings.Repeat("y", 1<<17)
	for n := range maxSetTags + 1 {
		for range 20 {
			ts := make([]tag.Tag, n)
			for i := range ts {
				ts[i] = tag.Tag{Key: strings.Repeat("k", r.IntN(20)), Value: strings.Repeat("v", r.IntN(200))}
				if r.IntN(50) == 0 {
					ts[i].Value = long[:len(long)-r.IntN(2)]
				}
			}
			lo, hi, ok := e.nhash(ts)
			cp := append([]tag.Tag(nil), ts...)
			if clo, chi, cok := e.nhash(cp); clo != lo || chi != hi || cok != ok {
				t.Fatalf("%d tags: a copy hashes to (%x, %x, %v), not (%x, %x, %v)", n, clo, chi, cok, lo, hi, ok)
			}
			if n > 0 {
				i := r.IntN(n)
				changed := true
				switch r.IntN(3) {
				case 0:
					cp[i].Value = strings.Clone(cp[i].Value) // same bytes, another address
					changed = cp[i].Value != ""
				case 1:
					cp[i].Key = cp[i].Key + "k"
				case 2:
					cp[i].Value = longer[:len(cp[i].Value)+1]
				}
				if clo, chi, _ := e.nhash(cp); clo == lo && chi == hi && changed {
					t.Fatalf("%d tags: tag %d changed, same hash", n, i)
				}
			}
			long := false
			for _, tg := range ts {
				long = long || len(tg.Value) >= 1<<16
			}
			if ok == long {
				t.Fatalf("%d tags, a value of 2^16 bytes or more: %v; ok %v", n, long, ok)
			}
		}
	}
}
