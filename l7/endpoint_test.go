package l7

import (
	"net/netip"
	"testing"
)

// TestEndpointCache_Evict: a full cache evicts an entry not used since
// the clock hand last passed it, sparing used ones once; an IPv4 address
// and its IPv4-mapped IPv6 form, and TCP and UDP, are distinct endpoints.
func TestEndpointCache_Evict(t *testing.T) {
	ep := func(s string) endpointKey { return endpointOf(netip.MustParseAddrPort(s), TCP) }
	a, b, c, d := ep("10.0.0.1:80"), ep("10.0.0.2:80"), ep("10.0.0.3:80"), ep("10.0.0.4:80")
	k := newEndpointCache(3)
	for i, key := range []endpointKey{a, b, c} {
		k.put(key).dec = int32(i)
	}
	k.get(a)
	k.put(d).dec = 3 // a is spared once: b goes
	if k.get(b) != nil {
		t.Errorf("b still cached after d's put; want it evicted (a was used)")
	}
	for _, key := range []endpointKey{a, c, d} {
		if k.get(key) == nil {
			t.Errorf("%v evicted", key)
		}
	}
	if k.len() != 3 {
		t.Errorf("len %d, want 3", k.len())
	}
	if e := k.get(a); e == nil || e.dec != 0 {
		t.Errorf("a's entry %+v, want dec 0", e)
	}
	m := newEndpointCache(8)
	m.put(a).dec = 1
	if m.get(endpointOf(netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"), TCP)) != nil {
		t.Errorf("the IPv4-mapped form of a found a's entry")
	}
	if m.get(endpointOf(netip.MustParseAddrPort("10.0.0.1:80"), UDP)) != nil {
		t.Errorf("a over UDP found a's TCP entry")
	}
}

// TestEndpointCache_GetAt: a hint that still holds its key finds the
// entry without the map and marks it used; a hint whose entry was evicted
// and reused for another key, or out of range, falls back to the map.
func TestEndpointCache_GetAt(t *testing.T) {
	ep := func(s string) endpointKey { return endpointOf(netip.MustParseAddrPort(s), TCP) }
	a, b, c := ep("10.0.0.1:80"), ep("10.0.0.2:80"), ep("10.0.0.3:80")
	k := newEndpointCache(2)
	ea, ia := k.putAt(a, -1)
	ea.dec = 1
	_, ib := k.putAt(b, 99)
	if ia == ib || ia < 0 || ib < 0 {
		t.Fatalf("indexes %d, %d", ia, ib)
	}
	k.ents[ia].used = false
	if e, i := k.getAt(a, ia); e == nil || i != ia || e.dec != 1 || !e.used {
		t.Errorf("getAt(a, its index) = %+v, %d", e, i)
	}
	if e, i := k.getAt(a, ib); e == nil || i != ia {
		t.Errorf("getAt(a, b's index) = %+v, %d; want a's entry at %d", e, i, ia)
	}
	// c evicts b (a was used), and takes b's index.
	k.ents[ia].used = true
	k.ents[ib].used = false
	if _, ic := k.putAt(c, ib); ic != ib {
		t.Fatalf("c at %d, want b's index %d", ic, ib)
	}
	if e, i := k.getAt(b, ib); e != nil || i != -1 {
		t.Errorf("getAt(b, its old index) after eviction = %+v, %d; want nil, -1", e, i)
	}
	if e, _ := k.getAt(c, 1000); e == nil || e.key != c {
		t.Errorf("getAt(c, out of range) = %+v", e)
	}
}
