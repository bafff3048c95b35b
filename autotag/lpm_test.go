package autotag

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
)

// brute returns the resource of the longest prefix of vpc holding a, by
// scanning every entry, with fields inherited from the enclosing prefixes.
func brute(es []AddrEntry, vpc int32, a netip.Addr) (Resource, bool) {
	a = a.Unmap()
	var hits []AddrEntry
	for _, e := range es {
		if e.VPC == vpc && e.Prefix.Masked().Contains(a) {
			hits = append(hits, e)
		}
	}
	if len(hits) == 0 {
		return Resource{}, false
	}
	// Longest first; equal prefixes keep entry order (first wins).
	var r Resource
	for bitsLen := 128; bitsLen >= 0; bitsLen-- {
		for _, h := range hits {
			if h.Prefix.Bits() == bitsLen {
				r.fillFrom(&h.Resource)
			}
		}
	}
	return r, true
}

func randPrefix(rng *rand.Rand, v6 bool, base netip.Addr) netip.Prefix {
	if v6 {
		b := base.As16()
		for i := 8; i < 16; i++ {
			b[i] = byte(rng.IntN(4))
		}
		return netip.PrefixFrom(netip.AddrFrom16(b), 112+rng.IntN(17)).Masked()
	}
	b := base.As4()
	b[2] = byte(rng.IntN(8))
	b[3] = byte(rng.IntN(256))
	return netip.PrefixFrom(netip.AddrFrom4(b), 16+rng.IntN(17)).Masked()
}

func TestSnapshot_LookupMatchesBruteForce(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var es []AddrEntry
		n := 1 + rng.IntN(60)
		for i := 0; i < n; i++ {
			v6 := rng.IntN(4) == 0
			base := netip.MustParseAddr("10.1.0.0")
			if v6 {
				base = netip.MustParseAddr("fd00::")
			}
			r := Resource{Pod: "p" + strconv.Itoa(i)}
			if rng.IntN(2) == 0 {
				r = Resource{Subnet: "s" + strconv.Itoa(i), AZ: "az" + strconv.Itoa(i%3)}
			}
			es = append(es, AddrEntry{VPC: int32(rng.IntN(3)), Prefix: randPrefix(rng, v6, base), Resource: r})
		}
		if rng.IntN(3) == 0 {
			es = append(es, AddrEntry{VPC: 1, Prefix: netip.MustParsePrefix("0.0.0.0/0"), Resource: Resource{Region: "world"}})
		}
		s := build([]*Entries{{Addrs: es}})
		for q := 0; q < 3000; q++ {
			vpc := int32(rng.IntN(4))
			var a netip.Addr
			if rng.IntN(4) == 0 {
				a = randPrefix(rng, true, netip.MustParseAddr("fd00::")).Addr()
				b := a.As16()
				b[15] += byte(rng.IntN(256))
				a = netip.AddrFrom16(b)
			} else {
				b := [4]byte{10, 1, byte(rng.IntN(9)), byte(rng.IntN(256))}
				if rng.IntN(10) == 0 {
					b[0] = byte(rng.IntN(256))
				}
				a = netip.AddrFrom4(b)
			}
			want, ok := brute(es, vpc, a)
			got := s.Lookup(vpc, a)
			if ok != (got != nil) || (ok && *got != want) {
				t.Fatalf("seed %d: Lookup(%d, %v) = %+v, want %+v (found %v); entries %v", seed, vpc, a, got, want, ok, es)
			}
		}
	}
}

func TestSnapshot_LookupEdges(t *testing.T) {
	es := []AddrEntry{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Resource: Resource{Region: "any"}},
		{Prefix: netip.MustParsePrefix("255.255.255.255/32"), Resource: Resource{Pod: "last"}},
		{Prefix: netip.MustParsePrefix("0.0.0.0/32"), Resource: Resource{Pod: "first"}},
		{Prefix: netip.MustParsePrefix("::/0"), Resource: Resource{Region: "any6"}},
		{Prefix: netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), Resource: Resource{Pod: "last6"}},
		{Prefix: netip.MustParsePrefix("::ffff:192.168.0.0/120"), Resource: Resource{Subnet: "mapped"}},
		{Prefix: netip.Prefix{}, Resource: Resource{Pod: "invalid"}},
	}
	s := build([]*Entries{{Addrs: es}})
	for _, tc := range []struct {
		addr string
		want Resource
	}{
		{"0.0.0.0", Resource{Region: "any", Pod: "first"}},
		{"0.0.0.1", Resource{Region: "any"}},
		{"255.255.255.254", Resource{Region: "any"}},
		{"255.255.255.255", Resource{Region: "any", Pod: "last"}},
		{"::ffff:255.255.255.255", Resource{Region: "any", Pod: "last"}},
		{"192.168.0.7", Resource{Region: "any", Subnet: "mapped"}},
		{"::1", Resource{Region: "any6"}},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Resource{Region: "any6", Pod: "last6"}},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			got := s.Lookup(0, netip.MustParseAddr(tc.addr))
			if got == nil || *got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if s.skipped != 1 {
		t.Errorf("skipped %d, want 1", s.skipped)
	}
	if got := s.Lookup(5, netip.MustParseAddr("1.2.3.4")); got != nil {
		t.Errorf("unknown VPC: got %+v", got)
	}
	if got := s.Lookup(0, netip.Addr{}); got != nil {
		t.Errorf("invalid address: got %+v", got)
	}
}

