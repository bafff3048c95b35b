//go:build !((pcap && (linux || darwin)) || windows)

package pcap

import (
	"fmt"

	"github.com/metaflow-go/metaflow/capture"
)

// Source is a live libpcap capture. In this build it cannot be opened.
type Source struct{}

var _ capture.Source = (*Source)(nil)

// Open returns an error matching capture.ErrNotSupported: this build has no
// libpcap support (build with -tags pcap on Linux or macOS).
func Open(cfg Config) (*Source, error) {
	return nil, fmt.Errorf("pcap: %w: built without libpcap (use -tags pcap)", capture.ErrNotSupported)
}

// LinkType returns 0.
func (s *Source) LinkType() capture.LinkType { return 0 }

// ReadPacket returns capture.ErrNotSupported.
func (s *Source) ReadPacket(p *capture.Packet) error { return capture.ErrNotSupported }

// Stats returns zero counters.
func (s *Source) Stats() capture.Stats { return capture.Stats{} }

// Close does nothing.
func (s *Source) Close() error { return nil }

// Live reports true: packets come from a network interface in real time
// (capture.LiveSource).
func (s *Source) Live() bool { return true }
