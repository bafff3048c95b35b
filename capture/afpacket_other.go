//go:build !linux

package capture

import (
	"fmt"
	"time"
)

// AFPacketSource captures live packets from a Linux AF_PACKET socket. On
// this platform it cannot be opened: OpenAFPacket returns an error matching
// ErrNotSupported.
type AFPacketSource struct{}

var (
	_ DeadlineSource = (*AFPacketSource)(nil)
	_ BatchSource    = (*AFPacketSource)(nil)
)

// OpenAFPacket returns an error matching ErrNotSupported: AF_PACKET exists
// only on Linux. Use capture/pcap (libpcap or Npcap) elsewhere.
func OpenAFPacket(cfg AFPacketConfig) (*AFPacketSource, error) {
	return nil, fmt.Errorf("capture: AF_PACKET capture: %w on this platform", ErrNotSupported)
}

// OpenAFPacketFanout returns an error matching ErrNotSupported: AF_PACKET
// exists only on Linux.
func OpenAFPacketFanout(cfg AFPacketConfig, n int) ([]*AFPacketSource, error) {
	return nil, fmt.Errorf("capture: AF_PACKET capture: %w on this platform", ErrNotSupported)
}

// LinkType returns 0: no packets are ever delivered.
func (s *AFPacketSource) LinkType() LinkType { return 0 }

// Snaplen returns 0: no packets are ever delivered.
func (s *AFPacketSource) Snaplen() int { return 0 }

// ReadPacket returns ErrNotSupported.
func (s *AFPacketSource) ReadPacket(p *Packet) error { return ErrNotSupported }

// ReadPackets returns ErrNotSupported.
func (s *AFPacketSource) ReadPackets(ps []Packet) (int, error) { return 0, ErrNotSupported }

// Stats returns zero counters.
func (s *AFPacketSource) Stats() Stats { return Stats{} }

// Close does nothing.
func (s *AFPacketSource) Close() error { return nil }

// Live reports true: packets come from a network interface in real time
// (capture.LiveSource).
func (s *AFPacketSource) Live() bool { return true }

// SetReadDeadline returns ErrNotSupported.
func (s *AFPacketSource) SetReadDeadline(t time.Time) error { return ErrNotSupported }
