//go:build !linux || !(386 || amd64 || arm64)

package ebpf

import (
	"fmt"
	"log/slog"

	"github.com/metaflow-go/metaflow/capture"
)

// TLS holds the TLS plaintext probes; they exist only on Linux on
// amd64, arm64 and 386, the architectures with compiled probes.
type TLS struct{}

// NewTLS returns an error matching capture.ErrNotSupported: the TLS probes
// need Linux.
func NewTLS(t *Tracer, cfg TLSConfig, log *slog.Logger) (*TLS, error) {
	return nil, fmt.Errorf("capture/ebpf: TLS probes: %w on this platform", capture.ErrNotSupported)
}

// Close does nothing.
func (x *TLS) Close() error { return nil }

// Stats returns zero counters.
func (x *TLS) Stats() TLSStats { return TLSStats{} }

// Rescan does nothing.
func (x *TLS) Rescan() {}

// TLSStats returns zero counters.
func (t *Tracer) TLSStats() TLSStats { return TLSStats{} }
