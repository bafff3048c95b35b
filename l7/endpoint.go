package l7

import "net/netip"

// endpointKey identifies a server endpoint for the inference cache.
type endpointKey struct {
	addr      netip.Addr
	port      uint16
	transport Transport
}

// endpointEntry is what inference remembers about a server endpoint.
type endpointEntry struct {
	key        endpointKey
	dec        int32     // decoder index, -1 unknown
	failures   uint32    // failed inference rounds since the last back-off
	offUntil   int64     // no inference before this time (unix ns)
	avoid      uint64    // decoders (bit i: index i < 64) abandoned on this endpoint's flows
	avoidUntil int64     // avoid applies before this time (unix ns)
	errDec     int32     // the decoder errs counts for, -1 none
	errs       [2]uint16 // parse errors per direction of flows that decoded nothing in it (errDec)
	prev, next int32     // LRU list, most recent at head
}

// endpointCache is a bounded LRU of endpoints. Entries live in one slice and
// are linked by index, so lookups and updates do not allocate once the slice
// and map have grown.
type endpointCache struct {
	idx        map[endpointKey]int32
	ents       []endpointEntry
	head, tail int32
	max        int
}

func newEndpointCache(max int) *endpointCache {
	return &endpointCache{idx: make(map[endpointKey]int32), head: -1, tail: -1, max: max}
}

// get returns the entry for k (marking it recent), or nil. The pointer is
// valid until the next put.
func (c *endpointCache) get(k endpointKey) *endpointEntry {
	i, ok := c.idx[k]
	if !ok {
		return nil
	}
	c.touch(i)
	return &c.ents[i]
}

// put returns the entry for k, creating it (and evicting the least recent
// entry when full). The pointer is valid until the next put.
func (c *endpointCache) put(k endpointKey) *endpointEntry {
	if i, ok := c.idx[k]; ok {
		c.touch(i)
		return &c.ents[i]
	}
	var i int32
	if len(c.ents) < c.max {
		c.ents = append(c.ents, endpointEntry{})
		i = int32(len(c.ents) - 1)
	} else {
		i = c.tail
		c.unlink(i)
		delete(c.idx, c.ents[i].key)
	}
	c.ents[i] = endpointEntry{key: k, dec: -1, errDec: -1, prev: -1, next: -1}
	c.idx[k] = i
	c.pushFront(i)
	return &c.ents[i]
}

func (c *endpointCache) len() int { return len(c.idx) }

func (c *endpointCache) touch(i int32) {
	if c.head == i {
		return
	}
	c.unlink(i)
	c.pushFront(i)
}

func (c *endpointCache) unlink(i int32) {
	e := &c.ents[i]
	if e.prev >= 0 {
		c.ents[e.prev].next = e.next
	} else {
		c.head = e.next
	}
	if e.next >= 0 {
		c.ents[e.next].prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (c *endpointCache) pushFront(i int32) {
	e := &c.ents[i]
	e.prev = -1
	e.next = c.head
	if c.head >= 0 {
		c.ents[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}
