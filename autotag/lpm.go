package autotag

import (
	"math/bits"
	"net/netip"
	"slices"
)

// The longest-prefix match is a flattened range table: the prefixes of one
// VPC and family, nested as they may be, are cut into disjoint spans that
// each carry the value of the longest prefix covering them, sorted by their
// first address. A lookup finds the last span starting at or before the
// address. For IPv4 a multibit trie of stride 8 narrows that search to a
// window of 16 spans: its entries name the first span meeting their bucket,
// and a bucket that more than 16 spans meet gets a child node. Nodes exist
// only where prefixes are dense, so the trie stays small both for prefixes
// spread over the address space and for prefixes packed into one /8 (a
// cluster's pods and services): with 1,000 prefixes in a VPC it is a
// handful of 1 KiB nodes. A lookup reads one node entry per level (two for
// addresses in a dense /8) and a four-step branch-free binary search of
// the window, two cache lines. IPv6 tables, far fewer entries in practice,
// use a plain binary search over 128-bit starts.
//
// Why not a DIR-24-8 table or a binary trie: DIR-24-8 costs 32 MiB per
// VPC, 3.2 GiB for 100 VPCs; a binary trie costs a dependent load per bit
// and a poptrie is much more code for the same two or three cache misses.
// The flattened spans take at most 2n+1 entries of 8 bytes for n prefixes
// and are built with one sort and one sweep.

// u128 is an address as a 128-bit number; IPv4 addresses use lo only.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) add1() u128 {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}
}

// prefixRange returns the first and last address of p as numbers, and the
// family's largest address.
func prefixRange(p netip.Prefix) (lo, hi, max u128) {
	a := p.Addr()
	n := p.Bits()
	if a.Is4() {
		b := a.As4()
		v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		host := uint64(1)<<(32-n) - 1
		return u128{0, v}, u128{0, v | host}, u128{0, 1<<32 - 1}
	}
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	y := x
	switch {
	case n == 0:
		y = u128{^uint64(0), ^uint64(0)}
	case n < 64:
		y.hi |= ^uint64(0) >> n
		y.lo = ^uint64(0)
	case n < 128:
		y.lo |= ^uint64(0) >> (n - 64)
	}
	return x, y, u128{^uint64(0), ^uint64(0)}
}

// pfx is one prefix being built: its range, length and value.
type pfx struct {
	lo, hi u128
	bits   int
	val    uint32
}

// sortPrefixes orders prefixes by first address, shorter (outer) first.
func sortPrefixes(ps []pfx) {
	slices.SortFunc(ps, func(a, b pfx) int {
		if a.lo != b.lo {
			if a.lo.less(b.lo) {
				return -1
			}
			return 1
		}
		return a.bits - b.bits
	})
}

// span is one interval of a flattened table: from start to the next span's
// start, the value is val (0: no prefix).
type span struct {
	start u128
	val   uint32
}

// flatten cuts sorted, distinct prefixes of one family into disjoint spans;
// the first span starts at 0. max is the family's largest address.
func flatten(ps []pfx, max u128) []span {
	out := make([]span, 1, 2*len(ps)+1)
	emit := func(at u128, val uint32) {
		last := &out[len(out)-1]
		if last.start == at {
			last.val = val
			if len(out) > 1 && out[len(out)-2].val == val {
				out = out[:len(out)-1]
			}
			return
		}
		if last.val != val {
			out = append(out, span{at, val})
		}
	}
	var stack []pfx
	pop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top.hi == max {
			return
		}
		var v uint32
		if len(stack) > 0 {
			v = stack[len(stack)-1].val
		}
		emit(top.hi.add1(), v)
	}
	for _, p := range ps {
		for len(stack) > 0 && stack[len(stack)-1].hi.less(p.lo) {
			pop()
		}
		stack = append(stack, p)
		emit(p.lo, p.val)
	}
	for len(stack) > 0 {
		pop()
	}
	return out
}

// span4 is a span of an IPv4 table.
type span4 struct{ start, val uint32 }

// table4 holds the IPv4 tables of every VPC of a snapshot: their spans,
// one run per VPC, and a multibit trie of stride 8 over each run whose
// entries each name the first of the few spans (at most leafSpans) that
// meet their bucket, or a child node for a denser bucket. Nodes exist only
// where prefixes are dense, so a table is small for prefixes spread over
// the address space and for prefixes packed in one /8 alike. A VPC's root
// node index is kept in its vpcIndex slot, so a lookup goes from the slot
// to one to four node entries and one window of spans.
type table4 struct {
	spans []span4 // each VPC's run, then leafSpans-1 sentinels
	nodes [][256]uint32
}

// A node entry is childFlag | a child node's index; or directFlag | the
// value, when one span covers the whole bucket; or else a leaf, the index
// of the first span that meets its bucket.
const (
	childFlag  = 1 << 31
	directFlag = 1 << 30
	leafSpans  = 16
)

