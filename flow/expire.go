package flow

// Expiry: each live flow sits in the LRU list of its timeout class; time
// advancing closes the idle heads of the lists.

// listAdd appends f to the tail of its class list.
func (t *Table) listAdd(f *Flow) {
	l := &t.lists[f.class]
	r := f.slot + 1
	f.next = nilSlot
	f.prev = l.tail
	if l.tail != nilSlot {
		t.ref(l.tail).next = r
	} else {
		l.head = r
	}
	l.tail = r
}

func (t *Table) listRemove(f *Flow) {
	l := &t.lists[f.class]
	if f.prev != nilSlot {
		t.ref(f.prev).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nilSlot {
		t.ref(f.next).prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nilSlot, nilSlot
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
		for {
			h := t.lists[c].head
			if h == nilSlot {
				break
			}
			f := t.ref(h)
			if now-f.end < to {
				break
			}
			t.close(f, t.indexFind(f), f.closeType())
		}
	}
}
