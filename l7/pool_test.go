package l7

import "testing"

func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		n, class, size int
	}{
		{0, 0, 16},
		{1, 0, 16},
		{10, 0, 16}, // a small piece held for inference
		{16, 0, 16},
		{17, 1, 24},
		{24, 1, 24},
		{25, 2, 32},
		{32, 2, 32},
		{33, 3, 48},
		{48, 3, 48},
		{49, 4, 64},
		{64, 4, 64},
		{65, 5, 96},
		{97, 6, 128},
		{300, 9, 384}, // a segment held out of order
		{385, 10, 512},
		{1448, 13, 1536},
		{maxHeld, 16, maxHeld},
		{maxHeld + 1, 17, 6144},
		{64 << 10, 24, 64 << 10},
		{maxClassSize - 1, numClasses - 1, maxClassSize},
		{maxClassSize, numClasses - 1, maxClassSize},
		{maxClassSize + 1, -1, maxClassSize + 1},
	} {
		if c, s := classOf(tc.n), classSize(tc.n); c != tc.class || s != tc.size {
			t.Errorf("classOf(%d), classSize(%d) = %d, %d; want %d, %d", tc.n, tc.n, c, s, tc.class, tc.size)
		}
		if tc.class >= 0 && classOf(tc.size) != tc.class {
			t.Errorf("classOf(%d) = %d, want %d (a class's own size)", tc.size, classOf(tc.size), tc.class)
		}
	}
	if maxClassSize != 1<<20 {
		t.Errorf("maxClassSize %d, want 1 MiB (Config.MaxBufferPerDirection's limit)", maxClassSize)
	}
}

// TestBufPool_Get: buffers have their class's capacity, count against the
// budget until put back, and come back from the free lists, which hold at
// most maxFree bytes.
func TestBufPool_Get(t *testing.T) {
	small := classSize(10)
	large := classSize(small + 1) // the next class
	p := &bufPool{limit: int64(small + large + small/2), maxFree: int64(small + large)}
	a := p.get(10)
	if len(a) != 0 || cap(a) != small || p.inUse != int64(small) {
		t.Fatalf("get(10): len %d cap %d, in use %d; want 0, %d, %d", len(a), cap(a), p.inUse, small, small)
	}
	b := p.get(small + 1)
	if cap(b) != large || p.inUse != int64(small+large) {
		t.Fatalf("get(%d): cap %d, in use %d; want %d, %d", small+1, cap(b), p.inUse, large, small+large)
	}
	if c := p.get(1); c != nil {
		t.Fatalf("get(1) past the budget: cap %d, want nil", cap(c))
	}
	if c := p.get(maxClassSize + 1); c != nil {
		t.Fatalf("get(%d) past the largest class: cap %d, want nil", maxClassSize+1, cap(c))
	}
	p.put(append(a, "0123456789"...))
	p.put(b)
	if p.inUse != 0 || p.freeBytes != int64(small+large) {
		t.Fatalf("in use %d, free %d after put; want 0, %d", p.inUse, p.freeBytes, small+large)
	}
	c := p.get(5)
	if &c[:1][0] != &a[:1][0] || len(c) != 0 || p.inUse != int64(small) || p.freeBytes != int64(large) {
		t.Fatalf("get(5) after put: same buffer %v, len %d, in use %d, free %d; want true, 0, %d, %d",
			&c[:1][0] == &a[:1][0], len(c), p.inUse, p.freeBytes, small, large)
	}
	// The free lists are full with c: another buffer is dropped.
	e := p.get(small)
	p.put(c)
	p.put(e)
	if p.inUse != 0 || p.freeBytes != int64(small+large) || len(p.free[0]) != 1 || len(p.free[1]) != 1 {
		t.Fatalf("in use %d, free %d, %d+%d buffers listed; want 0, %d, 1+1",
			p.inUse, p.freeBytes, len(p.free[0]), len(p.free[1]), small+large)
	}
}

// TestBufPool_PutMany: the end of input gives back every flow's buffers
// at once; a class's free list keeps maxFreeEntries of them, not as many
// as maxFree allows.
func TestBufPool_PutMany(t *testing.T) {
	const n = 3 * maxFreeEntries
	p := &bufPool{limit: 1 << 30, maxFree: 1 << 30}
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = p.get(10)
	}
	for _, b := range bufs {
		p.put(b)
	}
	if want := int64(classSize(10) * maxFreeEntries); p.inUse != 0 || len(p.free[0]) != maxFreeEntries || p.freeBytes != want {
		t.Errorf("in use %d, %d buffers listed (%d bytes); want 0, %d (%d bytes)",
			p.inUse, len(p.free[0]), p.freeBytes, maxFreeEntries, want)
	}
}

func TestBufPool_GetAllocs(t *testing.T) {
	p := &bufPool{limit: 1 << 20, maxFree: 1 << 20}
	for _, n := range []int{10, 30, 1000} {
		p.put(p.get(n))
		if a := testing.AllocsPerRun(100, func() { p.put(p.get(n)) }); a != 0 {
			t.Errorf("get(%d) and put from a free list: %v allocs, want 0", n, a)
		}
	}
}
