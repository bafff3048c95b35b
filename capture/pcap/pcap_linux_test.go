//go:build pcap && linux

package pcap_test

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/pcap"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

type collector struct {
	mu   sync.Mutex
	pkts [][]byte
	err  error
	done chan struct{}
}

func collect(src capture.Source) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var p capture.Packet
		for {
			if err := src.ReadPacket(&p); err != nil {
				c.err = err
				return
			}
			c.mu.Lock()
			c.pkts = append(c.pkts, bytes.Clone(p.Data))
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) stop(t *testing.T, src capture.Source, within time.Duration) [][]byte {
	t.Helper()
	start := time.Now()
	src.Close()
	select {
	case <-c.done:
	case <-time.After(within):
		t.Fatalf("reader still blocked %v after Close", within)
	}
	t.Logf("reader returned %v after Close", time.Since(start))
	if !errors.Is(c.err, capture.ErrClosed) {
		t.Errorf("reader ended with %v, want ErrClosed", c.err)
	}
	return c.pkts
}

// TestSource_MatchesAFPacket captures the same traffic with libpcap and
// with the AF_PACKET source (itself checked against tcpdump) and compares.
func TestSource_MatchesAFPacket(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, "mf-h2-pcap-", 31)
	var ps *pcap.Source
	var as *capture.AFPacketSource
	if err := pair.A.Do(func() (err error) {
		if ps, err = pcap.Open(pcap.Config{Interface: pair.IfA, Filter: "tcp port 31031"}); err != nil {
			return err
		}
		as, err = capture.OpenAFPacket(capture.AFPacketConfig{Interface: pair.IfA})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ps.LinkType() != capture.LinkEthernet {
		t.Errorf("LinkType = %v", ps.LinkType())
	}
	pc, ac := collect(ps), collect(as)
	netns.TCPEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31031), 2, 30, 1500)
	netns.UDPSink(t, pair.B, netip.AddrPortFrom(pair.AddrB, 31131))
	netns.UDPBlast(t, pair.A, netip.AddrPortFrom(pair.AddrB, 31131), 20, 100, 0, 0) // filtered out by libpcap
	time.Sleep(300 * time.Millisecond)
	st := ps.Stats()
	got := pc.stop(t, ps, 200*time.Millisecond)
	all := ac.stop(t, as, time.Second)
	var want [][]byte
	for _, p := range all {
		if len(p) > 14+20 && p[23] == 6 { // IPv4 TCP: the only TCP on the link is port 31031
			want = append(want, p)
		}
	}
	t.Logf("libpcap %d packets (stats %+v); AF_PACKET %d of which %d TCP", len(got), st, len(all), len(want))
	if len(got) != len(want) || len(want) < 120 {
		t.Fatalf("libpcap saw %d, AF_PACKET %d TCP packets", len(got), len(want))
	}
	seen := map[string]int{}
	for _, p := range want {
		seen[string(p)]++
	}
	for i, p := range got {
		if seen[string(p)] == 0 {
			t.Fatalf("libpcap packet %d not seen by AF_PACKET: % x", i, p[:min(len(p), 48)])
		}
		seen[string(p)]--
	}
	if st.Packets != uint64(len(got)) || st.Dropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestSource_ReadPacketAllocs(t *testing.T) {
	testutil.RequireRoot(t)
	pair := netns.NewPairT(t, "mf-h2-pcap-", 32)
	var ps *pcap.Source
	if err := pair.A.Do(func() (err error) {
		ps, err = pcap.Open(pcap.Config{Interface: pair.IfA})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	dst := netip.AddrPortFrom(pair.AddrA, 31032)
	netns.UDPSink(t, pair.A, dst)
	netns.UDPBlast(t, pair.B, dst, 1500, 64, 250, time.Millisecond)
	var p capture.Packet
	if err := ps.ReadPacket(&p); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(1000, func() {
		if err := ps.ReadPacket(&p); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("ReadPacket allocates %v times per packet", a)
	}
}
