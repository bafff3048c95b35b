//go:build !amd64 && !arm64

package aggregate

import "unsafe"

// prefetch is a no-op where the package has no assembly for it.
func prefetch(p unsafe.Pointer) {}