func TestVPCIndex_Find(t *testing.T) {
	ids := []int32{0, 1, -1, 1 << 30, -1 << 31, 77, 78}
	roots := []uint32{10, 11, 12, 13, 14, 15, 16}
	v := newVPCIndex(ids, roots)
	for i, id := range ids {
		if got := v.find(id); got.idx != int32(i) || got.root4 != roots[i] {
			t.Errorf("find(%d) = %+v, want %d", id, got, i)
		}
	}
	for _, id := range []int32{2, 3, 79, -2} {
		if got := v.find(id); got.idx != -1 {
			t.Errorf("find(%d) = %+v, want -1", id, got)
		}
	}
}

// benchEntries returns n prefixes spread over vpcs VPCs (pods /32, services
// /32, node /32 and subnets /24 and /16 in 10.0.0.0/8 and 172.16.0.0/12, as
// a cluster per VPC would have) and addresses drawn from them at random,
// one in ten outside every prefix.
func benchEntries(n, vpcs, addrs int) ([]AddrEntry, []int32, []netip.Addr) {
	rng := rand.New(rand.NewPCG(1, 2))
	es := make([]AddrEntry, 0, n)
	for i := 0; i < n; i++ {
		vpc := int32(i % vpcs)
		var p netip.Prefix
		switch r := rng.IntN(100); {
		case r < 2:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), 0, 0}), 16)
		case r < 10:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), 0}), 24)
		case r < 15:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + byte(rng.IntN(16)), byte(rng.IntN(256)), byte(rng.IntN(256))}), 32)
		default:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}), 32)
		}
		es = append(es, AddrEntry{VPC: vpc, Prefix: p, Resource: Resource{Pod: "pod-" + strconv.Itoa(i), PodNS: "ns-" + strconv.Itoa(i%50)}})
	}
	qv := make([]int32, addrs)
	qa := make([]netip.Addr, addrs)
	for i := range qa {
		e := es[rng.IntN(len(es))]
		b := e.Prefix.Addr().As4()
		host := uint32(1)<<(32-e.Prefix.Bits()) - 1
		x := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | rng.Uint32()&host
		if rng.IntN(10) == 0 {
			x = rng.Uint32()
		}
		qv[i], qa[i] = e.VPC, netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	return es, qv, qa
}

func TestSnapshot_LookupAllocs(t *testing.T) {
	es, qv, qa := benchEntries(10000, 10, 1000)
	s := build([]*Entries{{Addrs: es}})
	hits := 0
	allocs := testing.AllocsPerRun(10, func() {
		for i := range qa {
			if s.Lookup(qv[i], qa[i]) != nil {
				hits++
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates: %v per run", allocs)
	}
	if hits == 0 {
		t.Fatal("no hits")
	}
}

// BenchmarkMemoryBaseline reads one random 8-byte word per op from an
// array as large as the 100k-prefix snapshot's spans and trie (4 MiB), with
// BenchmarkLookup's loop: the machine's cost of the one cache miss a lookup
// cannot avoid, to read BenchmarkLookup's figures against on a shared or
// loaded machine.
func BenchmarkMemoryBaseline(b *testing.B) {
	mem := make([]uint64, 4<<20/8)
	for i := range mem {
		mem[i] = uint64(i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	idx := make([]uint32, 1<<20)
	for i := range idx {
		idx[i] = uint32(rng.IntN(len(mem)))
	}
	runtime.GC()
	b.ReportAllocs()
	cpu := cpuTime()
	i, sum := 0, uint64(0)
	for b.Loop() {
		sum += mem[idx[i]]
		i = (i + 1) & (1<<20 - 1)
	}
	cpu = cpuTime() - cpu
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	if sum == 1 {
		b.Log(sum)
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, tc := range []struct {
		name          string
		prefixes, vpc int
	}{
		{"100k-prefixes-100-vpcs", 100000, 100},
		{"1k-prefixes-1-vpc", 1000, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			es, qv, qa := benchEntries(tc.prefixes, tc.vpc, 1<<20)
			s := build([]*Entries{{Addrs: es}})
			runtime.GC() // the build's garbage: no collector work in the loop
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			i, hits := 0, 0
			for b.Loop() {
				if s.Lookup(qv[i], qa[i]) != nil {
					hits++
				}
				i = (i + 1) & (1<<20 - 1)
			}
			cpu = cpuTime() - cpu
			b.ReportMetric(float64(hits)/float64(b.N), "hit/op")
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/(float64(cpu)/1e9)/1e6, "Mlookups/cpu-s")
		})
	}
}

func testingYield() { runtime.Gosched() }
