package flow

import (
	"unsafe"

	"github.com/metaflow-go/metaflow/internal/prefetch"
)

// Expiry: each live flow sits in the LRU list of its timeout class; time
// advancing closes the idle heads of the lists.

// listAdd appends f to the tail of its class list.
func (t *Table) listAdd(f *Flow) {
	l := &t.lists[f.class]
	r := f.slot + 1
	k := t.link(f.slot)
	k.next = nilSlot
	k.prev = l.tail
	if l.tail != nilSlot {
		t.link(l.tail - 1).next = r
	} else {
		l.head = r
	}
	l.tail = r
}

func (t *Table) listRemove(f *Flow) {
	l := &t.lists[f.class]
	k := t.link(f.slot)
	if k.prev != nilSlot {
		t.link(k.prev - 1).next = k.next
	} else {
		l.head = k.next
	}
	if k.next != nilSlot {
		t.link(k.next - 1).prev = k.prev
	} else {
		l.tail = k.prev
	}
	k.prev, k.next = nilSlot, nilSlot
}

// prefetchLinks asks for the links touch will rewrite for the flow in
// slot, its neighbours' (reading its own), so that they are loading while
// the flow is updated.
func (t *Table) prefetchLinks(slot uint32) {
	k := *t.link(slot)
	if k.prev != nilSlot {
		prefetch.Line(uintptr(unsafe.Pointer(t.link(k.prev - 1))))
	}
	if k.next != nilSlot {
		prefetch.Line(uintptr(unsafe.Pointer(t.link(k.next - 1))))
	}
}

// prefetchTCP asks for f's TCP state, if it has one (f.tcp tells where).
func (t *Table) prefetchTCP(f *Flow) {
	if f.tcp != nilSlot {
		prefetch.Lines(unsafe.Pointer(t.tcpAt(f.tcp-1)), unsafe.Sizeof(tcpState{}))
	}
}

// prefetchExpiry asks for what closing the flows after h in its list
// will read, as h is closed: the next flow is likely the next to expire,
// and its entry, last touched a timeout ago, is cold. For the flow after
// h, whose Flow was asked for at the previous step, its index entry and
// TCP state; for the one after it, its Flow and link. It returns the next
// flow (slot+1, nilSlot for none) and its key's hash, which its own close
// needs again.
func (t *Table) prefetchExpiry(h uint32) (next, hash uint32) {
	n1 := t.link(h - 1).next
	if n1 == nilSlot {
		return nilSlot, 0
	}
	f1 := t.ref(n1)
	hash = f1.key.hash(t.hseed)
	prefetch.Line(uintptr(unsafe.Pointer(&t.index[uint64(hash)&t.mask])))
	t.prefetchTCP(f1)
	if n2 := t.link(n1 - 1).next; n2 != nilSlot {
		prefetch.Lines(unsafe.Pointer(t.ref(n2)), unsafe.Sizeof(Flow{}))
		prefetch.Line(uintptr(unsafe.Pointer(t.link(n2 - 1))))
	}
	return n1, hash
}

// touch moves f to the tail of the list of class c.
func (t *Table) touch(f *Flow, c uint8) {
	if f.class == c && t.lists[c].tail == f.slot+1 {
		return
	}
	t.listRemove(f)
	f.class = c
	t.listAdd(f)
}

// advance moves packet time to now, closing idle flows and emitting
// snapshots that fall due.
func (t *Table) advance(now int64) {
	t.now = now
	if t.stats.ActiveFlows > 0 {
		t.expire(now)
	}
	if iv := int64(t.cfg.SnapshotInterval); iv > 0 {
		if t.nextSnap == 0 {
			t.nextSnap = now - now%iv + iv
		} else if now >= t.nextSnap {
			t.snapshot()
			t.nextSnap = now - now%iv + iv
		}
	}
}

// expire closes flows whose last packet is older than their timeout.
func (t *Table) expire(now int64) {
	for c := uint8(0); c < numClasses; c++ {
		to := t.timeouts[c]
		hashed, hash := uint32(nilSlot), uint32(0) // the flow prefetchExpiry hashed last
		for {
			h := t.lists[c].head
			if h == nilSlot {
				break
			}
			f := t.ref(h)
			if now-f.end < to {
				break
			}
			fh := hash
			if h != hashed {
				fh = f.key.hash(t.hseed)
			}
			hashed, hash = t.prefetchExpiry(h)
			t.close(f, t.indexFind(f, fh), f.closeType())
		}
	}
}
