//go:build !amd64 && !arm64

package flow

// prefetch does nothing on this architecture.
func prefetch(addr uintptr) {}
