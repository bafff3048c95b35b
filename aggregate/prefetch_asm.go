//go:build amd64 || arm64

package aggregate

import "unsafe"

// prefetch asks the CPU to load the cache line at p; it never faults.
//
//go:noescape
func prefetch(p unsafe.Pointer)
