package aggregate

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// TestSketch_MatchesDDSketch: a Sketch answers every quantile exactly as
// a ddsketch.DDSketch (sketches-go, the same mapping) holding the same
// values, after adds and after merges: the accuracy guarantee is
// DDSketch's.
func TestSketch_MatchesDDSketch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		n := 1 + rng.IntN(5000)
		var parts [3]Sketch
		dd := ddsketch.NewDDSketch(sketchMapping, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
		for i := range n {
			var v float64
			switch rng.IntN(6) {
			case 0:
				v = 0
			case 1:
				v = float64(rng.IntN(100))
			case 2:
				v = math.Round(math.Exp(4 + 3*rng.NormFloat64()))
			default:
				v = float64(rng.Int64N(1 << uint(1+rng.IntN(40))))
			}
			parts[i%3].Add(v)
			if v <= sketchMin {
				v = 0
			}
			if err := dd.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		var got Sketch
		for i := range parts {
			got.Merge(&parts[i])
		}
		if got.Count() != dd.GetCount() {
			t.Fatalf("round %d: count %v, DDSketch %v", round, got.Count(), dd.GetCount())
		}
		for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1} {
			want, err := dd.GetValueAtQuantile(q)
			if err != nil {
				t.Fatal(err)
			}
			if v := got.Quantile(q); v != want {
				t.Errorf("round %d q%v: %v, DDSketch %v", round, q, v, want)
			}
		}
		c := got.Clone()
		got.reset()
		if got.Count() != 0 || got.Quantile(0.5) != 0 || c.Count() != dd.GetCount() {
			t.Errorf("round %d: reset or Clone shares state", round)
		}
	}
}

// TestSketch_LatIndex: the 1 s windows' bucket of a latency is the one
// Sketch.Add uses, for every int64 magnitude.
func TestSketch_LatIndex(t *testing.T) {
	for _, us := range []int64{0, 1, 2, 3, 999, 1000, 123456789, math.MaxInt32, math.MaxInt64} {
		var a, b Sketch
		a.Add(float64(us))
		b.addLat(latIndex(us))
		if a.Quantile(0.5) != b.Quantile(0.5) || a.zero != b.zero {
			t.Errorf("%d µs: Add %v, addLat %v", us, a.Quantile(0.5), b.Quantile(0.5))
		}
	}
}

// TestTable_InsertRemove checks the key table against a map through
// inserts, backward-shift removals and growth.
func TestTable_InsertRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var tb table
	want := map[ikey]int32{}
	mk := func(i int) ikey {
		return ikey{port: uint16(i), l7: uint32(i >> 16), cfam: 4, client: [16]byte{15: byte(i)}}
	}
	for step := range 200_000 {
		k := mk(rng.IntN(5000))
		h := k.hash()
		j, ok := want[k]
		if got := tb.find(&k, h); (got >= 0) != ok || (ok && got != j) {
			t.Fatalf("step %d: find %v, want %v %v", step, got, j, ok)
		}
		if !ok {
			want[k] = tb.insert(&k, h)
		} else if rng.IntN(2) == 0 {
			tb.remove(j)
			delete(want, k)
		}
		if tb.n != len(want) {
			t.Fatalf("step %d: %d keys, want %d", step, tb.n, len(want))
		}
	}
	for k, j := range want {
		if *tb.key(j) != k {
			t.Fatalf("index %d: key %+v, want %+v", j, *tb.key(j), k)
		}
	}
}

// TestAggregator_HeldRecords: the records WriteL7 holds are counted by
// any other method, and by a record 100 ms newer.
func TestAggregator_HeldRecords(t *testing.T) {
	var mins int
	a, _ := New(&Config{OnWindow: func(w *Window) {
		if w.Interval == Minute && w.View.Name == "application" {
			for _, s := range w.Series {
				mins += int(s.App.Request)
			}
		}
	}})
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 3 {
		r := l7rec(rng, t0+int64(i)*1000, 1, 1)
		r.EndTime, r.HasRequest = r.StartTime+1000, true
		a.WriteL7(r)
	}
	if st := a.Stats(); st.L7Records != 3 || st.OpenSeries != 2 { // one key in each application view's 1 s window
		t.Errorf("after 3 records: %+v", st)
	}
	// a lone record, then one 100 ms newer: the first is counted at once
	b, _ := New(nil)
	r := l7rec(rng, t0, 1, 1)
	r.EndTime = t0
	b.WriteL7(r)
	if b.ringN != 1 {
		t.Fatalf("held %d records, want 1", b.ringN)
	}
	r2 := l7rec(rng, t0+int64(200*time.Millisecond), 1, 1)
	r2.EndTime = r2.StartTime
	b.WriteL7(r2)
	if b.ringN != 1 || b.views[2].secs[0].n != 1 {
		t.Errorf("the older record was not counted: held %d", b.ringN)
	}
	a.Close()
	if mins != 3 {
		t.Errorf("1 min windows count %d requests, want 3", mins)
	}
}
