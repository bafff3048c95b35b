//go:build pcap && linux

package pcap_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

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

// BenchmarkSource_Veth sends one UDP datagram (106 bytes on the wire) per op
// (in sendmmsg batches of 64) across a veth pair while the libpcap source
// reads the receiving side; compare with capture's BenchmarkAFPacket_Veth.
func BenchmarkSource_Veth(b *testing.B) {
	testutil.RequireRoot(b)
	pair := netns.NewPairT(b, "mf-h2-pcap-", 42)
	dst := netip.AddrPortFrom(pair.AddrA, 31042)
	netns.UDPSink(b, pair.A, dst)
	var conn *net.UDPConn
	var src *pcap.Source
	if err := pair.B.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := pair.A.Do(func() (err error) {
		src, err = pcap.Open(pcap.Config{Interface: pair.IfA})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	pc := ipv4.NewPacketConn(conn)
	batch := make([]ipv4.Message, 64)
	for i := range batch {
		batch[i].Buffers = [][]byte{make([]byte, 64)}
	}
	var read atomic.Uint64
	cpu := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		start := threadCPU()
		var p capture.Packet
		for src.ReadPacket(&p) == nil {
			read.Add(1)
		}
		cpu <- threadCPU() - start
	}()
	queued := 0
	b.ReportAllocs()
	b.SetBytes(14 + 20 + 8 + 64)
	for b.Loop() {
		if queued++; queued == len(batch) {
			for sent := 0; sent < queued; {
				n, err := pc.WriteBatch(batch[sent:queued], 0)
				if err != nil {
					b.Fatal(err)
				}
				sent += n
			}
			queued = 0
		}
	}
	b.StopTimer()
	for last := uint64(1<<64 - 1); read.Load() != last; {
		last = read.Load()
		time.Sleep(200 * time.Millisecond)
	}
	st := src.Stats()
	src.Close()
	c := <-cpu
	b.ReportMetric(float64(st.Packets)/float64(b.N), "delivered/op")
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "drops/op")
	if st.Packets > 0 {
		b.ReportMetric(c.Seconds()*1e3/(float64(st.Packets)/1e6), "cpu-ms/Mpkt")
	}
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
