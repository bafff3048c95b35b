package l7

// streamSink receives the ordered output of a reassembler.
type streamSink interface {
	// data delivers contiguous bytes starting at TCP sequence seq. b is
	// valid only during the call.
	data(ts int64, seq uint32, b []byte)
	// gap reports that n bytes starting at seq will never be delivered.
	gap(ts int64, seq uint32, n int)
}

// reasmEnv is what the reassemblers of one engine share.
type reasmEnv struct {
	pool    *bufPool
	maxDir  int   // byte budget of buffered out-of-order data per direction
	timeout int64 // ns an out-of-order segment waits for its hole to fill
	stats   *Stats
}

// oooSegment is a buffered out-of-order segment.
type oooSegment struct {
	seq  uint32
	ts   int64
	data []byte // from the pool
}

// reassembler orders the TCP segments of one direction of a connection. Its
// zero value is ready: it starts at the SYN when it sees one, otherwise at
// the first segment with payload (joining mid-stream). Sequence numbers are
// compared modulo 2^32 relative to the next expected byte.
type reassembler struct {
	started bool
	next    uint32       // sequence number of the next byte to deliver
	ooo     []oooSegment // buffered segments, sorted by sequence number
	held    int          // what the buffers in ooo count against the budget (oooCost)
}

// oooMinCost is the least a buffered segment counts against
// reasmEnv.maxDir, whatever its buffer's capacity (16 bytes up): it bounds
// the segments a direction holds, and their entries in ooo, to maxDir/64.
const oooMinCost = 64

// oooCost returns what a buffered segment whose buffer has capacity n
// counts against reasmEnv.maxDir.
func oooCost(n int) int { return max(n, oooMinCost) }

// syn records the initial sequence number of the direction.
func (r *reassembler) syn(seq uint32) {
	if !r.started {
		r.started = true
		r.next = seq + 1
	}
}

// rel returns seq relative to the next expected byte.
func (r *reassembler) rel(seq uint32) int64 { return int64(int32(seq - r.next)) }

// segment takes one segment's payload.
func (r *reassembler) segment(env *reasmEnv, s streamSink, ts int64, seq uint32, p []byte) {
	if len(p) == 0 {
		return
	}
	if !r.started {
		r.started = true
		r.next = seq
	}
	if len(r.ooo) > 0 && ts-r.ooo[0].ts > env.timeout {
		// The hole before the oldest buffered segment has waited too long:
		// the bytes were lost before the capture point.
		r.skipHole(env, s, ts)
	}
	rel := r.rel(seq)
	if rel <= 0 {
		r.inOrder(env, s, ts, seq, p, rel)
		return
	}
	// Out of order: buffer within the budgets, skipping holes to make room.
	for {
		if r.holds(seq, len(p)) {
			env.stats.DupBytes += uint64(len(p))
			return
		}
		if r.held+oooCost(classSize(len(p))) <= env.maxDir {
			if b := env.pool.get(len(p)); b != nil {
				r.insert(oooSegment{seq: seq, ts: ts, data: append(b, p...)})
				env.stats.OutOfOrder++
				return
			}
		}
		env.stats.BudgetGaps++
		if len(r.ooo) == 0 {
			// Nothing buffered: jump straight to this segment.
			r.reportGap(env, s, ts, int(rel))
			r.next = seq
			r.inOrder(env, s, ts, seq, p, 0)
			return
		}
		r.skipHole(env, s, ts)
		if rel = r.rel(seq); rel <= 0 {
			r.inOrder(env, s, ts, seq, p, rel)
			return
		}
	}
}

// inOrder delivers a segment that starts at or before the next expected
// byte (rel <= 0), trimming what was already delivered.
func (r *reassembler) inOrder(env *reasmEnv, s streamSink, ts int64, seq uint32, p []byte, rel int64) {
	if rel+int64(len(p)) <= 0 {
		env.stats.DupBytes += uint64(len(p))
		return
	}
	if rel < 0 {
		env.stats.DupBytes += uint64(-rel)
		p = p[-rel:]
		seq = r.next
	}
	r.next = seq + uint32(len(p))
	s.data(ts, seq, p)
	if len(r.ooo) > 0 {
		r.drain(env, s)
	}
}

