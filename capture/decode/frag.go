package decode

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// fragment handles one IPv4 or IPv6 fragment whose fragmentable part is
// b[off:end] at byte offset foff of the datagram. ip is the offset of the
// IP header; proto the protocol announced by this fragment.
func (d *Decoder) fragment(b []byte, ip, off, end, foff int, more bool, proto uint8, m *Meta, depth int) error {
	d.stats.FragSeen++
	m.IsFragment = true
	m.FragOffset = uint16(foff)
	if d.reasm == nil {
		if foff == 0 {
			return d.transport(b, ip, off, end, proto, m, depth)
		}
		return nil
	}
	if end > len(b) {
		// Captured short: its bytes are unknown, so the datagram can never
		// be completed from this capture.
		d.stats.FragDropped++
		m.Truncated = true
		return nil
	}
	k := fragKey{src: m.Src, dst: m.Dst, id: m.IPID}
	if m.IPVersion == 4 {
		k.proto = proto // IPv6 datagrams are identified without it
	}
	buf, first, ok := d.reasm.add(k, foff, more, b[off:end], proto, m.Timestamp, &d.stats)
	if !ok {
		return nil
	}
	d.stats.FragReassembled++
	m.Reassembled = true
	m.IPLen = off - ip + len(buf)
	d.lim = len(buf)
	return d.transport(buf, 0, 0, len(buf), first, m, depth)
}

// fragKey identifies a datagram in reassembly (RFC 791, RFC 8200).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8 // IPv4 only
}

// fragEntry is one datagram in reassembly. Its buffer and bitmap are
// allocated on first use and kept for the next datagram that takes the
// entry, so a warm reassembler does not allocate.
type fragEntry struct {
	key   fragKey
	born  int64    // packet time of the first fragment seen
	buf   []byte   // the datagram's fragmentable part, by offset
	have  []uint64 // bitmap of the 8-byte blocks received
	got   int      // blocks received
	hi    int      // bitmap words touched, to clear them on reuse
	total int      // datagram length, once the last fragment is seen; else -1
	proto uint8    // protocol from the first fragment
	first bool     // the first fragment (offset 0) was seen

	hnext        int32 // hash chain, or free list
	older, newer int32 // age list
}

// reassembler holds datagrams in reassembly: a fixed table of entries, a
// chained hash index and a list by age for expiry and eviction.
type reassembler struct {
	entries []fragEntry
	heads   []int32 // hash buckets, -1 when empty
	mask    uint64
	seed    uint64
	free    int32 // free entries, chained by hnext
	oldest  int32
	newest  int32
	n       int // entries in use
	maxSize int
	timeout int64
	out     []byte // the last completed datagram, returned to the caller
}

func newReassembler(cfg Config) *reassembler {
	n := cfg.MaxDatagrams
	if n <= 0 {
		n = defaultMaxDatagrams
	}
	n = min(n, 1<<20)
	size := cfg.MaxDatagramSize
	if size <= 0 {
		size = defaultMaxDatagramSize
	}
	size = min(size, 1<<20)
	to := cfg.FragmentTimeout
	if to <= 0 {
		to = defaultFragTimeout
	}
	nb := 1 << bits.Len(uint(n)) // buckets: a power of two above n
	r := &reassembler{
		entries: make([]fragEntry, n),
		heads:   make([]int32, nb),
		mask:    uint64(nb - 1),
		seed:    uint64(time.Now().UnixNano()) | 1,
		oldest:  -1,
		newest:  -1,
		maxSize: size,
		timeout: int64(to),
	}
	for i := range r.heads {
		r.heads[i] = -1
	}
	for i := range r.entries {
		r.entries[i].hnext = int32(i + 1)
	}
	r.entries[n-1].hnext = -1
	return r
}

func (r *reassembler) hash(k *fragKey) uint64 {
	s, t := k.src.As16(), k.dst.As16()
	h := r.seed
	for _, v := range [...]uint64{
		binary.LittleEndian.Uint64(s[:8]), binary.LittleEndian.Uint64(s[8:]),
		binary.LittleEndian.Uint64(t[:8]), binary.LittleEndian.Uint64(t[8:]),
		uint64(k.id)<<8 | uint64(k.proto),
	} {
		h ^= v
		h *= 0x9E3779B97F4A7C15
		h ^= h >> 29
	}
	return h & r.mask
}

