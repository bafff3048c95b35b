//go:build linux

package capture_test

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"

	"github.com/metaflow-go/metaflow/capture"
	"github.com/metaflow-go/metaflow/capture/decode"
	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/internal/netns"
	"github.com/metaflow-go/metaflow/internal/testutil"
)

// flowKey is what a live capture and a replay of tcpdump's file must agree
// on for each flow: identity, packets and bytes per direction, and the TCP
// state and counters. (Times come from each capturer's own clock reading
// and may differ by microseconds.)
type flowKey struct {
	client, server     netip.AddrPort
	proto              uint8
	close              string
	pktTx, pktRx       uint64
	byteTx, byteRx     uint64
	l4Tx, l4Rx         uint64
	retransTx          uint32
	retransRx          uint32
	zeroTx, zeroRx     uint32
	syn, synack, fin   uint32
	srtCount, artCount uint32
}

// flowsOf runs packets through decode and the flow table and returns the
// records, sorted.
func flowsOf(t *testing.T, next func(*capture.Packet) bool) []flowKey {
	t.Helper()
	var out []flowKey
	tab := flow.NewTable(flow.Config{OnRecord: func(r *flow.Record) {
		out = append(out, flowKey{
			client: netip.AddrPortFrom(r.IP0, r.ClientPort), server: netip.AddrPortFrom(r.IP1, r.ServerPort),
			proto: r.Protocol, close: r.CloseType.String(),
			pktTx: r.PacketTx, pktRx: r.PacketRx, byteTx: r.ByteTx, byteRx: r.ByteRx, l4Tx: r.L4ByteTx, l4Rx: r.L4ByteRx,
			retransTx: r.RetransTx, retransRx: r.RetransRx, zeroTx: r.ZeroWinTx, zeroRx: r.ZeroWinRx,
			syn: r.SynCount, synack: r.SynAckCount, fin: r.FinCount, srtCount: r.SRTCount, artCount: r.ARTCount,
		})
	}})
	dec := decode.NewDecoder(decode.Config{})
	var p capture.Packet
	var m decode.Meta
	for next(&p) {
		if dec.Decode(&p, &m) == nil {
			tab.Packet(&m)
		}
	}
	tab.Flush()
	slices.SortFunc(out, func(a, b flowKey) int { return a.client.Compare(b.client) })
	return out
}

// TestAFPacketSource_FlowRecords captures real TCP traffic on a veth pair
// with the AF_PACKET source while tcpdump writes its own file of the same
// traffic, and checks that the flow records of the live capture equal those
// of replaying tcpdump's file.
func TestAFPacketSource_FlowRecords(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.RequireCommand(t, "tcpdump", "ip")
	pair := netns.NewPairT(t, nsPrefix, 33)
	cfg := capture.AFPacketConfig{Interface: pair.IfA}
	src := openIn(t, pair.A, cfg)
	col := collect(src)
	td := startTcpdump(t, pair.A, pair.IfA)
	tcpEcho(t, pair.A, pair.B, netip.AddrPortFrom(pair.AddrB, 31033), 6, 20, 5000)
	settle(cfg)
	if _, _, drops := td.stop(t); drops != 0 {
		t.Fatalf("tcpdump dropped %d packets", drops)
	}
	live := col.stop(t)

	i := 0
	got := flowsOf(t, func(p *capture.Packet) bool {
		if i == len(live) {
			return false
		}
		r := live[i]
		i++
		*p = capture.Packet{Timestamp: r.ts, Data: r.data, Length: r.length, LinkType: src.LinkType()}
		return true
	})

	file, err := capture.OpenFile(td.file)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	want := flowsOf(t, func(p *capture.Packet) bool {
		err := file.ReadPacket(p)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("replay tcpdump's file: %v", err)
		}
		return err == nil
	})

	if len(want) < 6 {
		t.Fatalf("replay of tcpdump's file gave %d flows, want at least the 6 connections", len(want))
	}
	// SRT and ART samples of 0 µs are not taken, and each capturer reads
	// its own clock: a reply within the microsecond of its request in one
	// capture may be a microsecond later in the other. The sample counts
	// may differ by that, the rest not at all.
	near := func(a, b uint32) bool { return max(a, b)-min(a, b) <= 1+max(a, b)/10 }
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = near(g.srtCount, w.srtCount) && near(g.artCount, w.artCount)
		g.srtCount, g.artCount = w.srtCount, w.artCount
		same = same && g == w
	}
	if !same {
		t.Errorf("live flow records differ from the replay of tcpdump's file\n live: %+v\nreplay: %+v", got, want)
	}
}
