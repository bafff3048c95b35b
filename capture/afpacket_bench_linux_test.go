//go:build linux

package capture_test

import (
	"context"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// BenchmarkAFPacket_Veth sends one UDP datagram (106 bytes on the wire) per
// op (in sendmmsg batches of 64) across a veth pair while a capturer reads the receiving side: this
// package's AF_PACKET source (a packet a ReadPacket, or up to 32 a
// ReadPackets), or tcpdump -w /dev/null with a ring of the
// same size. Each reports the packets it delivered and the kernel dropped
// (drops/op is the fraction lost) and its CPU time per million packets.
func BenchmarkAFPacket_Veth(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireCommand(b, "ip")
	pair := netns.NewPairT(b, nsPrefix+"bench-", 41)
	dst := netip.AddrPortFrom(pair.AddrA, 31041)
	netns.UDPSink(b, pair.A, dst)
	sender := netns.NewUDPBatch(b, pair.B, dst)
	queued := 0
	send := func() {
		if queued++; queued == sender.Batch() {
			sender.Send(queued)
			queued = 0
		}
	}
	const wire = 14 + 20 + 8 + 64

	b.Run("afpacket", func(b *testing.B) { benchSource(b, pair, send, 0) })
	b.Run("afpacket-batch32", func(b *testing.B) { benchSource(b, pair, send, 32) })

	b.Run("tcpdump", func(b *testing.B) {
		testutil.RequireCommand(b, "tcpdump")
		cmd := pair.A.Command(context.Background(), "tcpdump", "-i", pair.IfA, "-n", "-B", "16384", "-w", "/dev/null")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer cmd.Process.Kill()
		time.Sleep(300 * time.Millisecond) // let it start listening
		b.ReportAllocs()
		b.SetBytes(wire)
		for b.Loop() {
			send()
		}
		b.StopTimer()
		time.Sleep(1100 * time.Millisecond) // libpcap's block timeout
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		captured, dropped := netns.TcpdumpCounts(stderr.String())
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		reportCapture(b, captured, dropped, time.Duration(ru.Utime.Nano()+ru.Stime.Nano()))
	})
}

// benchSource reads an AF_PACKET source on pair's A side while send sends
// one datagram per op: with ReadPacket, or with ReadPackets up to batch
// packets a call (batch > 0).
func benchSource(b *testing.B, pair *netns.Pair, send func(), batch int) {
	const wire = 14 + 20 + 8 + 64
	src := openIn(b, pair.A, capture.AFPacketConfig{Interface: pair.IfA})
	var read atomic.Uint64
	cpu := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		start := threadCPU()
		if batch > 0 {
			ps := make([]capture.Packet, batch)
			for {
				n, err := src.ReadPackets(ps)
				if err != nil {
					break
				}
				read.Add(uint64(n))
			}
		} else {
			var p capture.Packet
			for src.ReadPacket(&p) == nil {
				read.Add(1)
			}
		}
		cpu <- threadCPU() - start
	}()
	b.ReportAllocs()
	b.SetBytes(wire)
	for b.Loop() {
		send()
	}
	b.StopTimer()
	waitIdle(&read)
	st := src.Stats()
	b.Logf("stats %+v", st)
	src.Close()
	reportCapture(b, st.Packets, st.Dropped, <-cpu)
}

func reportCapture(b *testing.B, delivered, dropped uint64, cpu time.Duration) {
	b.ReportMetric(float64(delivered)/float64(b.N), "delivered/op")
	b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
	if delivered > 0 {
		b.ReportMetric(cpu.Seconds()*1e3/(float64(delivered)/1e6), "cpu-ms/Mpkt")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sent-pkt/s")
}

// waitIdle returns when the counter has stopped growing for 200 ms.
func waitIdle(n *atomic.Uint64) {
	for last := uint64(1<<64 - 1); ; {
		time.Sleep(200 * time.Millisecond)
		cur := n.Load()
		if cur == last {
			return
		}
		last = cur
	}
}

// threadCPU returns the user plus system CPU time of the calling thread.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
