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

// table4 is the IPv4 table of one VPC: the spans, and a multibit trie of
// stride 8 over them whose entries each name the few spans (at most
// leafSpans) that meet their bucket, or a child node for a denser bucket.
// Nodes exist only where prefixes are dense, so a table is small for
// prefixes spread over the address space and for prefixes packed in one
// /8 alike, and a lookup reads one to four node entries and one or two
// cache lines of spans.
type table4 struct {
	spans []span4
	nodes [][256]uint32 // nodes[0] is the root, over the top 8 bits
}

// A node entry is childFlag | a child node's index; or directFlag | the
// value, when one span covers the whole bucket; or else a leaf, the index
// of the first span that meets its bucket.
const (
	childFlag  = 1 << 31
	directFlag = 1 << 30
	leafSpans  = 16
)

func newTable4(sp []span) table4 {
	// The spans are preceded by leafSpans-1 copies of the first, so that
	// every leaf's fixed window of leafSpans spans lies in the slice.
	t := table4{spans: make([]span4, leafSpans-1+len(sp))}
	for i := range leafSpans - 1 {
		t.spans[i] = span4{0, sp[0].val}
	}
	for i, s := range sp {
		t.spans[leafSpans-1+i] = span4{uint32(s.start.lo), s.val}
	}
	t.node(0, 24)
	return t
}

// node builds the node over the 2^(shift+8) addresses from base and
// returns its index.
func (t *table4) node(base uint32, shift uint8) uint32 {
	id := uint32(len(t.nodes))
	t.nodes = append(t.nodes, [256]uint32{})
	s := t.spans
	// last returns the index of the last span starting at or before a.
	last := func(a uint64) int {
		lo, hi := 0, len(s)-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if uint64(s[mid].start) <= a {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo
	}
	for k := range 256 {
		b0 := uint64(base) + uint64(k)<<shift
		b1 := b0 + 1<<shift - 1
		i, j := last(b0), last(b1)
		if j-i+1 > leafSpans && shift > 0 {
			c := t.node(uint32(b0), shift-8)
			t.nodes[id][k] = childFlag | c
			continue
		}
		if i == j && s[i].val < directFlag {
			t.nodes[id][k] = directFlag | s[i].val
			continue
		}
		t.nodes[id][k] = uint32(i)
	}
	return id
}

// lookup returns the value of the longest prefix containing a, 0 for none.
func (t *table4) lookup(a uint32) uint32 {
	e := t.nodes[0][a>>24]
	for shift := 16; e&childFlag != 0; shift -= 8 {
		e = t.nodes[e&^childFlag][(a>>shift)&255]
	}
	if e&directFlag != 0 {
		return e &^ directFlag
	}
	// The answer is the last span starting at or before a, among the at
	// most leafSpans from the entry's first; every span before it starts at
	// or before a too and every span after it, after a. So it lies in any
	// window of leafSpans spans that starts at or before the entry's first
	// and holds its last.
	w := int(e)
	if m := len(t.spans) - leafSpans; w > m {
		w = m
	}
	win := (*[leafSpans]span4)(t.spans[w : w+leafSpans])
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

// vpcIndex maps VPC ids to table indexes: open addressing, linear probing,
// a power-of-two table at most half full, key and index side by side.
type vpcIndex struct {
	slots []vpcSlot
	shift uint8
}

type vpcSlot struct {
	key, idx int32 // idx -1: empty slot
}

func newVPCIndex(ids []int32) vpcIndex {
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
		v.slots[h] = vpcSlot{id, int32(i)}
	}
	return v
}

func (v *vpcIndex) hash(id int32) uint32 { return (uint32(id) * 0x9E3779B9) >> v.shift }

// find returns the index of VPC id, or -1.
func (v *vpcIndex) find(id int32) int32 {
	mask := uint32(len(v.slots) - 1)
	for h := v.hash(id); ; h = (h + 1) & mask {
		sl := v.slots[h&mask]
		if sl.idx < 0 || sl.key == id {
			return sl.idx
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
