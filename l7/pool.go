package l7

import "math/bits"

// Buffer size classes: 16 B << c/2 for even c, 24 B << c/2 for odd c,
// for c in [0, numClasses): a power of two and the half-way step above it,
// as Go's own size classes have them (16, 24, 32, 48, 64, 96, ... 1 MiB).
// The smallest are for bytes held for inference, often a few (a 10-byte
// piece of a message start takes 16 bytes, not 64, on each of half a
// million parked flows). The half steps keep what a buffered segment
// wastes at 1/6 on average instead of 1/4 (segments of 257-384 bytes, the
// most common held out of order on the mixed benchmark file, take 384
// bytes instead of 512). Reassembly counts a buffered segment as 64 bytes
// at least all the same (oooCost).
const (
	minClassShift = 4
	numClasses    = 33 // 16 B .. 1 MiB
	maxClassSize  = 1 << (minClassShift + (numClasses-1)/2)
)

// maxFreeEntries bounds each class's free list. Steady state needs few
// (what a burst of closing flows gives back before new ones take them),
// but the end of input gives back every flow's buffers at once: maxFree
// alone would keep 524,288 of 16 bytes (their slice headers 12 MB more),
// and the free list's growth, for no one.
const maxFreeEntries = 4096

// bufPool hands out byte buffers in power-of-two size classes under a global
// byte budget, and keeps a bounded free list per class so that steady-state
// reassembly and parse buffering do not allocate.
type bufPool struct {
	free      [numClasses][][]byte
	inUse     int64 // capacity of the buffers handed out and not returned
	limit     int64 // budget for inUse
	freeBytes int64 // capacity held in the free lists
	maxFree   int64 // bound for freeBytes
}

// classOf returns the smallest class holding n bytes, or -1 when n is larger
// than the largest class.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	k := bits.Len(uint(n - 1)) // 1<<(k-1) < n <= 1<<k
	c := 2 * (k - minClassShift)
	if n <= 3<<(k-2) {
		c-- // the half step below 1<<k
	}
	if c >= numClasses {
		return -1
	}
	return c
}

// sizeOf returns the capacity of the buffers of class c.
func sizeOf(c int) int {
	if c&1 != 0 {
		return 3 << (minClassShift + c/2 - 1)
	}
	return 1 << (minClassShift + c/2)
}

// classSize returns the capacity of the buffer get(n) would return.
func classSize(n int) int {
	c := classOf(n)
	if c < 0 {
		return n
	}
	return sizeOf(c)
}

// get returns an empty buffer with capacity >= n, or nil when n is too large
// or the budget is spent.
func (p *bufPool) get(n int) []byte {
	c := classOf(n)
	if c < 0 {
		return nil
	}
	size := int64(sizeOf(c))
	if p.inUse+size > p.limit {
		return nil
	}
	p.inUse += size
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c][l-1] = nil
		p.free[c] = p.free[c][:l-1]
		p.freeBytes -= size
		return b[:0]
	}
	return make([]byte, 0, size)
}

// put returns a buffer obtained from get.
func (p *bufPool) put(b []byte) {
	size := int64(cap(b))
	if size == 0 {
		return
	}
	p.inUse -= size
	c := classOf(int(size))
	if c < 0 || len(p.free[c]) >= maxFreeEntries || p.freeBytes+size > p.maxFree {
		return
	}
	p.freeBytes += size
	p.free[c] = append(p.free[c], b[:0])
}
