package flow

// Fragments: non-first IP fragments (no ports) are counted to the flow of
// their datagram's first fragment.

import (
	"encoding/binary"

	"github.com/metaflow-go/metaflow/capture/decode"
)

const fragTableSize = 1024

// fragEntry links the IP datagram id of a fragmented datagram to its flow,
// and holds counts of fragments seen before the flow was known.
type fragEntry struct {
	src, dst  [16]byte
	id        uint32
	slot, gen uint32 // flow (slot+1, gen); slot 0 = not known yet
	pendPkts  uint32
	pendBytes uint64
	used      bool
}

func fragSlot(src, dst *[16]byte, id uint32) uint64 {
	h := uint64(id) * 0x9E3779B97F4A7C15
	h ^= binary.LittleEndian.Uint64(src[8:]) + binary.LittleEndian.Uint64(src[:8])*31
	h *= 0x9E3779B97F4A7C15
	h ^= binary.LittleEndian.Uint64(dst[8:]) + binary.LittleEndian.Uint64(dst[:8])*31
	h *= 0x9E3779B97F4A7C15
	return (h >> 40) & (fragTableSize - 1)
}

func (t *Table) fragEntry(src, dst *[16]byte, id uint32) *fragEntry {
	if t.frags == nil {
		t.frags = make([]fragEntry, fragTableSize)
	}
	e := &t.frags[fragSlot(src, dst, id)]
	if e.used && (e.id != id || e.src != *src || e.dst != *dst) {
		// Another datagram took the entry: fragments it never matched are
		// lost.
		t.stats.FragUnmatched += uint64(e.pendPkts)
		*e = fragEntry{}
	}
	if !e.used {
		*e = fragEntry{src: *src, dst: *dst, id: id, used: true}
	}
	return e
}

// fragment accounts a fragment without ports (not the datagram's first,
// or one held for reassembly) to the flow of its datagram.
func (t *Table) fragment(m *decode.Meta) {
	src, dst := m.Src.As16(), m.Dst.As16()
	e := t.fragEntry(&src, &dst, m.IPID)
	if e.slot != nilSlot {
		f := t.ref(e.slot)
		if f.flags&fLive != 0 && f.gen == e.gen {
			t.fragCount(f, src, 1, uint64(m.WireLen), m.Timestamp)
			t.stats.FragMatched++
			t.stats.Counted++
			return
		}
		// The flow ended: the fragment cannot be counted.
		t.stats.FragUnmatched++
		return
	}
	e.pendPkts++
	e.pendBytes += uint64(m.WireLen)
}

// fragCount adds fragments sent from src to f.
func (t *Table) fragCount(f *Flow, src [16]byte, n uint32, bytes uint64, ts int64) {
	fromB := src == f.key.b && src != f.key.a
	d := 0
	if fromB != (f.flags&fClientB != 0) {
		d = 1
	}
	f.pkts[d] += n
	f.peers[d].bytes += bytes
	f.flags |= fSeen0 << d
	if ts > f.end {
		f.end = ts
	}
	c := f.class
	if f.flags&(fSeen0|fSeen1) != fSeen0|fSeen1 && c != clsEstablished {
		c = clsOther
	}
	t.touch(f, c)
}

// fragFirst links an L4-decoded fragment's datagram to its flow f and
// counts the fragments that came before it.
func (t *Table) fragFirst(f *Flow, m *decode.Meta) {
	src, dst := m.Src.As16(), m.Dst.As16()
	e := t.fragEntry(&src, &dst, m.IPID)
	e.slot, e.gen = f.slot+1, f.gen
	if e.pendPkts > 0 {
		t.fragCount(f, src, e.pendPkts, e.pendBytes, m.Timestamp)
		t.stats.FragMatched += uint64(e.pendPkts)
		t.stats.Counted += uint64(e.pendPkts)
		e.pendPkts, e.pendBytes = 0, 0
	}
}
