//go:build !linux || !(386 || amd64 || arm64)

package ebpf

import (
	"fmt"
	"log/slog"

	"github.com/metaflow-go/metaflow/capture"
)

// Goroutines holds the goroutine tracking probes; they exist only on Linux on
// amd64, arm64 and 386, the architectures with compiled probes.
type Goroutines struct{}

// NewGoroutines returns an error matching capture.ErrNotSupported: the
// goroutine probes need Linux.
func NewGoroutines(t *Tracer, cfg GoroutineConfig, log *slog.Logger) (*Goroutines, error) {
	return nil, fmt.Errorf("capture/ebpf: goroutine probes: %w on this platform", capture.ErrNotSupported)
}

// Close does nothing.
func (x *Goroutines) Close() error { return nil }

// Stats returns zero counters.
func (x *Goroutines) Stats() GoroutineStats { return GoroutineStats{} }

// Rescan does nothing.
func (x *Goroutines) Rescan() {}

// GoroutineStats returns zero counters.
func (t *Tracer) GoroutineStats() GoroutineStats { return GoroutineStats{} }
