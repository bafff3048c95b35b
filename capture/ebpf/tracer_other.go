//go:build !linux || !(386 || amd64 || arm64)

package ebpf

import (
	"fmt"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/socket"
)

// Tracer is the eBPF socket tracer; it exists only on Linux on
// amd64, arm64 and 386, the architectures with compiled probes.
type Tracer struct{}

// New returns an error matching capture.ErrNotSupported: eBPF socket
// tracing needs Linux.
func New(cfg Config) (*Tracer, error) {
	return nil, fmt.Errorf("capture/ebpf: socket tracer: %w on this platform", capture.ErrNotSupported)
}

// ReadEvent returns capture.ErrNotSupported.
func (t *Tracer) ReadEvent(e *socket.Event) error { return capture.ErrNotSupported }

// Close does nothing.
func (t *Tracer) Close() error { return nil }

// Stats returns zero counters.
func (t *Tracer) Stats() socket.Stats { return socket.Stats{} }

// AddPids returns capture.ErrNotSupported.
func (t *Tracer) AddPids(pids ...uint32) error { return capture.ErrNotSupported }

// RawTracepoints reports false.
func (t *Tracer) RawTracepoints() bool { return false }
