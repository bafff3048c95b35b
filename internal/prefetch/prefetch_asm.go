//go:build amd64 || arm64

package prefetch

// Line asks the CPU to bring the cache line holding addr into its caches,
// without waiting for it (PREFETCHT0, PRFM PLDL1KEEP). It never faults.
//
//go:noescape
func Line(addr uintptr)