// holds reports whether buffered data already covers [seq, seq+n).
func (r *reassembler) holds(seq uint32, n int) bool {
	rel := r.rel(seq)
	for i := range r.ooo {
		o := &r.ooo[i]
		orel := r.rel(o.seq)
		if orel > rel {
			return false
		}
		if orel+int64(len(o.data)) >= rel+int64(n) {
			return true
		}
	}
	return false
}

// insert adds a segment keeping ooo sorted (segments mostly arrive in
// ascending order, so the search starts at the end).
func (r *reassembler) insert(o oooSegment) {
	rel := r.rel(o.seq)
	i := len(r.ooo)
	for i > 0 && r.rel(r.ooo[i-1].seq) > rel {
		i--
	}
	r.ooo = append(r.ooo, oooSegment{})
	copy(r.ooo[i+1:], r.ooo[i:])
	r.ooo[i] = o
	r.held += oooCost(cap(o.data))
}

// drain delivers the buffered segments that have become contiguous.
func (r *reassembler) drain(env *reasmEnv, s streamSink) {
	for len(r.ooo) > 0 {
		o := r.ooo[0]
		rel := r.rel(o.seq)
		if rel > 0 {
			return
		}
		copy(r.ooo, r.ooo[1:])
		r.ooo[len(r.ooo)-1] = oooSegment{}
		r.ooo = r.ooo[:len(r.ooo)-1]
		r.held -= oooCost(cap(o.data))
		d := o.data
		if rel+int64(len(d)) <= 0 {
			env.stats.DupBytes += uint64(len(d))
		} else {
			if rel < 0 {
				env.stats.DupBytes += uint64(-rel)
				d = d[-rel:]
			}
			seq := r.next
			r.next += uint32(len(d))
			s.data(o.ts, seq, d)
		}
		env.pool.put(o.data)
	}
}

// skipHole gives up on the bytes missing before the first buffered segment,
// reports them as a gap and delivers what has become contiguous.
func (r *reassembler) skipHole(env *reasmEnv, s streamSink, ts int64) {
	if len(r.ooo) == 0 {
		return
	}
	n := int(r.rel(r.ooo[0].seq))
	if n > 0 {
		r.reportGap(env, s, ts, n)
		r.next = r.ooo[0].seq
	}
	r.drain(env, s)
}

func (r *reassembler) reportGap(env *reasmEnv, s streamSink, ts int64, n int) {
	env.stats.Gaps++
	env.stats.GapBytes += uint64(n)
	seq := r.next
	s.gap(ts, seq, n)
}

// acked skips the holes that the peer has acknowledged: the receiver got
// those bytes, so the capture missed them and they will not come.
func (r *reassembler) acked(env *reasmEnv, s streamSink, ts int64, ack uint32) {
	for len(r.ooo) > 0 && r.rel(ack) >= r.rel(r.ooo[0].seq) {
		r.skipHole(env, s, ts)
	}
}

// flush delivers everything buffered, reporting the holes as gaps (end of
// the connection).
func (r *reassembler) flush(env *reasmEnv, s streamSink, ts int64) {
	for len(r.ooo) > 0 {
		r.skipHole(env, s, ts)
	}
}

// release returns the buffers without delivering them.
func (r *reassembler) release(env *reasmEnv) {
	for i := range r.ooo {
		env.stats.DiscardedBytes += uint64(len(r.ooo[i].data))
		env.pool.put(r.ooo[i].data)
		r.ooo[i] = oooSegment{}
	}
	r.ooo = r.ooo[:0]
	r.held = 0
}

// reset makes r ready for a new connection, keeping its slice capacity.
func (r *reassembler) reset(env *reasmEnv) {
	r.release(env)
	r.started = false
	r.next = 0
}