// add stores one fragment. When it completes its datagram, add returns the
// datagram (valid until the next add), the protocol of its first fragment
// and true.
func (r *reassembler) add(k fragKey, foff int, more bool, data []byte, proto uint8, now int64, st *Stats) ([]byte, uint8, bool) {
	fend := foff + len(data)
	if fend > r.maxSize || (more && len(data)%8 != 0) || (more && len(data) == 0) {
		// Too large, or a non-final fragment that is not a whole number
		// of blocks: it can never fit.
		r.drop(k, st)
		return nil, 0, false
	}
	h := r.hash(&k)
	i := r.heads[h]
	for i >= 0 && r.entries[i].key != k {
		i = r.entries[i].hnext
	}
	if i < 0 {
		i = r.alloc(k, h, now, st)
	}
	e := &r.entries[i]
	if e.total >= 0 && fend > e.total || !more && (e.total >= 0 && fend != e.total || e.hi > 0 && r.beyond(e, fend)) {
		// Data past the end, or two different ends: inconsistent.
		r.remove(i)
		st.FragDropped++
		return nil, 0, false
	}
	if !more {
		e.total = fend
	}
	if foff == 0 {
		e.first = true
		e.proto = proto
	}
	if cap(e.buf) < fend {
		nb := make([]byte, len(e.buf), min(max(2048, 1<<bits.Len(uint(fend-1))), r.maxSize))
		copy(nb, e.buf)
		e.buf = nb
	}
	if len(e.buf) < fend {
		e.buf = e.buf[:fend]
	}
	copy(e.buf[foff:], data)
	if e.have == nil {
		e.have = make([]uint64, ((r.maxSize+7)/8+63)/64)
	}
	for blk := foff / 8; blk < (fend+7)/8; blk++ {
		w, bit := blk/64, uint64(1)<<(blk%64)
		if e.have[w]&bit == 0 {
			e.have[w] |= bit
			e.got++
		}
		e.hi = max(e.hi, w+1)
	}
	if e.total < 0 || !e.first || e.got != (e.total+7)/8 {
		return nil, 0, false
	}
	// Complete: hand the buffer out and keep the previous output buffer in
	// the entry for its next datagram.
	total, p := e.total, e.proto
	r.out, e.buf = e.buf, r.out[:0]
	r.remove(i)
	return r.out[:total], p, true
}

// beyond reports whether e holds any block at or past byte offset end.
func (r *reassembler) beyond(e *fragEntry, end int) bool {
	blk := (end + 7) / 8
	w := blk / 64
	if w < e.hi && e.have[w]>>(blk%64) != 0 {
		return true
	}
	for w++; w < e.hi; w++ {
		if e.have[w] != 0 {
			return true
		}
	}
	return false
}

// drop removes the datagram k, if held, and counts one drop.
func (r *reassembler) drop(k fragKey, st *Stats) {
	st.FragDropped++
	h := r.hash(&k)
	for i := r.heads[h]; i >= 0; i = r.entries[i].hnext {
		if r.entries[i].key == k {
			r.remove(i)
			return
		}
	}
}

// alloc takes a free entry for k, evicting the oldest datagram when full.
func (r *reassembler) alloc(k fragKey, h uint64, now int64, st *Stats) int32 {
	if r.free < 0 {
		r.remove(r.oldest)
		st.FragDropped++
	}
	i := r.free
	e := &r.entries[i]
	r.free = e.hnext
	clear(e.have[:e.hi])
	*e = fragEntry{
		key: k, born: now, buf: e.buf[:0], have: e.have, total: -1,
		hnext: r.heads[h], older: r.newest, newer: -1,
	}
	r.heads[h] = i
	if r.newest >= 0 {
		r.entries[r.newest].newer = i
	} else {
		r.oldest = i
	}
	r.newest = i
	r.n++
	return i
}

// remove unlinks entry i from its hash chain and the age list and frees it.
func (r *reassembler) remove(i int32) {
	e := &r.entries[i]
	h := r.hash(&e.key)
	if r.heads[h] == i {
		r.heads[h] = e.hnext
	} else {
		j := r.heads[h]
		for r.entries[j].hnext != i {
			j = r.entries[j].hnext
		}
		r.entries[j].hnext = e.hnext
	}
	if e.older >= 0 {
		r.entries[e.older].newer = e.newer
	} else {
		r.oldest = e.newer
	}
	if e.newer >= 0 {
		r.entries[e.newer].older = e.older
	} else {
		r.newest = e.older
	}
	e.hnext = r.free
	r.free = i
	r.n--
}

// expire drops the datagrams older than the timeout at packet time now.
func (r *reassembler) expire(now int64, st *Stats) {
	for r.oldest >= 0 && now-r.entries[r.oldest].born > r.timeout {
		r.remove(r.oldest)
		st.FragExpired++
	}
}
