//go:build (pcap && (linux || darwin)) || windows

package pcap

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket/layers"
	gopcap "github.com/google/gopacket/pcap"

	"github.com/metaflow-go/metaflow/capture"
)

// Source is a live libpcap or Npcap capture.
type Source struct {
	h      *gopcap.Handle
	link   capture.LinkType
	closed atomic.Bool

	packets, bytes, truncated atomic.Uint64

	statsMu sync.Mutex // serialises pcap_stats with Close
	last    capture.Stats
}

var _ capture.Source = (*Source)(nil)

// linkSLL2Low is LINKTYPE_LINUX_SLL2 as gopacket reports it (modulo 256).
const linkSLL2Low = 276 & 0xff

// Open starts a capture on cfg.Interface.
func Open(cfg Config) (*Source, error) {
	if cfg.Interface == "" {
		return nil, errors.New("pcap: no interface given")
	}
	if cfg.Snaplen == 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BufferSize == 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	switch {
	case cfg.Snaplen < 1 || cfg.Snaplen > DefaultSnaplen:
		return nil, fmt.Errorf("pcap: Snaplen %d outside 1..%d", cfg.Snaplen, DefaultSnaplen)
	case cfg.Timeout < time.Millisecond || cfg.Timeout > 10*time.Second:
		return nil, fmt.Errorf("pcap: Timeout %v outside 1ms..10s", cfg.Timeout)
	case cfg.BufferSize < 0 || cfg.BufferSize > MaxBufferSize:
		return nil, fmt.Errorf("pcap: BufferSize %d outside 0..%d", cfg.BufferSize, MaxBufferSize)
	}
	ih, err := gopcap.NewInactiveHandle(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w: %v", capture.ErrNotSupported, err)
	}
	defer ih.CleanUp()
	for _, set := range []error{
		ih.SetSnapLen(cfg.Snaplen),
		ih.SetPromisc(cfg.Promiscuous),
		ih.SetTimeout(cfg.Timeout),
		ih.SetBufferSize(cfg.BufferSize),
		ih.SetImmediateMode(cfg.Immediate),
	} {
		if set != nil {
			return nil, fmt.Errorf("pcap: configure %q: %w", cfg.Interface, set)
		}
	}
	h, err := ih.Activate()
	if err != nil {
		msg := err.Error()
		if strings.Contains(strings.ToLower(msg), "permission") {
			return nil, fmt.Errorf("pcap: open %q: %w: needs CAP_NET_RAW (administrator on Windows): %v", cfg.Interface, capture.ErrPermission, err)
		}
		return nil, fmt.Errorf("pcap: open %q: %v", cfg.Interface, err)
	}
	s := &Source{h: h, link: capture.LinkType(h.LinkType())}
	if s.link == linkSLL2Low {
		// "any" on Linux defaults to cooked v2, whose number does not fit
		// gopacket's 8-bit link type; ask for cooked v1.
		if err := h.SetLinkType(layers.LinkTypeLinuxSLL); err != nil {
			h.Close()
			return nil, fmt.Errorf("pcap: select LINUX_SLL on %q: %w", cfg.Interface, err)
		}
		s.link = capture.LinkLinuxSLL
	}
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("pcap: filter %q: %w", cfg.Filter, err)
		}
	}
	return s, nil
}

// LinkType returns the link type of the packets this source delivers.
func (s *Source) LinkType() capture.LinkType { return s.link }

// ReadPacket blocks until a packet arrives and fills p with it. Data is
// valid until the next ReadPacket or Close. It returns capture.ErrClosed
// after Close.
func (s *Source) ReadPacket(p *capture.Packet) error {
	for {
		if s.closed.Load() {
			return capture.ErrClosed
		}
		data, ci, err := s.h.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			p.Timestamp = ci.Timestamp
			p.Data = data
			p.Length = ci.Length
			p.LinkType = s.link
			p.Interface = 0
			s.packets.Add(1)
			s.bytes.Add(uint64(len(data)))
			if len(data) < ci.Length {
				s.truncated.Add(1)
			}
			return nil
		case err == gopcap.NextErrorTimeoutExpired:
			continue
		case err == io.EOF || s.closed.Load():
			return capture.ErrClosed
		default:
			return fmt.Errorf("pcap: read: %w", err)
		}
	}
}

// Stats returns the counters since Open; Dropped and IfDropped come from
// pcap_stats.
func (s *Source) Stats() capture.Stats {
	s.statsMu.Lock()
	if !s.closed.Load() {
		s.pollLocked()
	}
	st := s.last
	s.statsMu.Unlock()
	st.Packets = s.packets.Load()
	st.Bytes = s.bytes.Load()
	st.Truncated = s.truncated.Load()
	return st
}

func (s *Source) pollLocked() {
	if ps, err := s.h.Stats(); err == nil {
		s.last.Dropped = uint64(ps.PacketsDropped)
		s.last.IfDropped = uint64(ps.PacketsIfDropped)
	}
}

// Close stops the capture. A ReadPacket blocked in another goroutine
// returns capture.ErrClosed within Config.Timeout. Close is idempotent.
func (s *Source) Close() error {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	s.pollLocked()
	s.h.Close()
	return nil
}

// Live reports true: packets come from a network interface in real time
// (capture.LiveSource).
func (s *Source) Live() bool { return true }
