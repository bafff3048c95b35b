//go:build linux

package capture_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/filter"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// TestAFPacketSource_Filter attaches capture/filter's program for each
// expression in the kernel and checks the source selects exactly the
// packets tcpdump's libpcap-compiled filter selects on the same traffic.
func TestAFPacketSource_Filter(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "tcpdump", "ip")
	t.Parallel()
	pair := netns.NewPairT(t, nsPrefix, 29)
	type capt struct {
		iface, expr string
		tdArgs      []string
	}
	var caps []capt
	for _, expr := range []string{
		"tcp port 31051",
		"udp",
		"host 10.201.29.2 and not port 31151",
		"portrange 31050-31052 or udp port 31152",
		"src net 10.201.29.0/24 and tcp and not dst port 31051",
	} {
		caps = append(caps, capt{pair.IfA, expr, []string{expr}})
	}
	// All interfaces: the kernel filter then sees packets from the network
	// header on; tcpdump writes cooked v1 like the source.
	for _, expr := range []string{"tcp port 31051", "udp and dst host 10.201.29.1"} {
		caps = append(caps, capt{"any", expr, []string{"-y", "LINUX_SLL", expr}})
	}
	cols := make([]*collector, len(caps))
	tds := make([]*tcpdump, len(caps))
	for i, c := range caps {
		src := openIn(t, pair.A, capture.AFPacketConfig{Interface: c.iface, Filter: c.expr, FilterCompiler: filter.Compile})
		cols[i] = collect(src)
		tds[i] = startTcpdump(t, pair.A, c.iface, c.tdArgs...)
	}
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31051), 1, 10, 300)
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31151), 1, 10, 300)
	udpSink(t, pair.B, netip.AddrPortFrom(pair.AddrB, 31152))
	udpBlast(t, pair.A, netip.AddrPortFrom(pair.AddrB, 31152), 30, 50, 0, 0)
	udpSink(t, pair.A, netip.AddrPortFrom(pair.AddrA, 31153))
	udpBlast(t, pair.B, netip.AddrPortFrom(pair.AddrA, 31153), 30, 80, 0, 0)
	settle(capture.AFPacketConfig{})
	time.Sleep(time.Second) // libpcap's block timeout, once for all tcpdumps
	for i, c := range caps {
		want, _, _ := tds[i].stopNow(t)
		got := cols[i].stop(t)
		if len(want) == 0 {
			t.Errorf("%s %q: tcpdump selected nothing", c.iface, c.expr)
		}
		compareRecs(t, c.iface+" "+c.expr, got, want)
	}
}