// add appends the spans of one VPC (sp[0] starts at 0) and their trie, and
// returns the root node's index. The run is followed by leafSpans-1
// sentinels that start at the last address and carry the run's last value,
// so that every leaf's fixed window of leafSpans spans lies in the slice
// and a sentinel, when it does start at or before an address, gives the
// right answer.
func (t *table4) add(sp []span) uint32 {
	base := len(t.spans)
	for _, s := range sp {
		t.spans = append(t.spans, span4{uint32(s.start.lo), s.val})
	}
	lastVal := t.spans[len(t.spans)-1].val
	for range leafSpans - 1 {
		t.spans = append(t.spans, span4{^uint32(0), lastVal})
	}
	return t.node(t.spans[base:base+len(sp)], base, 0, 24)
}

// node builds the node over the 2^(shift+8) addresses from lo, for the
// run s whose first span is t.spans[base], and returns its index.
func (t *table4) node(s []span4, base int, lo uint32, shift uint8) uint32 {
	id := uint32(len(t.nodes))
	t.nodes = append(t.nodes, [256]uint32{})
	// last returns the index in s of the last span starting at or before a.
	last := func(a uint64) int {
		l, h := 0, len(s)-1
		for l < h {
			mid := (l + h + 1) / 2
			if uint64(s[mid].start) <= a {
				l = mid
			} else {
				h = mid - 1
			}
		}
		return l
	}
	for k := range 256 {
		b0 := uint64(lo) + uint64(k)<<shift
		b1 := b0 + 1<<shift - 1
		i, j := last(b0), last(b1)
		if j-i+1 > leafSpans && shift > 0 {
			c := t.node(s, base, uint32(b0), shift-8)
			t.nodes[id][k] = childFlag | c
			continue
		}
		if i == j && s[i].val < directFlag {
			t.nodes[id][k] = directFlag | s[i].val
			continue
		}
		t.nodes[id][k] = uint32(base + i)
	}
	return id
}

// lookup returns the value of the longest prefix containing a in the VPC
// whose root node is root, 0 for none.
func (t *table4) lookup(root, a uint32) uint32 {
	e := t.nodes[root][a>>24]
	for shift := 16; e&childFlag != 0; shift -= 8 {
		e = t.nodes[e&^childFlag][(a>>shift)&255]
	}
	if e&directFlag != 0 {
		return e &^ directFlag
	}
	// The answer is the last span starting at or before a, among the at
	// most leafSpans from the entry's: every span before it starts at or
	// before a too, every span after it in the window starts after a (or
	// is a sentinel with the same value).
	win := (*[leafSpans]span4)(t.spans[e : e+leafSpans])
	// A branch-free binary search of the window: win[0] starts at or
	// before a; each step moves up when the probed span does too
	// (a - start does not wrap).
	x := uint64(a)
	b := uint64(0)
	b += ((x-uint64(win[b+8].start))>>63 ^ 1) << 3
	b += ((x-uint64(win[b+4].start))>>63 ^ 1) << 2
	b += ((x-uint64(win[b+2].start))>>63 ^ 1) << 1
	b += (x-uint64(win[b+1].start))>>63 ^ 1
	return win[b].val
}

// table6 is the IPv6 table of one VPC.
type table6 struct {
	spans []span
}

func (t *table6) lookup(a u128) uint32 {
	s := t.spans
	if len(s) == 0 {
		return 0
	}
	i, n := 0, len(s)
	for n > 1 {
		half := n >> 1
		if !a.less(s[i+half].start) {
			i += half
		}
		n -= half
	}
	return s[i].val
}

// vpcIndex maps VPC ids to their index and IPv4 root node: open
// addressing, linear probing, a power-of-two table at most half full, the
// key and what it maps to side by side.
type vpcIndex struct {
	slots []vpcSlot
	shift uint8
}

type vpcSlot struct {
	key, idx int32 // idx -1: empty slot
	root4    uint32
}

func newVPCIndex(ids []int32, roots []uint32) vpcIndex {
	b := bits.Len(uint(2*len(ids))) + 1
	v := vpcIndex{slots: make([]vpcSlot, 1<<b), shift: uint8(32 - b)}
	for i := range v.slots {
		v.slots[i].idx = -1
	}
	for i, id := range ids {
		h := v.hash(id)
		for v.slots[h].idx >= 0 {
			h = (h + 1) & uint32(len(v.slots)-1)
		}
		v.slots[h] = vpcSlot{id, int32(i), roots[i]}
	}
	return v
}

func (v *vpcIndex) hash(id int32) uint32 { return (uint32(id) * 0x9E3779B9) >> v.shift }

// find returns the slot of VPC id; its idx is -1 when there is none.
func (v *vpcIndex) find(id int32) vpcSlot {
	mask := uint32(len(v.slots) - 1)
	for h := v.hash(id); ; h = (h + 1) & mask {
		sl := v.slots[h&mask]
		if sl.idx < 0 || sl.key == id {
			return sl
		}
	}
}

// addrKey returns a as a number and whether it is IPv4 (IPv4-mapped IPv6
// addresses count as IPv4).
func addrKey(a netip.Addr) (u128, bool) {
	if a.Is4() || a.Is4In6() {
		b := a.As4()
		return u128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}, true
	}
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x, false
}
