package l7

// chunkBits sets the size of a chunk of a chunked store: 1,024 entries.
const chunkBits = 10

// chunked is a store of T values named by index, for states kept apart
// from Conns (parked and rested flows): its values live in chunks, so
// that growing it copies none (a grown slice would copy them all, and the
// GC would scan the copies), and freed indexes are reused.
type chunked[T any] struct {
	chunks []*[1 << chunkBits]T
	n      int     // indexes handed out
	free   []int32 // freed indexes
}

// at returns the value at index i.
func (s *chunked[T]) at(i int) *T {
	return &s.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

// alloc returns a free index; its value is the zero T.
func (s *chunked[T]) alloc() int {
	if n := len(s.free); n > 0 {
		i := int(s.free[n-1])
		s.free = s.free[:n-1]
		return i
	}
	i := s.n
	if i>>chunkBits == len(s.chunks) {
		s.chunks = append(s.chunks, new([1 << chunkBits]T))
	}
	s.n++
	return i
}

// release zeroes the value at index i and frees the index.
func (s *chunked[T]) release(i int) {
	var zero T
	*s.at(i) = zero
	s.free = append(s.free, int32(i))
}

// inUse returns the number of indexes in use.
func (s *chunked[T]) inUse() int { return s.n - len(s.free) }
