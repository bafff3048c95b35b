package l7

import "net/netip"

// endpointKey identifies a server endpoint for the inference cache. It
// holds no pointer (a netip.Addr does, for its zone, which captured
// addresses never have), so the map hashes 20 bytes and the GC skips it.
type endpointKey struct {
	addr      [16]byte // the address in its 16-byte form
	port      uint16
	v4        bool // addr is an IPv4 address (not an IPv4-mapped IPv6 one)
	transport Transport
}

func endpointOf(ap netip.AddrPort, t Transport) endpointKey {
	a := ap.Addr()
	return endpointKey{addr: a.As16(), port: ap.Port(), v4: a.Is4(), transport: t}
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
	used       bool      // read or written since the clock hand last passed
}

// endpointCache is a bounded cache of endpoints that evicts by the CLOCK
// rule (second chance): an entry used since the hand last passed it is
// spared once. It approximates least-recently-used eviction without
// relinking a list at every lookup (two entries' worth of cache misses
// each, when many endpoints are in use). Entries live in one slice, so
// lookups and updates do not allocate once the slice and map have grown.
type endpointCache struct {
	idx  map[endpointKey]int32
	ents []endpointEntry
	hand int32
	max  int
}

func newEndpointCache(max int) *endpointCache {
	return &endpointCache{idx: make(map[endpointKey]int32), max: max}
}

// get returns the entry for k (marking it used), or nil. The pointer is
// valid until the next put.
func (c *endpointCache) get(k endpointKey) *endpointEntry {
	e, _ := c.getAt(k, -1)
	return e
}

// getAt is get for a caller that may know where k's entry is: at, an index
// returned earlier for k (-1: none), is tried before the map. It also
// returns the entry's index (-1 with nil). An entry's key is always one the
// map names at its index, so a matching key at at is k's entry.
func (c *endpointCache) getAt(k endpointKey, at int32) (*endpointEntry, int32) {
	i, ok := at, at >= 0 && int(at) < len(c.ents) && c.ents[at].key == k
	if !ok {
		if i, ok = c.idx[k]; !ok {
			return nil, -1
		}
	}
	e := &c.ents[i]
	e.used = true
	return e, i
}

// put returns the entry for k, creating it (and evicting an entry not
// used since the hand last passed it, when full). The pointer is valid
// until the next put.
func (c *endpointCache) put(k endpointKey) *endpointEntry {
	e, _ := c.putAt(k, -1)
	return e
}

// putAt is put with a hint, like getAt, and returns the entry's index.
func (c *endpointCache) putAt(k endpointKey, at int32) (*endpointEntry, int32) {
	if e, i := c.getAt(k, at); e != nil {
		return e, i
	}
	var i int32
	if len(c.ents) < c.max {
		c.ents = append(c.ents, endpointEntry{})
		i = int32(len(c.ents) - 1)
	} else {
		for c.ents[c.hand].used {
			c.ents[c.hand].used = false
			c.hand = (c.hand + 1) % int32(len(c.ents))
		}
		i = c.hand
		c.hand = (c.hand + 1) % int32(len(c.ents))
		delete(c.idx, c.ents[i].key)
	}
	c.ents[i] = endpointEntry{key: k, dec: -1, errDec: -1}
	c.idx[k] = i
	return &c.ents[i], i
}

func (c *endpointCache) len() int { return len(c.idx) }
