package procfs

import (
	"runtime"
	"testing"
)

// BenchmarkScan scans this machine's /proc: every process, its cgroup,
// file descriptors and the socket tables of every network namespace.
func BenchmarkScan(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("needs Linux /proc")
	}
	src := New(Config{})
	b.ReportAllocs()
	var procs, socks int
	for b.Loop() {
		e, err := src.Scan()
		if err != nil {
			b.Fatal(err)
		}
		procs, socks = len(e.Processes), len(e.Sockets)
	}
	b.ReportMetric(float64(procs), "processes")
	b.ReportMetric(float64(socks), "sockets")
}
