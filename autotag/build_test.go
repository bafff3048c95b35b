package autotag

import "testing"

// BenchmarkBuild measures a snapshot build of 100,000 prefixes over 100
// VPCs, the cost of every update.
func BenchmarkBuild(b *testing.B) {
	es, _, _ := benchEntries(100000, 100, 10)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		build([]*Entries{{Addrs: es}})
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
