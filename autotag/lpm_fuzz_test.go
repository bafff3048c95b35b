package autotag

import (
	"net/netip"
	"strconv"
	"testing"
)

// FuzzSnapshot_Lookup builds snapshots from fuzzed prefixes (6 bytes each:
// a VPC bit, a length and an IPv4 address, or with the length's top bit
// an IPv6 one in fd00::/8 spread from the same bytes) and checks lookups
// of fuzzed addresses against brute force.
func FuzzSnapshot_Lookup(f *testing.F) {
	f.Add([]byte{0, 8, 10, 0, 0, 0, 0, 32, 10, 1, 2, 3}, []byte{10, 1, 2, 3, 10, 1, 2, 4})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 32, 255, 255, 255, 255, 0, 0x80 | 120, 1, 2, 3, 4}, []byte{255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, pfx, queries []byte) {
		var es []AddrEntry
		for i := 0; i+6 <= len(pfx) && len(es) < 200; i += 6 {
			b := pfx[i : i+6]
			vpc := int32(b[0] & 1)
			var p netip.Prefix
			if b[1]&0x80 != 0 {
				var x [16]byte
				x[0] = 0xfd
				copy(x[12:], b[2:6])
				p = netip.PrefixFrom(netip.AddrFrom16(x), int(b[1]&0x7f)%129)
			} else {
				p = netip.PrefixFrom(netip.AddrFrom4([4]byte(b[2:6])), int(b[1])%33)
			}
			es = append(es, AddrEntry{VPC: vpc, Prefix: p, Resource: Resource{Pod: "p" + strconv.Itoa(i/6), AZ: "az" + strconv.Itoa(int(b[0]>>1)%3)}})
		}
		s := build([]*Entries{{Addrs: es}})
		check := func(vpc int32, a netip.Addr) {
			want, ok := brute(es, vpc, a)
			got := s.Lookup(vpc, a)
			if ok != (got != nil) || (ok && *got != want) {
				t.Fatalf("Lookup(%d, %v) = %+v, want %+v (%v)", vpc, a, got, want, ok)
			}
		}
		for i := 0; i+4 <= len(queries); i += 4 {
			q := [4]byte(queries[i : i+4])
			check(int32(q[0]&1), netip.AddrFrom4(q))
			var x [16]byte
			x[0] = 0xfd
			copy(x[12:], q[:])
			check(int32(q[0]&1), netip.AddrFrom16(x))
		}
		// The prefixes' own edges.
		for _, e := range es {
			check(e.VPC, e.Prefix.Masked().Addr())
		}
	})
}
